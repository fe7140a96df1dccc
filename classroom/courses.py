"""Courses as the training office keeps them: code, title, the plan's task its sessions serve
(by their kind), the study-list items it covers, the units it is for (none: the whole bureau)
and who teaches it. Changed only by managers and admins, through the API, the pages or the CLI;
every change audited with its before and after."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.compliance import NoPlan, PlanBook
from classroom.db.models import (
    Course,
    CourseAudience,
    CourseTrainer,
    Person,
    Role,
    SessionKind,
    Unit,
)
from classroom.organisation import OrgError

_UNSET: Any = object()


@dataclass(frozen=True)
class CourseFields:
    """What to set; None leaves a field as it is (``kind``: ``_UNSET`` leaves it, None makes
    the course serve any task)."""

    code: str | None = None
    title: str | None = None
    description: str | None = None
    kind: SessionKind | None = _UNSET
    study_items: list[int] | None = None
    audience_unit_ids: list[int] | None = None
    trainer_ids: list[int] | None = None


def course_json(c: Course) -> dict[str, Any]:
    return {
        "code": c.code,
        "title": c.title,
        "description": c.description,
        "kind": c.kind.value if c.kind else None,
        "study_items": list(c.study_items),
        "audience_unit_ids": c.audience_unit_ids,
        "trainer_ids": c.trainer_ids,
    }


def known_study_items(plans: PlanBook) -> set[int]:
    """The study-list items of every year's plan on file."""
    known: set[int] = set()
    for year in plans.years():
        with contextlib.suppress(NoPlan):
            known |= {i.no for i in plans.get(year).study_items}
    return known


async def _check_people(db: AsyncSession, f: CourseFields) -> None:
    if f.audience_unit_ids:
        found = set(await db.scalars(select(Unit.id).where(Unit.id.in_(f.audience_unit_ids))))
        if missing := sorted(set(f.audience_unit_ids) - found):
            raise OrgError(422, "no_such_unit", f"no such unit: {missing}")
    if f.trainer_ids:
        people = {
            p.id: p for p in await db.scalars(select(Person).where(Person.id.in_(f.trainer_ids)))
        }
        bad = sorted(
            i for i in set(f.trainer_ids) if i not in people or not people[i].has_role(Role.TRAINER)
        )
        if bad:
            raise OrgError(422, "not_a_trainer", f"not a trainer: {bad}")


async def save_course(
    db: AsyncSession, actor: Person, course: Course | None, f: CourseFields, known: set[int]
) -> Course:
    """Create (``course`` None) or change a course; ``known``: the study items a plan names."""
    before = course_json(course) if course is not None else None
    if f.study_items is not None and (unknown := sorted(set(f.study_items) - known)):
        raise OrgError(422, "unknown_study_items", f"not in any plan's study list: {unknown}")
    await _check_people(db, f)
    if course is None:
        if not f.code or not f.title:
            raise OrgError(422, "course_incomplete", "a new course needs a code and a title")
        course = Course(
            code=f.code,
            title=f.title,
            description="",
            study_items=[],
            audience_rows=[],
            trainer_rows=[],
        )
        db.add(course)
    if f.title is not None:
        course.title = f.title
    if f.description is not None:
        course.description = f.description
    if f.kind is not _UNSET:
        course.kind = f.kind
    if f.study_items is not None:
        course.study_items = sorted(set(f.study_items))
    if f.audience_unit_ids is not None:
        course.audience_rows = [CourseAudience(unit_id=u) for u in sorted(set(f.audience_unit_ids))]
    if f.trainer_ids is not None:
        course.trainer_rows = [CourseTrainer(person_id=p) for p in sorted(set(f.trainer_ids))]
    try:
        await db.flush()
    except IntegrityError:
        raise OrgError(
            409, "course_exists", f"a course with the code {course.code} exists"
        ) from None
    if before is None:
        await audit(db, actor, "course.create", f"course:{course.id}", **course_json(course))
    else:
        await audit(
            db,
            actor,
            "course.update",
            f"course:{course.id}",
            before=before,
            after=course_json(course),
        )
    return course
