"""Progress and compliance pages: an officer's own year; the manager's bureau view."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from classroom.compliance import (
    NoPlan,
    bureau_year,
    cohort_rows,
    default_as_of,
    officer_rows,
    officer_year,
    unit_rows,
    within_units,
)
from classroom.db.models import Person
from classroom.ledger.compute import OfficerYear, Reason
from classroom.plan.schema import Plan
from web.api.compliance import check_sees_officer, check_sees_unit
from web.charts import monthly_progress_svg
from web.deps import DB, CurrentPerson, services
from web.i18n import request_language, translate
from web.pages.common import render
from web.pages.entry_sources import entry_sources
from web.schemas import Id, PlanYear

router = APIRouter(include_in_schema=False)


def _plan(request: Request, year: PlanYear | None) -> Plan:
    svc = services(request)
    chosen = year or svc.plans.default_year(date.today())
    if chosen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no training plan on file")
    try:
        return svc.plans.get(chosen)
    except NoPlan as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def reason_text(request: Request, r: Reason, plan: Plan) -> str:
    lang = request_language(request, services(request).settings.web.default_language)
    if r.code == "part_short" and r.part:
        part = plan.part(r.part)
        name = part.name if lang == "zh-CN" else (part.name_en or part.name)
        return translate(
            lang, "reason.part_short", part=name, hours=f"{r.hours:g}", credits=f"{r.credits:g}"
        )
    return translate(lang, "reason.practical_short", days=f"{r.days:g}")


async def _officer_page(
    request: Request, db: DB, viewer: Person, person_id: Id, year: PlanYear | None
) -> HTMLResponse:
    plan = _plan(request, year)
    tz = services(request).tz
    oy: OfficerYear | None = await officer_year(
        db, plan, person_id, tz, default_as_of(plan.year, tz)
    )
    if oy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"officer {person_id} not found")
    items = {i.no: i for i in plan.study_items}
    lang = request_language(request, services(request).settings.web.default_language)
    part_names = {
        p.id: p.name if lang == "zh-CN" else (p.name_en or p.name) for p in plan.quota.parts
    }
    return render(
        request,
        "progress.html",
        viewer,
        part_names=part_names,
        plan=plan,
        oy=oy,
        items=items,
        years=services(request).plans.years(),
        reasons=[reason_text(request, r, plan) for r in oy.reasons],
        sources=await entry_sources(db, (e.ref for e in oy.entries)),
    )


@router.get("/progress", response_class=HTMLResponse)
async def my_progress(
    request: Request, db: DB, person: CurrentPerson, year: PlanYear | None = None
) -> HTMLResponse:
    return await _officer_page(request, db, person, person.id, year)


@router.get("/compliance/officers/{person_id}", response_class=HTMLResponse)
async def officer_progress(
    person_id: Id, request: Request, db: DB, person: CurrentPerson, year: PlanYear | None = None
) -> HTMLResponse:
    await check_sees_officer(db, person, person_id)
    return await _officer_page(request, db, person, person_id, year)


@router.get("/compliance", response_class=HTMLResponse)
async def bureau_page(
    request: Request,
    db: DB,
    person: CurrentPerson,
    year: PlanYear | None = None,
    unit: Id | None = None,
    behind: bool = False,
    sort: Literal["shortfall", "name", "unit", "hours", "credits"] = Query("shortfall"),
) -> HTMLResponse:
    scope = check_sees_unit(person, unit)
    plan = _plan(request, year)
    tz = services(request).tz
    ledger = within_units(await bureau_year(db, plan, tz, default_as_of(plan.year, tz)), scope)
    lang = request_language(request, services(request).settings.web.default_language)
    n = max(1, len(ledger.officers))
    average = [sum(o.monthly()[m][1] for o in ledger.officers.values()) / n for m in range(12)]
    chart = monthly_progress_svg(
        [round(v, 2) for v in average],
        plan.quota.hours,
        translate(lang, "compliance.chart_actual"),
        translate(lang, "compliance.chart_target"),
        [translate(lang, "month.short", m=m) for m in range(1, 13)],
    )
    return render(
        request,
        "compliance.html",
        person,
        plan=plan,
        items={i.no: i for i in plan.study_items},
        ledger=ledger,
        units=unit_rows(ledger),
        cohorts=cohort_rows(ledger),
        officers=officer_rows(ledger, unit, behind, sort),
        chart=Markup(chart),
        sort=sort,
        unit=unit,
        behind=behind,
        years=services(request).plans.years(),
        eligible=sum(o.eligible for o in ledger.officers.values()),
        unit_year=ledger.units.get(unit) if unit is not None else None,
        plan_problem=services(request).plans.problem(plan.year),
    )
