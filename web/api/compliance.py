"""Compliance with the year's plan: an officer's own year, units, the bureau; CSV and XLSX."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response

from classroom.compliance import (
    NoPlan,
    bureau_year,
    cohort_rows,
    default_as_of,
    officer_dict,
    officer_rows,
    officer_year,
    to_csv,
    to_xlsx,
    unit_dict,
    unit_rows,
    within_units,
)
from classroom.db.models import Person
from classroom.plan.schema import Plan
from classroom.scope import bureau_wide, leads, unit_scope
from web.deps import DB, CurrentPerson, services
from web.schemas import Id, PlanYear

router = APIRouter(prefix="/compliance", tags=["compliance"])

Year = Annotated[PlanYear, Query(description="the plan's year")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def plan_for(request: Request, year: int) -> Plan:
    try:
        return services(request).plans.get(year)
    except NoPlan as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def as_of_for(request: Request, year: int, as_of: date | None) -> date:
    return as_of or default_as_of(year, services(request).tz)


async def officer_report(
    request: Request, db: DB, person_id: Id, year: int, as_of: date | None
) -> dict[str, Any]:
    plan = plan_for(request, year)
    svc = services(request)
    oy = await officer_year(db, plan, person_id, svc.tz, as_of_for(request, year, as_of))
    if oy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"officer {person_id} not found")
    return {"year": year, **officer_dict(oy)}


@router.get("/me")
async def my_year(
    request: Request, db: DB, person: CurrentPerson, year: Year, as_of: date | None = None
) -> dict[str, Any]:
    """The logged-in officer's own year."""
    return await officer_report(request, db, person.id, year, as_of)


async def check_sees_officer(db: DB, viewer: Person, person_id: int) -> None:
    """An officer's year: the officer themself, the leader of their unit, managers and admins."""
    if person_id == viewer.id or bureau_wide(viewer):
        return
    officer = await db.get(Person, person_id) if viewer.led_unit_ids else None
    if officer is None or not leads(viewer, officer.unit_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "officers see only their own ledger, unit leaders their units' officers",
        )


def check_sees_unit(viewer: Person, unit_id: int | None) -> frozenset[int] | None:
    """The units ``viewer`` sees (None: all); a 403 for someone who leads none, or for a unit
    they do not lead."""
    scope = unit_scope(viewer)
    if scope is not None and (not scope or (unit_id is not None and unit_id not in scope)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the compliance of units is for the training office and each unit's leader",
        )
    return scope


@router.get("/officers/{person_id}")
async def officer(
    person_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    year: Year,
    as_of: date | None = None,
) -> dict[str, Any]:
    """One officer's year: the officer themself, the leader of their unit, managers and
    admins."""
    await check_sees_officer(db, person, person_id)
    return await officer_report(request, db, person_id, year, as_of)


@router.get("/units/{unit_id}")
async def unit(
    unit_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    year: Year,
    as_of: date | None = None,
) -> dict[str, Any]:
    """A unit's year: the training office, and the unit's leader."""
    check_sees_unit(person, unit_id)
    plan = plan_for(request, year)
    ledger = await bureau_year(db, plan, services(request).tz, as_of_for(request, year, as_of))
    uy = ledger.units.get(unit_id)
    if uy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unit {unit_id} not found")
    return {"year": year, **unit_dict(uy), "officers_detail": officer_rows(ledger, unit_id=unit_id)}


@router.get("/bureau", response_model=None)
async def bureau(
    request: Request,
    db: DB,
    person: CurrentPerson,
    year: Year,
    as_of: date | None = None,
    unit_id: Id | None = None,
    behind_only: bool = False,
    sort: Literal["shortfall", "name", "unit", "hours", "credits"] = "shortfall",
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response | dict[str, Any]:
    """Units and officers behind plan, sortable; as JSON, CSV (officers) or XLSX (both). A unit
    leader gets the units they lead."""
    scope = check_sees_unit(person, unit_id)
    plan = plan_for(request, year)
    whole = await bureau_year(db, plan, services(request).tz, as_of_for(request, year, as_of))
    ledger = within_units(whole, scope)
    officers = officer_rows(ledger, unit_id, behind_only, sort)
    units = [u for u in unit_rows(ledger, behind_only) if unit_id in (None, u["unit_id"])]
    name = f"compliance-{year}"
    if format == "csv":
        return Response(
            to_csv(officers).encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        body = to_xlsx([("officers", officers), ("units", units)])
        return Response(
            body,
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return {
        "year": year,
        "as_of": ledger.as_of.isoformat(),
        "training_days_held": ledger.training_days_held,
        "cohorts_held": ledger.cohorts_held,
        "cohorts_required": ledger.cohorts_required,
        "cohorts": cohort_rows(ledger),
        "officers_total": len(ledger.officers),
        "officers_eligible": sum(o.eligible for o in ledger.officers.values()),
        "units": units,
        "officers": officers,
    }
