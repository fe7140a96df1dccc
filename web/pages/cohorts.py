"""The all-staff training's cohorts (期) for the training office: each cohort's dates and its
officers (assigned by unit in bulk), whether its days were held, who missed days and what they
can make them up with — another cohort's days still to come, or the recordings of the days they
missed — and its roster to print for the sign-in sheet."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from classroom.compliance import bureau_year, cohort_rows, default_as_of
from classroom.db.models import (
    Cohort,
    CohortMember,
    Person,
    Recording,
    Session,
    SessionKind,
    Unit,
)
from web.api.cohorts import CohortIn, MembersIn, assign, create_cohort
from web.api.compliance import plan_for
from web.deps import DB, ManagerOrAdmin, services
from web.pages.common import render
from web.schemas import Id, PlanYear

router = APIRouter(include_in_schema=False)


async def _makeup_recordings(request: Request, db: DB, cohort: Cohort) -> list[dict[str, Any]]:
    """The recordings of the cohort's training days, to watch for a day missed."""
    tz = services(request).tz
    lo = datetime.combine(cohort.starts_on, datetime.min.time(), tz)
    hi = datetime.combine(cohort.ends_on, datetime.max.time(), tz)
    rows = await db.execute(
        select(Recording.id, Session.title, Session.planned_start)
        .join(Session, Session.id == Recording.session_id)
        .where(
            Session.kind == SessionKind.TRAINING_DAY,
            Session.planned_start >= lo,
            Session.planned_start <= hi,
            Recording.playable,
        )
        .order_by(Session.planned_start)
    )
    return [{"id": rid, "title": title, "start": start} for rid, title, start in rows]


async def _page(
    request: Request,
    db: DB,
    person: Person,
    year: int,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    plan = plan_for(request, year)
    tz = services(request).tz
    as_of = default_as_of(year, tz)
    ledger = await bureau_year(db, plan, tz, as_of)
    cohorts = list(
        await db.scalars(select(Cohort).where(Cohort.year == year).order_by(Cohort.number))
    )
    # A day missed is made up in a later cohort still running on the report's date.
    makeup = {
        c.id: {
            "cohorts": [o for o in cohorts if o.starts_on > c.starts_on and o.ends_on >= as_of],
            "recordings": await _makeup_recordings(request, db, c),
        }
        for c in cohorts
    }
    return render(
        request,
        "cohorts.html",
        person,
        status_code=status_code,
        year=year,
        years=services(request).plans.years(),
        rows=cohort_rows(ledger),
        required=ledger.cohorts_required,
        held=ledger.cohorts_held,
        makeup=makeup,
        units=list(await db.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.name))),
        error=error,
        form=form or {},
    )


def _year(request: Request, year: int | None) -> int:
    chosen = year or services(request).plans.default_year(date.today())
    if chosen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no training plan on file")
    return chosen


@router.get("/cohorts", response_class=HTMLResponse)
async def cohorts_page(
    request: Request, db: DB, person: ManagerOrAdmin, year: PlanYear | None = None
) -> HTMLResponse:
    return await _page(request, db, person, _year(request, year))


@router.post("/cohorts", response_model=None)
async def cohort_form(
    request: Request,
    db: DB,
    person: ManagerOrAdmin,
    year: Annotated[PlanYear, Form()],
    number: Annotated[str, Form(max_length=4)],
    starts_on: Annotated[str, Form(max_length=10)],
    ends_on: Annotated[str, Form(max_length=10)],
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A new cohort; a refusal is shown on the form with what was typed."""
    form = {"number": number, "name": name, "starts_on": starts_on, "ends_on": ends_on}
    try:
        body = CohortIn(
            year=year,
            number=int(number) if number.isdigit() else 0,
            name=name.strip(),
            starts_on=date.fromisoformat(starts_on),
            ends_on=date.fromisoformat(ends_on),
        )
    except (ValueError, ValidationError):
        return await _page(request, db, person, year, "cohort_fields", form, 422)
    try:
        await create_cohort(body, request, db, person)
    except HTTPException as exc:
        await db.rollback()
        await db.refresh(person)
        return await _page(request, db, person, year, "cohort_exists", form, exc.status_code)
    return RedirectResponse(f"/cohorts?year={year}", status_code=303)


@router.post("/cohorts/{cohort_id}/assign")
async def assign_form(
    cohort_id: Id,
    db: DB,
    person: ManagerOrAdmin,
    units: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    """Every active officer of the units ticked joins the cohort."""
    chosen = [int(u) for u in units or [] if u.isdigit()]
    out = await assign(cohort_id, MembersIn(unit_ids=chosen), db, person)
    return RedirectResponse(f"/cohorts?year={out.year}#cohort-{cohort_id}", status_code=303)


@router.get("/cohorts/{cohort_id}/roster", response_class=HTMLResponse)
async def roster_page(
    cohort_id: Id, request: Request, db: DB, person: ManagerOrAdmin
) -> HTMLResponse:
    """The cohort's officers by unit and badge number, with a column to sign: to print."""
    cohort = await db.get(Cohort, cohort_id)
    if cohort is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"cohort {cohort_id} not found")
    members = list(
        await db.scalars(
            select(Person)
            .join(CohortMember, CohortMember.person_id == Person.id)
            .outerjoin(Unit, Unit.id == Person.unit_id)
            .where(CohortMember.cohort_id == cohort.id)
            .order_by(Unit.name, Person.badge_no, Person.display_name)
        )
    )
    return render(request, "cohort_roster.html", person, cohort=cohort, members=members)
