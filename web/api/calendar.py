"""The year at a glance (classroom/year_calendar.py): per task and month, sessions planned and
held against what the plan asks, and what is still to schedule — for a unit, or the bureau.
The training office sees every unit; a unit leader their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from classroom.db.models import Person, Unit
from classroom.db.types import utcnow
from classroom.schedule import to_ical, unit_sessions_between
from classroom.scope import sees_unit
from classroom.year_calendar import TaskYear, planned_sessions, year_calendar
from web.api.compliance import Year, check_sees_unit, plan_for
from web.deps import DB, CurrentPerson, services
from web.schemas import Id

router = APIRouter(prefix="/calendar", tags=["calendar"])


def task_json(t: TaskYear) -> dict[str, Any]:
    return {
        "task_id": t.task.id,
        "name": t.task.name,
        "kind": t.task.session_kind.value,
        "owner": t.task.owner,
        "asked": t.asked,
        "planned": t.planned,
        "held": t.held,
        "to_schedule": t.to_schedule,
        "months": [
            {"month": m.month, "planned": m.planned, "held": m.held, "asked": m.asked}
            for m in t.months
        ],
    }


async def calendar_for(
    request: Request, db: DB, person: Person, year: int, unit_id: int | None
) -> tuple[list[Unit], list[TaskYear]]:
    """The units it covers and the plan's tasks over them: one unit, the units a leader leads,
    or (for the training office) the whole bureau."""
    scope = check_sees_unit(person, unit_id)
    plan = plan_for(request, year)
    q = select(Unit).where(Unit.active.is_(True)).order_by(Unit.name)
    if unit_id is not None:
        q = q.where(Unit.id == unit_id)
    elif scope is not None:
        q = q.where(Unit.id.in_(scope))
    units = list(await db.scalars(q))
    if unit_id is not None and not units:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unit {unit_id} not found")
    whole_bureau = unit_id is None and scope is None
    sessions = await planned_sessions(
        db, year, services(request).tz, None if whole_bureau else [u.id for u in units]
    )
    return units, year_calendar(plan, units, sessions)


@router.get("/year")
async def year_at_a_glance(
    request: Request, db: DB, person: CurrentPerson, year: Year, unit_id: Id | None = None
) -> dict[str, Any]:
    units, tasks = await calendar_for(request, db, person, year, unit_id)
    return {
        "year": year,
        "units": [{"id": u.id, "name": u.name} for u in units],
        "tasks": [task_json(t) for t in tasks],
    }


@router.get(
    "/units/{unit_id}/schedule.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def unit_ics(
    unit_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    days: Annotated[int, Query(ge=1, le=366)] = 90,
) -> Response:
    """RFC 5545: a unit's own sessions (its studies and drills, in a classroom or at a place)
    from 30 days ago to ``days`` ahead — for the unit's people, its leader and the office."""
    unit = await db.get(Unit, unit_id)
    if unit is None or not (person.unit_id == unit_id or sees_unit(person, unit_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unit {unit_id} not found")
    now = utcnow()
    sessions = await unit_sessions_between(
        db, unit_id, now - timedelta(days=30), now + timedelta(days=days)
    )
    return Response(
        to_ical(unit.name, sessions, now, request.url.hostname or "classroom"),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="unit-{unit_id}.ics"'},
    )
