"""Cohorts (期) of the all-staff training: their dates and their officers, assigned by unit in
bulk or one by one, kept by the training office; the ledger says whether each was held and who
has days to make up (classroom/ledger/compute.py, CohortStatus)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from classroom.audit import audit
from classroom.compliance import bureau_year, cohort_rows, default_as_of
from classroom.db.models import Cohort, CohortMember, Person, PersonRole, Role, SessionKind
from web.api.compliance import plan_for
from web.deps import DB, ManagerOrAdmin, services
from web.schemas import Id, PlanYear, Strict

router = APIRouter(prefix="/cohorts", tags=["cohorts"])


class CohortIn(Strict):
    year: PlanYear
    number: int = Field(ge=1, le=100)
    name: str = Field(default="", max_length=100)
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _dates(self) -> CohortIn:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if self.starts_on.year != self.year or self.ends_on.year != self.year:
            raise ValueError(f"a {self.year} cohort's dates are in {self.year}")
        return self


class MembersIn(Strict):
    """Officers to assign: every active officer of ``unit_ids``, and ``person_ids``."""

    unit_ids: list[Id] = Field(default_factory=list, max_length=1000)
    person_ids: list[Id] = Field(default_factory=list, max_length=20_000)
    remove_person_ids: list[Id] = Field(default_factory=list, max_length=20_000)


class CohortOut(BaseModel):
    id: int
    year: int
    number: int
    name: str
    starts_on: date
    ends_on: date
    member_ids: list[int]


async def _out(db: DB, cohort: Cohort) -> CohortOut:
    members = await db.scalars(
        select(CohortMember.person_id)
        .where(CohortMember.cohort_id == cohort.id)
        .order_by(CohortMember.person_id)
    )
    return CohortOut(
        id=cohort.id,
        year=cohort.year,
        number=cohort.number,
        name=cohort.name,
        starts_on=cohort.starts_on,
        ends_on=cohort.ends_on,
        member_ids=list(members),
    )


def _task_id(request: Request, year: int) -> str:
    task = plan_for(request, year).task_for(SessionKind.TRAINING_DAY)
    if task is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the {year} plan has no all-staff training task"
        )
    return task.id


@router.post("", response_model=CohortOut, status_code=status.HTTP_201_CREATED)
async def create_cohort(
    body: CohortIn, request: Request, db: DB, actor: ManagerOrAdmin
) -> CohortOut:
    cohort = Cohort(task=_task_id(request, body.year), **body.model_dump())
    db.add(cohort)
    try:
        await db.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "cohort_exists", "message": f"cohort {body.number} of {body.year} exists"},
        ) from None
    await audit(db, actor, "cohort.create", f"cohort:{cohort.id}", **body.model_dump(mode="json"))
    await db.commit()
    return await _out(db, cohort)


@router.post("/{cohort_id}/members", response_model=CohortOut)
async def assign(cohort_id: Id, body: MembersIn, db: DB, actor: ManagerOrAdmin) -> CohortOut:
    """Assign officers by unit in bulk or one by one (and take some off); an officer already in
    another cohort of the year stays there too — a make-up day is attended in a second one."""
    cohort = await db.get(Cohort, cohort_id)
    if cohort is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"cohort {cohort_id} not found")
    officers = select(Person.id).join(PersonRole, PersonRole.person_id == Person.id)
    officers = officers.where(PersonRole.role == Role.OFFICER, Person.active.is_(True))
    wanted: set[int] = set()
    if body.unit_ids:
        wanted |= set(await db.scalars(officers.where(Person.unit_id.in_(body.unit_ids))))
    if body.person_ids:
        found = set(await db.scalars(officers.where(Person.id.in_(body.person_ids))))
        if missing := sorted(set(body.person_ids) - found):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"not an active officer: {missing}"
            )
        wanted |= found
    have = set(
        await db.scalars(select(CohortMember.person_id).where(CohortMember.cohort_id == cohort.id))
    )
    added = sorted(wanted - have)
    db.add_all(CohortMember(cohort_id=cohort.id, person_id=p) for p in added)
    removed = sorted(set(body.remove_person_ids) & have)
    if removed:
        await db.execute(
            delete(CohortMember).where(
                CohortMember.cohort_id == cohort.id, CohortMember.person_id.in_(removed)
            )
        )
    await db.flush()
    await audit(db, actor, "cohort.assign", f"cohort:{cohort.id}", added=added, removed=removed)
    await db.commit()
    return await _out(db, cohort)


@router.get("")
async def list_cohorts(
    request: Request,
    db: DB,
    _: ManagerOrAdmin,
    year: Annotated[PlanYear, Query(description="the plan's year")],
) -> dict[str, Any]:
    """The year's cohorts against the plan: days held, held or not, and per cohort the officers
    with days to make up (with the days)."""
    plan = plan_for(request, year)
    tz = services(request).tz
    ledger = await bureau_year(db, plan, tz, default_as_of(year, tz))
    return {
        "year": year,
        "cohorts_required": ledger.cohorts_required,
        "cohorts_held": ledger.cohorts_held,
        "cohorts": cohort_rows(ledger),
    }
