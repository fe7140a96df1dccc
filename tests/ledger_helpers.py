"""Building ledger facts for the scenario tests, in the bureau's local time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from classroom.db.models import SessionKind, UnitKind
from classroom.ledger.compute import YearLedger, compute_year
from classroom.ledger.facts import (
    AttendanceFact,
    CohortFact,
    CreditFact,
    Facts,
    OfficerFact,
    SessionFact,
    StudyTag,
    UnitFact,
)
from classroom.plan.loader import load_plan
from classroom.plan.schema import Plan

ROOT = Path(__file__).resolve().parent.parent
PLAN = load_plan(ROOT / "plans" / "2023.toml")
TZ = ZoneInfo("Asia/Shanghai")

SQUAD = UnitFact(1, "第一街镇中队", UnitKind.SQUAD)
ADJACENT = UnitFact(2, "毗邻区中队", UnitKind.SQUAD, adjacent_district=True)
OFFICE = UnitFact(3, "法制科", UnitKind.DEPARTMENT)
UNITS = (SQUAD, ADJACENT, OFFICE)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2023) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def staff(unit: UnitFact, n: int, first_id: int, **kw: object) -> list[OfficerFact]:
    return [OfficerFact(first_id + i, f"o{first_id + i}", unit.id, **kw) for i in range(n)]  # type: ignore[arg-type]


def session(
    sid: int,
    kind: SessionKind,
    start: datetime,
    minutes: float,
    unit: UnitFact | None = None,
    study: tuple[StudyTag, ...] = (),
) -> SessionFact:
    return SessionFact(
        sid,
        kind,
        f"s{sid}",
        start,
        start + timedelta(minutes=minutes),
        unit.id if unit else None,
        study,
    )


def came(
    s: SessionFact, person: int, late_min: float = 0, early_min: float = 0, open_end: bool = False
) -> AttendanceFact:
    return AttendanceFact(
        f"a-{s.id}-{person}-{late_min}-{early_min}",
        s.id,
        person,
        s.start + timedelta(minutes=late_min),
        None if open_end else s.end - timedelta(minutes=early_min),
    )


def everyone(s: SessionFact, people: list[OfficerFact]) -> list[AttendanceFact]:
    return [came(s, p.id) for p in people]


def credit(
    cid: str,
    person: int,
    hours: float,
    credits: float,
    source: str = "online_import",
    on: date = date(2023, 5, 1),
    part: str | None = None,
    note: str = "",
) -> CreditFact:
    return CreditFact(cid, person, source, on, hours, credits, part, note)


def ledger(
    officers: list[OfficerFact],
    sessions: list[SessionFact] = (),  # type: ignore[assignment]
    attendance: list[AttendanceFact] = (),  # type: ignore[assignment]
    credits: list[CreditFact] = (),  # type: ignore[assignment]
    as_of: date = date(2023, 12, 31),
    plan: Plan = PLAN,
    cohorts: list[CohortFact] = (),  # type: ignore[assignment]
) -> YearLedger:
    facts = Facts(
        UNITS,
        tuple(officers),
        tuple(sessions),
        tuple(attendance),
        tuple(credits),
        cohorts=tuple(cohorts),
    )
    return compute_year(plan, facts, as_of, TZ)
