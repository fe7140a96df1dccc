"""Compliance: the ledger for a year, per officer, per unit and bureau-wide, and its exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import SessionKind
from classroom.ledger.bulk import gc_paused
from classroom.ledger.compute import OfficerYear, Reason, UnitYear, YearLedger, compute_year
from classroom.ledger.load import load_facts
from classroom.plan.loader import PlanError, load_plan, plan_path
from classroom.plan.schema import Plan

log = structlog.get_logger(__name__)


class NoPlan(LookupError):
    pass


class PlanUnavailable(RuntimeError):
    """A year's plan file is broken and no good version of it was ever loaded here: nothing can
    be computed for that year until it is mended (the portal answers 503, saying why)."""

    def __init__(self, year: int, problem: str) -> None:
        super().__init__(
            f"the training plan for {year} cannot be read, and no good version of it was "
            f"loaded before:\n{problem}"
        )
        self.year, self.problem = year, problem


class PlanBook:
    """The plans on disk, read once each and re-read when the file changes. A file edited into
    a broken state does not take the year down: its last good version stays in force, and
    ``problem`` says what is wrong with the file (for managers, and in the log)."""

    def __init__(self, plans_dir: Path) -> None:
        self.plans_dir = plans_dir
        self._cache: dict[int, tuple[float, Plan]] = {}  # (mtime read, last good plan)
        self._broken: dict[int, tuple[float, str]] = {}  # (mtime read, what is wrong)

    def get(self, year: int) -> Plan:
        path = plan_path(self.plans_dir, year)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise NoPlan(f"no training plan for {year} ({path})") from None
        cached = self._cache.get(year)
        broken = self._broken.get(year)
        if (cached is None or cached[0] != mtime) and (broken is None or broken[0] != mtime):
            try:
                self._cache[year] = (mtime, load_plan(path))
                self._broken.pop(year, None)
            except PlanError as exc:
                self._broken[year] = (mtime, str(exc))
                log.error("plan.broken", year=year, problem=str(exc), kept=cached is not None)
        if year in self._broken and year not in self._cache:
            raise PlanUnavailable(year, self._broken[year][1])
        return self._cache[year][1]

    def problem(self, year: int) -> str | None:
        """What is wrong with the year's file on disk while its last good version is in force
        (FILE:LINE: field: problem); None when the file is good."""
        broken = self._broken.get(year)
        return broken[1] if broken is not None else None

    def years(self) -> list[int]:
        return sorted(int(p.stem) for p in self.plans_dir.glob("*.toml") if p.stem.isdigit())

    def default_year(self, today: date) -> int | None:
        """This year's plan if there is one, else the latest before it, else the earliest."""
        years = self.years()
        past = [y for y in years if y <= today.year]
        return max(past) if past else (min(years) if years else None)


def default_as_of(year: int, tz: ZoneInfo) -> date:
    today = datetime.now(tz).date()
    if today.year == year:
        return today
    return date(year, 12, 31) if today.year > year else date(year, 1, 1)


def _task_kinds(plan: Plan) -> list[SessionKind]:
    return [t.session_kind for t in plan.tasks]


async def bureau_year(db: AsyncSession, plan: Plan, tz: ZoneInfo, as_of: date) -> YearLedger:
    with gc_paused():
        facts = await load_facts(db, plan.year, tz, kinds=_task_kinds(plan), rule=plan.presence)
        return compute_year(plan, facts, as_of, tz)


def within_units(ledger: YearLedger, units: frozenset[int] | None) -> YearLedger:
    """The year as a unit leader sees it (``units``: those they lead; None: everything): those
    units and their officers only. Cohorts are bureau-wide; their counts stay, but their make-up
    lists keep only these units' officers."""
    if units is None:
        return ledger
    officers = {k: v for k, v in ledger.officers.items() if v.officer.unit_id in units}
    return replace(
        ledger,
        officers=officers,
        units={k: v for k, v in ledger.units.items() if k in units},
        cohorts=tuple(
            replace(c, short=tuple(x for x in c.short if x[0] in officers)) for c in ledger.cohorts
        ),
    )


async def officer_year(
    db: AsyncSession, plan: Plan, person_id: int, tz: ZoneInfo, as_of: date
) -> OfficerYear | None:
    facts = await load_facts(db, plan.year, tz, person_id=person_id, kinds=_task_kinds(plan))
    return compute_year(plan, facts, as_of, tz).officers.get(person_id)


def describe(reason: Reason) -> str:
    if reason.code == "part_short":
        return f"{reason.part}: short {reason.hours:g} h / {reason.credits:g} credits"
    if reason.code == "practical_short":
        return f"practical training: short {reason.days:g} days"
    return reason.code


def officer_dict(oy: OfficerYear) -> dict[str, Any]:
    return {
        "officer": {
            "id": oy.officer.id,
            "name": oy.officer.name,
            "badge_no": oy.officer.badge_no,
            "unit_id": oy.officer.unit_id,
            "unit": oy.unit.name if oy.unit else None,
        },
        "eligible": oy.eligible,
        "total_hours": oy.total_hours,
        "total_credits": oy.total_credits,
        "shortfall_hours": oy.shortfall_hours,
        "shortfall_credits": oy.shortfall_credits,
        "parts": [
            {
                "id": p.id,
                "name": p.name,
                "name_en": p.name_en,
                "quota_hours": p.quota_hours,
                "quota_credits": p.quota_credits,
                "hours": p.hours,
                "credits": p.credits,
                "at_least": p.at_least,
                "met": p.met,
                "shortfall_hours": p.shortfall_hours,
                "shortfall_credits": p.shortfall_credits,
            }
            for p in oy.parts
        ],
        "reasons": [
            {
                "code": r.code,
                "part": r.part,
                "hours": r.hours,
                "credits": r.credits,
                "days": r.days,
                "text": describe(r),
            }
            for r in oy.reasons
        ],
        "recruit": oy.recruit,
        "practical_days": oy.practical_days,
        "practical_days_required": oy.practical_days_required,
        "study_covered": list(oy.study_covered),
        "study_owed": list(oy.study_owed),
        "entries": [
            {
                "part": e.part,
                "hours": e.hours,
                "credits": e.credits,
                "on": e.on.isoformat(),
                "source": e.source,
                "ref": e.ref,
                "note": e.note,
            }
            for e in oy.entries
        ],
        "monthly": [{"month": m, "hours": h, "credits": c} for m, h, c in oy.monthly()],
    }


def unit_dict(uy: UnitYear) -> dict[str, Any]:
    return {
        "unit": {
            "id": uy.unit.id,
            "name": uy.unit.name,
            "kind": uy.unit.kind.value,
            "adjacent_district": uy.unit.adjacent_district,
        },
        "officers": uy.officers,
        "officers_behind": uy.officers_behind,
        "months_behind": uy.months_behind,
        "assessment_passed": uy.assessment_passed,
        "items_covered": list(uy.items_covered),
        "items_owed": list(uy.items_owed),
        "months": [
            {
                "month": m.month,
                "due": m.due,
                "ok": m.ok,
                "unit_study_held": m.unit_study_held,
                "unit_study": [_check(c) for c in m.unit_study],
                "drills_required": m.drills_required,
                "drills_valid": m.drills_valid,
                "drills_ok": m.drills_ok,
                "drills": [_check(c) for c in m.drills],
                "articles": m.articles,
                "articles_min": m.articles_min,
                "articles_max": m.articles_max,
                "articles_ok": m.articles_ok,
                "articles_over": m.articles_over,
                "items": list(m.items),
            }
            for m in uy.months
        ],
    }


def _check(c: Any) -> dict[str, Any]:
    return {
        "session_id": c.session_id,
        "on": c.on.isoformat(),
        "minutes": c.minutes,
        "attended": c.attended,
        "staff": c.staff,
        "share": round(c.share, 4),
        "valid": c.valid,
        "reason": c.reason,
    }


SORT_KEYS = ("shortfall", "name", "unit", "hours", "credits")


def cohort_rows(ledger: YearLedger) -> list[dict[str, Any]]:
    """The year's cohorts (期) against the plan, each with its officers who have days to make
    up (by name, for the page; by id, for the API)."""
    return [
        {
            "cohort_id": c.cohort.id,
            "number": c.cohort.number,
            "name": c.cohort.name,
            "starts_on": c.cohort.starts_on.isoformat(),
            "ends_on": c.cohort.ends_on.isoformat(),
            "members": len(c.cohort.members),
            "days_held": len(c.days),
            "days_required": c.days_required,
            "held": c.held,
            "due": c.due,
            "short": [
                {"officer_id": pid, "name": ledger.officers[pid].officer.name, "days": days}
                for pid, days in c.short
            ],
        }
        for c in ledger.cohorts
    ]


def officer_rows(
    ledger: YearLedger,
    unit_id: int | None = None,
    behind_only: bool = False,
    sort: str = "shortfall",
) -> list[dict[str, Any]]:
    """One flat row per officer, for tables, CSV and XLSX."""
    rows = []
    for oy in ledger.officers.values():
        if unit_id is not None and oy.officer.unit_id != unit_id:
            continue
        if behind_only and oy.eligible:
            continue
        row: dict[str, Any] = {
            "officer_id": oy.officer.id,
            "badge_no": oy.officer.badge_no or "",
            "name": oy.officer.name,
            "unit": oy.unit.name if oy.unit else "",
        }
        for p in oy.parts:
            row[f"{p.id}_hours"] = p.hours
            row[f"{p.id}_credits"] = p.credits
        row.update(
            {
                "total_hours": oy.total_hours,
                "total_credits": oy.total_credits,
                "shortfall_hours": oy.shortfall_hours,
                "shortfall_credits": oy.shortfall_credits,
                "eligible": oy.eligible,
                "reasons": "; ".join(describe(r) for r in oy.reasons),
                "study_owed": " ".join(str(n) for n in oy.study_owed),
            }
        )
        rows.append(row)
    keys = {
        "shortfall": lambda r: (-r["shortfall_hours"], -r["shortfall_credits"], r["name"]),
        "name": lambda r: (r["name"], r["officer_id"]),
        "unit": lambda r: (r["unit"], r["name"]),
        "hours": lambda r: (r["total_hours"], r["name"]),
        "credits": lambda r: (r["total_credits"], r["name"]),
    }
    rows.sort(key=keys[sort])
    return rows


def unit_rows(ledger: YearLedger, behind_only: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for uy in ledger.units.values():
        due = [m for m in uy.months if m.due]
        row = {
            "unit_id": uy.unit.id,
            "unit": uy.unit.name,
            "kind": uy.unit.kind.value,
            "officers": uy.officers,
            "officers_behind": uy.officers_behind,
            "months_due": len(due),
            "months_behind": uy.months_behind,
            "unit_study_months": sum(m.unit_study_held for m in due),
            "drill_months_ok": sum(m.drills_ok for m in due)
            if uy.unit.kind.value == "squad"
            else "",
            "assessment_passed": "" if uy.assessment_passed is None else uy.assessment_passed,
            "items_owed": " ".join(str(n) for n in uy.items_owed),
        }
        if behind_only and not (uy.officers_behind or uy.months_behind):
            continue
        rows.append(row)
    rows.sort(key=lambda r: (-int(r["officers_behind"]), -int(r["months_behind"]), r["unit"]))
    return rows


# A text cell starting with one of these is a formula to a spreadsheet (CSV injection: a name
# "=HYPERLINK(...)" typed into the roster would run in the reader's Excel).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: _inert(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def to_xlsx(sheets: Iterable[tuple[str, Sequence[dict[str, Any]]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        if not rows:
            continue
        ws.append(list(rows[0]))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(list(row.values()))
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text stays text: openpyxl takes "=..." for a formula
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
