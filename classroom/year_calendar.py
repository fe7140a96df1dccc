"""The year at a glance: per task of the plan and month by month, the sessions planned and held
(for one unit, or the bureau), against what the plan asks, and what is still to schedule.

A session is held once it started or anybody was marked at it. What the plan asks, in sessions:
a unit's task with ``per_month`` asks that many a month of each unit it applies to (squads for
the squads' tasks), at most ``per_year`` a year; the all-staff training asks ``min_cohorts ×
days_per_cohort`` training days of the bureau. The assessment and the recruits' practical days
are per person, not a count of sessions: planned and held are shown, nothing is asked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import Attendance, Session, SessionKind, Unit, UnitKind
from classroom.ledger.load import year_window
from classroom.plan.schema import Plan, Task


@dataclass(frozen=True)
class Planned:
    """One session as the calendar counts it."""

    kind: SessionKind
    unit_id: int | None
    day: date  # in the bureau's zone
    held: bool


@dataclass(frozen=True)
class TaskMonth:
    month: int
    planned: int
    held: int
    asked: int | None  # what the plan asks this month (None: no monthly count)

    @property
    def short(self) -> bool:
        return self.asked is not None and self.planned < self.asked


@dataclass(frozen=True)
class TaskYear:
    task: Task
    months: tuple[TaskMonth, ...]
    asked: int | None  # in the year
    to_schedule: int | None  # asked, less what is planned and counts towards it

    @property
    def planned(self) -> int:
        return sum(m.planned for m in self.months)

    @property
    def held(self) -> int:
        return sum(m.held for m in self.months)


def _applies(task: Task, unit: Unit) -> bool:
    return task.who != "squad_enforcement_staff" or unit.kind == UnitKind.SQUAD


def _unit_task(task: Task, units: list[Unit], sessions: list[Planned]) -> TaskYear:
    """A unit's task, summed over ``units``: each unit asked ``per_month`` a month."""
    per_month = task.per_month
    concerned = [u for u in units if _applies(task, u)]
    planned: Counter[tuple[int, int]] = Counter()  # (unit, month)
    held: Counter[int] = Counter()
    for s in sessions:
        if s.kind == task.session_kind and s.unit_id is not None:
            planned[s.unit_id, s.day.month] += 1
            held[s.day.month] += s.held
    months = []
    for m in range(1, 13):
        months.append(
            TaskMonth(
                m,
                sum(planned[u.id, m] for u in concerned),
                held[m],
                per_month * len(concerned) if per_month else None,
            )
        )
    if not per_month:
        return TaskYear(task, tuple(months), None, None)
    a_year = min(per_month * 12, task.per_year or per_month * 12)
    to_schedule = 0
    for u in concerned:
        counted = sum(min(planned[u.id, m], per_month) for m in range(1, 13))
        to_schedule += max(0, a_year - counted)
    return TaskYear(task, tuple(months), a_year * len(concerned), to_schedule)


def _district_task(task: Task, sessions: list[Planned]) -> TaskYear:
    """A district task: sessions counted as they are; training days by their dates."""
    mine = [s for s in sessions if s.kind == task.session_kind]
    by_day = task.session_kind == SessionKind.TRAINING_DAY
    months = []
    for m in range(1, 13):
        in_month = [s for s in mine if s.day.month == m]
        if by_day:
            planned, held = len({s.day for s in in_month}), len({s.day for s in in_month if s.held})
        else:
            planned, held = len(in_month), sum(s.held for s in in_month)
        months.append(TaskMonth(m, planned, held, None))
    if by_day and task.min_cohorts and task.days_per_cohort:
        asked = task.min_cohorts * task.days_per_cohort
        planned_days = len({s.day for s in mine})
        return TaskYear(task, tuple(months), asked, max(0, asked - planned_days))
    return TaskYear(task, tuple(months), None, None)


def year_calendar(plan: Plan, units: list[Unit], sessions: Iterable[Planned]) -> list[TaskYear]:
    """Every task of the plan for ``units`` (one, or all the bureau's active units): unit tasks
    summed over them, district tasks from the sessions given."""
    rows = list(sessions)
    return [
        _unit_task(t, units, rows) if t.owner == "unit" else _district_task(t, rows)
        for t in plan.tasks
    ]


async def planned_sessions(
    db: AsyncSession, year: int, tz: ZoneInfo, unit_ids: list[int] | None = None
) -> list[Planned]:
    """The year's sessions (of ``unit_ids`` only, if given: those units' own sessions and the
    district's, which have no unit), each with whether it was held."""
    lo, hi = year_window(year, tz)
    attended = exists().where(Attendance.session_id == Session.id)
    q = select(
        Session.kind,
        Session.unit_id,
        Session.planned_start,
        Session.actual_start.is_not(None) | attended,
    ).where(Session.planned_start >= lo, Session.planned_start < hi)
    if unit_ids is not None:
        q = q.where(Session.unit_id.in_(unit_ids) | Session.unit_id.is_(None))
    return [
        Planned(kind, unit_id, start.astimezone(tz).date(), bool(was_held))
        for kind, unit_id, start, was_held in await db.execute(q)
    ]
