"""Courses: their title, task, study items, audience and trainers. Everyone sees the courses
open to them; managers and admins create courses and set what they serve, who they are for and
who teaches them (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from classroom.courses import CourseFields, known_study_items, save_course
from classroom.courseware import courses_open_to
from classroom.db.models import Course, Person, Role, SessionKind
from classroom.organisation import OrgError
from web.deps import DB, CurrentPerson, ManagerOrAdmin, services
from web.schemas import Id, Strict

router = APIRouter(prefix="/courses", tags=["courses"])


class CourseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title: str
    description: str
    # Empty: open to the whole bureau.
    audience_unit_ids: list[int]
    trainer_ids: list[int]
    kind: SessionKind | None  # the plan's task it serves; None: any
    study_items: list[int]


StudyItems = Annotated[list[Annotated[int, Field(ge=1, le=10_000)]], Field(max_length=200)]


class CourseIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    audience_unit_ids: list[Id] = Field(default_factory=list, max_length=1000)
    trainer_ids: list[Id] = Field(default_factory=list, max_length=1000)
    kind: SessionKind | None = None
    study_items: StudyItems = Field(default_factory=list)


class CoursePatch(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    audience_unit_ids: list[Id] | None = Field(default=None, max_length=1000)
    trainer_ids: list[Id] | None = Field(default=None, max_length=1000)
    kind: SessionKind | None = None
    study_items: StudyItems | None = None


async def _course_or_404(db: DB, course_id: Id) -> Course:
    course = await db.get(Course, course_id)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} not found")
    return course


async def _save(
    request: Request, db: DB, actor: Person, course: Course | None, body: CourseIn | CoursePatch
) -> Course:
    """What is left out of the body stays as it is (``kind`` given as null: any task)."""
    fields = CourseFields(**body.model_dump(exclude_unset=True))
    try:
        saved = await save_course(
            db, actor, course, fields, known_study_items(services(request).plans)
        )
    except OrgError as exc:
        await db.rollback()
        raise HTTPException(exc.status, {"code": exc.code, "message": str(exc)}) from None
    await db.commit()
    return await _course_or_404(db, saved.id)


@router.get("", response_model=list[CourseOut])
async def list_courses(db: DB, person: CurrentPerson) -> list[Course]:
    """Staff see every course; an officer the courses open to them."""
    q = select(Course).order_by(Course.code)
    if not person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        q = q.where(Course.id.in_(courses_open_to(person)))
    return list(await db.scalars(q))


@router.post("", response_model=CourseOut, status_code=status.HTTP_201_CREATED)
async def create_course(body: CourseIn, request: Request, db: DB, person: ManagerOrAdmin) -> Course:
    return await _save(request, db, person, None, body)


@router.patch("/{course_id}", response_model=CourseOut)
async def update_course(
    course_id: Id, body: CoursePatch, request: Request, db: DB, person: ManagerOrAdmin
) -> Course:
    """Title, description, task, study items, audience units (empty: the whole bureau) and
    trainers; what is left out stays as it was (``kind`` given as null: any task)."""
    return await _save(request, db, person, await _course_or_404(db, course_id), body)
