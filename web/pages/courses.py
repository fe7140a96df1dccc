"""Courses for the training office: the list, and a course's record (title, the plan's task it
serves, the study items it covers, who it is for, who teaches it). The form goes through the
API's own rules; a refusal is shown beside the field, with what was typed kept."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from classroom.compliance import NoPlan
from classroom.db.models import Course, Person, PersonRole, Role, SessionKind, Unit
from classroom.plan.schema import Plan
from web.api.courses import CourseIn, CoursePatch, create_course, update_course
from web.deps import DB, ManagerOrAdmin, Staff, services
from web.pages.common import render
from web.schemas import Id

router = APIRouter(include_in_schema=False)


def _plan(request: Request) -> Plan | None:
    plans = services(request).plans
    year = plans.default_year(date.today())
    if year is None:
        return None
    with contextlib.suppress(NoPlan):
        return plans.get(year)
    return None


@router.get("/courses", response_class=HTMLResponse)
async def courses_page(request: Request, db: DB, person: Staff) -> HTMLResponse:
    plan = _plan(request)
    units = {u.id: u.name for u in await db.scalars(select(Unit))}
    people = {p.id: p.display_name for p in await db.scalars(select(Person))}
    return render(
        request,
        "courses.html",
        person,
        courses=list(await db.scalars(select(Course).order_by(Course.code))),
        units=units,
        people=people,
        tasks={t.session_kind: t.name for t in plan.tasks} if plan else {},
    )


async def _course_page(
    request: Request,
    db: DB,
    person: Person,
    course: Course | None,
    form: dict[str, Any],
    error: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    plan = _plan(request)
    trainers = await db.scalars(
        select(Person)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == Role.TRAINER, Person.active.is_(True))
        .order_by(Person.display_name)
    )
    return render(
        request,
        "course_edit.html",
        person,
        status_code=status_code,
        course=course,
        form=form,
        error=error or {},
        kinds=list(SessionKind),
        tasks={t.session_kind: t.name for t in plan.tasks} if plan else {},
        items=plan.study_items if plan else [],
        units=list(await db.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.name))),
        trainers=list(trainers),
    )


def _form_of(c: Course | None) -> dict[str, Any]:
    if c is None:
        return {"kind": "", "study_items": [], "audience_unit_ids": [], "trainer_ids": []}
    return {
        "code": c.code,
        "title": c.title,
        "description": c.description,
        "kind": c.kind.value if c.kind else "",
        "study_items": c.study_items,
        "audience_unit_ids": c.audience_unit_ids,
        "trainer_ids": c.trainer_ids,
    }


@router.get("/courses/new", response_class=HTMLResponse)
async def new_course_page(request: Request, db: DB, person: ManagerOrAdmin) -> HTMLResponse:
    return await _course_page(request, db, person, None, _form_of(None))


@router.get("/courses/{course_id}/edit", response_class=HTMLResponse)
async def edit_course_page(
    course_id: Id, request: Request, db: DB, person: ManagerOrAdmin
) -> HTMLResponse:
    course = await db.get(Course, course_id)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} not found")
    return await _course_page(request, db, person, course, _form_of(course))


def _field_of(exc: HTTPException) -> str:
    """The form's field a refusal of the API is about, to show it beside."""
    said = str(exc.detail)
    if exc.status_code == 409:
        return "code"
    if "unknown_study_items" in said:
        return "study_items"
    if "trainer" in said:
        return "trainer_ids"
    if "unit" in said:
        return "audience_unit_ids"
    return "title"


def _ids(values: list[str] | None) -> list[int]:
    return [int(v) for v in values or [] if v.isdigit()]


@router.post("/courses/save", response_model=None)
async def course_form(
    request: Request,
    db: DB,
    person: ManagerOrAdmin,
    title: Annotated[str, Form(max_length=200)],
    course_id: Annotated[str, Form(max_length=12)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    study_items: Annotated[list[str] | None, Form()] = None,
    audience: Annotated[list[str] | None, Form()] = None,
    trainers: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Add a course (no ``course_id``) or change one."""
    course = await db.get(Course, int(course_id)) if course_id.isdigit() else None
    if course_id and course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} not found")
    fields: dict[str, Any] = {
        "title": title.strip(),
        "description": description,
        "kind": kind or None,
        "study_items": _ids(study_items),
        "audience_unit_ids": _ids(audience),
        "trainer_ids": _ids(trainers),
    }
    form = {**fields, "code": code, "kind": kind}
    try:
        if course is None:
            saved = await create_course(CourseIn(code=code.strip(), **fields), request, db, person)
        else:
            saved = await update_course(course.id, CoursePatch(**fields), request, db, person)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "title"
        return await _course_page(
            request, db, person, course, form, {field: "course.error.field"}, 422
        )
    except HTTPException as exc:
        await db.rollback()
        await db.refresh(person)
        field = _field_of(exc)
        key = {"code": "course.error.code_taken"}.get(field, "course.error.field")
        return await _course_page(request, db, person, course, form, {field: key}, exc.status_code)
    return RedirectResponse(f"/courses/{saved.id}/edit?saved=1", status_code=303)
