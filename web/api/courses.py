"""Courses: their title, task, study items, audience and trainers. Everyone sees the courses
open to them; managers and admins create courses and set what they serve, who they are for and
who teaches them (audited)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from classroom.audit import audit
from classroom.compliance import NoPlan
from classroom.courseware import courses_open_to
from classroom.db.models import (
    Course,
    CourseAudience,
    CourseTrainer,
    Person,
    Role,
    SessionKind,
    Unit,
)
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


async def _check_units(db: DB, unit_ids: list[int]) -> None:
    found = set(await db.scalars(select(Unit.id).where(Unit.id.in_(unit_ids))))
    if missing := sorted(set(unit_ids) - found):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no such unit: {missing}")


async def _check_trainers(db: DB, person_ids: list[int]) -> None:
    people = {p.id: p for p in await db.scalars(select(Person).where(Person.id.in_(person_ids)))}
    bad = sorted(
        i for i in set(person_ids) if i not in people or not people[i].has_role(Role.TRAINER)
    )
    if bad:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"not a trainer: {bad}")


async def _set_people(db: DB, course: Course, body: CourseIn | CoursePatch) -> None:
    if body.audience_unit_ids is not None:
        await _check_units(db, body.audience_unit_ids)
        units = sorted(set(body.audience_unit_ids))
        course.audience_rows = [CourseAudience(unit_id=u) for u in units]
    if body.trainer_ids is not None:
        await _check_trainers(db, body.trainer_ids)
        course.trainer_rows = [CourseTrainer(person_id=p) for p in sorted(set(body.trainer_ids))]


def check_study_items(request: Request, items: list[int]) -> list[int]:
    """Items of the study list in some year's plan on file, each once, in order."""
    known: set[int] = set()
    plans = services(request).plans
    for year in plans.years():
        with contextlib.suppress(NoPlan):
            known |= {i.no for i in plans.get(year).study_items}
    if unknown := sorted(set(items) - known):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "unknown_study_items", "message": f"not in any plan's study list: {unknown}"},
        )
    return sorted(set(items))


def _described(course: Course) -> dict[str, Any]:
    return CourseOut.model_validate(course).model_dump(exclude={"id"})


@router.get("", response_model=list[CourseOut])
async def list_courses(db: DB, person: CurrentPerson) -> list[Course]:
    """Staff see every course; an officer the courses open to them."""
    q = select(Course).order_by(Course.code)
    if not person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        q = q.where(Course.id.in_(courses_open_to(person)))
    return list(await db.scalars(q))


@router.post("", response_model=CourseOut, status_code=status.HTTP_201_CREATED)
async def create_course(body: CourseIn, request: Request, db: DB, person: ManagerOrAdmin) -> Course:
    course = Course(
        code=body.code,
        title=body.title,
        description=body.description,
        kind=body.kind,
        study_items=check_study_items(request, body.study_items),
    )
    await _set_people(db, course, body)
    db.add(course)
    try:
        await db.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a course with the code {body.code} exists"
        ) from None
    await audit(db, person, "course.create", f"course:{course.id}", **_described(course))
    await db.commit()
    return await _course_or_404(db, course.id)


@router.patch("/{course_id}", response_model=CourseOut)
async def update_course(
    course_id: Id, body: CoursePatch, request: Request, db: DB, person: ManagerOrAdmin
) -> Course:
    """Title, description, task, study items, audience units (empty: the whole bureau) and
    trainers; what is left out stays as it was (``kind`` given as null: any task)."""
    course = await _course_or_404(db, course_id)
    before = _described(course)
    if body.title is not None:
        course.title = body.title
    if body.description is not None:
        course.description = body.description
    if "kind" in body.model_fields_set:
        course.kind = body.kind
    if body.study_items is not None:
        course.study_items = check_study_items(request, body.study_items)
    await _set_people(db, course, body)
    await db.flush()
    await audit(
        db, person, "course.update", f"course:{course.id}", before=before, after=_described(course)
    )
    await db.commit()
    return course
