"""The year at a glance, for the training office (the bureau, or a unit) and for a unit leader
(their units), with the year's sessions imported from a table beside it."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from classroom.db.models import Unit
from classroom.scope import unit_scope
from web.api.calendar import calendar_for
from web.deps import DB, CurrentPerson, services
from web.pages.common import render
from web.schemas import Id, PlanYear

router = APIRouter(include_in_schema=False)


@router.get("/calendar", response_class=HTMLResponse)
async def calendar_page(
    request: Request,
    db: DB,
    person: CurrentPerson,
    year: PlanYear | None = None,
    unit: Id | None = None,
) -> HTMLResponse:
    plans = services(request).plans
    chosen = year or plans.default_year(date.today()) or date.today().year
    units, tasks = await calendar_for(request, db, person, chosen, unit)
    scope = unit_scope(person)
    q = select(Unit).where(Unit.active.is_(True)).order_by(Unit.name)
    if scope is not None:
        q = q.where(Unit.id.in_(scope))
    return render(
        request,
        "calendar.html",
        person,
        year=chosen,
        years=plans.years(),
        unit=unit,
        units=units,
        choices=list(await db.scalars(q)),
        bureau=scope is None,
        tasks=tasks,
    )
