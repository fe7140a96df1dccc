"""The year's ledger, computed from facts and the plan, and nothing else.

Pure and deterministic: the same facts in any order give the same ledger (facts are deduplicated
by id and processed in a canonical order), so a recomputation from scratch always agrees with
what was shown before, and an event delivered twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from classroom.db.models import SessionKind, UnitKind
from classroom.ledger.facts import (
    AttendanceFact,
    CohortFact,
    CreditFact,
    Facts,
    OfficerFact,
    PresenceFact,
    SessionFact,
    UnitFact,
)
from classroom.ledger.presence import PRESENT, Attended, attended, measured
from classroom.plan.schema import CreditSource, Plan, QuotaPart, Requirement, Task

ADJUSTMENT = "adjustment"
_EPS = 1e-9


def _r(x: float) -> float:
    return round(x + 0.0, 4)


class Entry(NamedTuple):
    """One line of an officer's ledger, with the event that produced it (a NamedTuple: a
    bureau's year builds a hundred thousand of these)."""

    person_id: int
    part: str
    hours: float
    credits: float
    on: date
    source: str  # "session", "online_import", "recording_watch", "adjustment"
    ref: str  # the event: "session:12", "import:7", "adjustment:3"
    note: str = ""


@dataclass(frozen=True)
class PartStatus:
    id: str
    name: str
    name_en: str
    quota_hours: float
    quota_credits: float
    hours: float
    credits: float
    at_least: bool

    @property
    def shortfall_hours(self) -> float:
        return _r(max(0.0, self.quota_hours - self.hours))

    @property
    def shortfall_credits(self) -> float:
        return _r(max(0.0, self.quota_credits - self.credits))

    @property
    def met(self) -> bool:
        return self.shortfall_hours <= _EPS and self.shortfall_credits <= _EPS

    @property
    def counted_hours(self) -> float:
        """What counts toward the year's total: a part with a fixed quota counts up to it."""
        return self.hours if self.at_least else min(self.hours, self.quota_hours)

    @property
    def counted_credits(self) -> float:
        return self.credits if self.at_least else min(self.credits, self.quota_credits)


@dataclass(frozen=True)
class Reason:
    """Why an officer is not eligible; ``code`` is stable, the rest are its parameters."""

    code: str  # "part_short", "practical_short"
    part: str | None = None
    hours: float = 0.0
    credits: float = 0.0
    days: float = 0.0


@dataclass(frozen=True)
class OfficerYear:
    officer: OfficerFact
    unit: UnitFact | None
    parts: tuple[PartStatus, ...]
    entries: tuple[Entry, ...]
    study_covered: tuple[int, ...]
    study_owed: tuple[int, ...]
    recruit: bool
    practical_days: float
    practical_days_required: int
    reasons: tuple[Reason, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def total_hours(self) -> float:
        return _r(sum(p.counted_hours for p in self.parts))

    @property
    def total_credits(self) -> float:
        return _r(sum(p.counted_credits for p in self.parts))

    @property
    def shortfall_hours(self) -> float:
        return _r(sum(p.shortfall_hours for p in self.parts))

    @property
    def shortfall_credits(self) -> float:
        return _r(sum(p.shortfall_credits for p in self.parts))

    def monthly(self) -> list[tuple[int, float, float]]:
        """Cumulative hours and credits at the end of each month (for the progress chart)."""
        by_month: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for e in self.entries:
            by_month[e.on.month][0] += e.hours
            by_month[e.on.month][1] += e.credits
        out, h, c = [], 0.0, 0.0
        for m in range(1, 13):
            h += by_month[m][0]
            c += by_month[m][1]
            out.append((m, _r(h), _r(c)))
        return out


@dataclass(frozen=True)
class SessionCheck:
    """Whether a unit study or drill session counts, and why."""

    session_id: int
    on: date
    minutes: float
    attended: int
    staff: int
    valid: bool
    reason: str
    # What the session fell short of, for people to read in their language.
    needed_minutes: float | None = None
    needed_share: float | None = None

    @property
    def share(self) -> float:
        return self.attended / self.staff if self.staff else 0.0


@dataclass(frozen=True)
class UnitMonth:
    month: int
    due: bool  # the month has begun by the report's date
    unit_study: tuple[SessionCheck, ...]
    unit_study_required: int
    drills: tuple[SessionCheck, ...]
    drills_required: int  # 0 for units that are not squads
    articles: int  # study-list items read by articles (#15) this month
    articles_min: int
    articles_max: int
    items: tuple[int, ...]

    @property
    def unit_study_held(self) -> bool:
        return sum(c.valid for c in self.unit_study) >= self.unit_study_required

    @property
    def drills_valid(self) -> int:
        return sum(c.valid for c in self.drills)

    @property
    def drills_ok(self) -> bool:
        return self.drills_valid >= self.drills_required

    @property
    def articles_ok(self) -> bool:
        return self.articles_min == 0 or self.articles >= self.articles_min

    @property
    def articles_over(self) -> bool:
        """More articles than the plan's 3–4 a month: not behind, but worth a word (the list is
        meant to be read a few articles a month, not crammed)."""
        return bool(self.articles_max) and self.articles > self.articles_max

    @property
    def ok(self) -> bool:
        return not self.due or (self.unit_study_held and self.drills_ok and self.articles_ok)


@dataclass(frozen=True)
class UnitYear:
    unit: UnitFact
    months: tuple[UnitMonth, ...]
    assessments: tuple[SessionCheck, ...]
    items_covered: tuple[int, ...]
    items_owed: tuple[int, ...]
    officers: int
    officers_behind: int

    @property
    def assessment_passed(self) -> bool | None:
        if self.unit.kind != UnitKind.SQUAD:
            return None
        return any(c.valid for c in self.assessments)

    @property
    def months_behind(self) -> int:
        return sum(not m.ok for m in self.months)


@dataclass(frozen=True)
class CohortStatus:
    """A cohort (期) against the plan: the training days held in its dates, whether that makes
    it held (``days_per_cohort`` of them), and its officers with days to make up."""

    cohort: CohortFact
    days: tuple[date, ...]
    days_required: int
    due: bool  # its last day has passed by the report's date
    short: tuple[tuple[int, float], ...]  # (officer, days to make up), officers in id order

    @property
    def held(self) -> bool:
        return len(self.days) >= self.days_required


@dataclass(frozen=True)
class YearLedger:
    plan: Plan
    as_of: date
    officers: dict[int, OfficerYear]
    units: dict[int, UnitYear]
    training_days_held: int
    cohorts: tuple[CohortStatus, ...]
    cohorts_required: int  # the plan's min_cohorts

    @property
    def cohorts_held(self) -> int:
        return sum(c.held for c in self.cohorts)


_F = TypeVar("_F", AttendanceFact, CreditFact, SessionFact)


def _dedupe(rows: Iterable[_F]) -> list[_F]:
    """One row per event id; the first seen wins, but ids are unique per event anyway."""
    by_id: dict[object, _F] = {}
    for row in rows:
        by_id.setdefault(row.id, row)
    return [by_id[k] for k in sorted(by_id, key=str)]


class _Builder:
    """Collects entries and checks while walking the facts once, in canonical order."""

    def __init__(self, plan: Plan, facts: Facts, tz: ZoneInfo, as_of: date) -> None:
        self.plan = plan
        self.tz = tz
        self.as_of = as_of
        self.units = {u.id: u for u in facts.units}
        self.officers = {o.id: o for o in facts.officers}
        self.sessions = [
            s for s in _dedupe(facts.sessions) if self.local(s.start).year == plan.year
        ]
        self.attendance: dict[tuple[int, int], list[AttendanceFact]] = defaultdict(list)
        self.attendees: dict[int, set[int]] = defaultdict(set)
        for a in _dedupe(facts.attendance):
            self.attendance[(a.session_id, a.person_id)].append(a)
            self.attendees[a.session_id].add(a.person_id)
        self.measured: dict[tuple[int, int], PresenceFact] = {}
        for p in facts.presence:
            self.measured[(p.session_id, p.person_id)] = p
            self.attendees[p.session_id].add(p.person_id)
        self.fully_present: dict[int, frozenset[int]] = {}
        for f in facts.fully_present:
            self.fully_present[f.session_id] = f.person_ids
            self.attendees[f.session_id].update(f.person_ids)
        self.unit_staff: dict[int | None, list[int]] = defaultdict(list)
        for o in sorted(self.officers.values(), key=lambda o: o.id):
            if o.enforcement_staff:
                self.unit_staff[o.unit_id].append(o.id)
        self.credits = [c for c in _dedupe(facts.credits) if c.on.year == plan.year]
        self.entries: dict[int, list[Entry]] = defaultdict(list)
        self.covered: dict[int, set[int]] = defaultdict(set)
        self.practical: dict[int, float] = defaultdict(float)
        self.unit_checks: dict[tuple[int, SessionKind], list[SessionCheck]] = defaultdict(list)
        self.unit_tags: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        # Training days, by the bureau's calendar day: planned minutes, and each officer's
        # minutes of presence (a session's length times its presence factor).
        self.day_minutes: dict[date, float] = defaultdict(float)
        self.day_present: dict[date, dict[int, float]] = defaultdict(lambda: defaultdict(float))

    def local(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def presence(self, session: SessionFact) -> dict[int, Attended]:
        rule = self.plan.presence
        out = {}
        fully = self.fully_present.get(session.id, frozenset())
        for pid in sorted(self.attendees.get(session.id, ())):
            if pid not in self.officers:
                continue
            if pid in fully:
                out[pid] = PRESENT
                continue
            m = self.measured.get((session.id, pid))
            out[pid] = (
                measured(session, m, rule)
                if m is not None
                else attended(session, self.attendance[(session.id, pid)], rule)
            )
        return out

    def walk_sessions(self) -> None:
        for session in self.sessions:
            task = self.plan.task_for(session.kind)
            present = self.presence(session)
            valid = True
            if task is not None:
                valid = self.check(session, task, present)
            on = self.local(session.start)
            # Per session, not per person: a bureau's year is a hundred thousand presences.
            study = [t.item_no for t in session.study] if valid else []
            practical = session.kind == SessionKind.PRACTICAL
            by_day = session.kind == SessionKind.TRAINING_DAY and task is not None
            if by_day:
                self.day_minutes[on] += session.minutes
            hours, credits = self.session_credit(task) if task is not None else (0.0, 0.0)
            part = task.part if task is not None and valid and (hours or credits) else None
            if by_day:
                part = None  # earned by the day, from all of its sessions: walk_training_days
            full = (_r(hours), _r(credits))
            ref = f"session:{session.id}"
            for pid, att in present.items():
                if att.factor <= 0:
                    continue
                if study:
                    self.covered[pid].update(study)
                if task is None:
                    continue
                if practical:
                    self.practical[pid] += att.factor
                if by_day:
                    self.day_present[on][pid] += session.minutes * att.factor
                if part:
                    whole = att.factor == 1
                    self.entries[pid].append(
                        Entry(
                            pid,
                            part,
                            full[0] if whole else _r(hours * att.factor),
                            full[1] if whole else _r(credits * att.factor),
                            on,
                            CreditSource.SESSION.value,
                            ref,
                            "" if whole else att.reason,
                        )
                    )

    def training_days(self) -> list[date]:
        """The days whose training-day sessions together reach the plan's length of a day."""
        task = self.plan.task_for(SessionKind.TRAINING_DAY)
        if task is None:
            return []
        return sorted(d for d, m in self.day_minutes.items() if task.day_share(m) >= 1 - _EPS)

    def cohort_status(self, cohort: CohortFact) -> CohortStatus | None:
        """A cohort of the training-day task: its held days, and what each of its officers
        attended of them (a day's share, as the credit counts it)."""
        task = self.plan.task_for(SessionKind.TRAINING_DAY)
        if task is None or task.id != cohort.task:
            return None
        required = task.days_per_cohort or 0
        days = tuple(d for d in self.training_days() if cohort.starts_on <= d <= cohort.ends_on)
        short = []
        for pid in sorted(p for p in cohort.members if p in self.officers):
            came = sum(
                min(1.0, self.day_present[d].get(pid, 0.0) / self.day_minutes[d]) for d in days
            )
            if came < required - _EPS:
                short.append((pid, _r(required - came)))
        return CohortStatus(cohort, days, required, cohort.ends_on <= self.as_of, tuple(short))

    def walk_training_days(self) -> None:
        """A training day's credit, once a calendar day: from that day's sessions together,
        pro-rated by each officer's presence over their planned minutes; nothing on a day whose
        sessions fall short of the plan's length of a day."""
        task = self.plan.task_for(SessionKind.TRAINING_DAY)
        if task is None or task.part is None:
            return
        hours, credits = task.hours_per_day or 0.0, task.credits_per_day or 0.0
        for day in self.training_days():
            planned = self.day_minutes[day]
            for pid, minutes in sorted(self.day_present[day].items()):
                share = min(1.0, minutes / planned)
                whole = share >= 1 - _EPS
                self.entries[pid].append(
                    Entry(
                        pid,
                        task.part,
                        _r(hours if whole else hours * share),
                        _r(credits if whole else credits * share),
                        day,
                        CreditSource.SESSION.value,
                        f"training_day:{day.isoformat()}",
                        "" if whole else f"present {share:.0%} of the day, pro-rated",
                    )
                )

    @staticmethod
    def session_credit(task: Task) -> tuple[float, float]:
        if task.session_kind == SessionKind.UNIT_STUDY:
            return task.hours_each or 0.0, 0.0
        return 0.0, 0.0

    def check(self, session: SessionFact, task: Task, present: dict[int, Attended]) -> bool:
        """Record whether a unit-level session counts; return whether it does."""
        kind = session.kind
        if kind not in (
            SessionKind.UNIT_STUDY,
            SessionKind.DRILL_TRAINING,
            SessionKind.DRILL_ASSESSMENT,
        ):
            return True
        staff = self.unit_staff.get(session.unit_id, [])
        came = sum(1 for pid in staff if pid in present and present[pid].factor > 0)
        reasons = []
        short_minutes = short_share = None
        if task.min_minutes is not None and session.minutes < task.min_minutes - _EPS:
            short_minutes = task.min_minutes
            reasons.append(f"{session.minutes:.0f} min < {task.min_minutes:.0f} min")
        share = came / len(staff) if staff else 0.0
        need = task.min_attendance_share
        if need is not None and share < need - _EPS:
            short_share = need
            reasons.append(f"attendance {came}/{len(staff)} < {need:.0%}")
        check = SessionCheck(
            session.id,
            self.local(session.start),
            _r(session.minutes),
            came,
            len(staff),
            not reasons,
            "; ".join(reasons) or "ok",
            short_minutes,
            short_share,
        )
        if session.unit_id is not None:
            self.unit_checks[(session.unit_id, kind)].append(check)
            if check.valid:
                month = check.on.month
                self.unit_tags[(session.unit_id, month)].extend(
                    (t.item_no, t.articles) for t in session.study
                )
        return check.valid

    def walk_credits(self) -> None:
        parts_by_source: dict[str, str] = {}
        for quota_part in self.plan.quota.parts:
            for src in quota_part.sources:
                parts_by_source.setdefault(src.value, quota_part.id)
        known = {p.id for p in self.plan.quota.parts}
        for c in self.credits:
            part = c.part if c.source == ADJUSTMENT else parts_by_source.get(c.source)
            if part is None or part not in known or c.person_id not in self.officers:
                continue
            self.entries[c.person_id].append(
                Entry(
                    c.person_id,
                    part,
                    _r(c.hours),
                    _r(c.credits),
                    c.on,
                    c.source,
                    f"{'adjustment' if c.source == ADJUSTMENT else 'credit'}:{c.id}",
                    c.note,
                )
            )

    def applies(self, item_applies_to: str, unit: UnitFact | None) -> bool:
        return item_applies_to == "all" or bool(unit and unit.adjacent_district)

    def owed_items(self, covered: set[int], unit: UnitFact | None) -> tuple[int, ...]:
        return tuple(
            i.no
            for i in self.plan.study_items
            if i.requirement != Requirement.MONTHLY_ARTICLES
            and self.applies(i.applies_to, unit)
            and i.no not in covered
        )

    def officer_year(self, officer: OfficerFact) -> OfficerYear:
        unit = self.units.get(officer.unit_id) if officer.unit_id is not None else None
        entries = tuple(
            self.capped(
                sorted(self.entries.get(officer.id, []), key=lambda e: (e.on, e.ref, e.part))
            )
        )
        by_part: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            by_part[e.part].append(e)
        parts = tuple(self.part_status(p, by_part.get(p.id, [])) for p in self.plan.quota.parts)
        recruit = self.plan.is_recruit(officer.hired_on)
        practical_task = self.plan.task_for(SessionKind.PRACTICAL)
        required = (practical_task.days or 0) if (recruit and practical_task) else 0
        days = _r(self.practical.get(officer.id, 0.0))
        reasons = [
            Reason("part_short", p.id, p.shortfall_hours, p.shortfall_credits)
            for p in parts
            if not p.met
        ]
        if days < required - _EPS:
            reasons.append(Reason("practical_short", days=_r(required - days)))
        covered = self.covered.get(officer.id, set())
        return OfficerYear(
            officer,
            unit,
            parts,
            entries,
            tuple(sorted(covered)),
            self.owed_items(covered, unit),
            recruit,
            days,
            required,
            tuple(reasons),
        )

    def capped(self, entries: list[Entry]) -> list[Entry]:
        """A task held "once a month, 12 a year" earns at most its per-month and per-year
        amounts (hours_each times them), in date order: twelve unit studies in January earn one
        学时, not twelve. What goes beyond stays on the ledger at nothing, with why."""
        caps = {
            t.part: t
            for t in self.plan.tasks
            if t.part is not None and t.hours_each is not None and (t.per_month or t.per_year)
        }
        month_used: dict[tuple[str, int], float] = defaultdict(float)
        year_used: dict[str, float] = defaultdict(float)
        out = []
        for e in entries:
            task = caps.get(e.part)
            if task is None or e.source != CreditSource.SESSION.value:
                out.append(e)
                continue
            assert task.hours_each is not None
            room = [
                (task.per_month * task.hours_each) - month_used[(e.part, e.on.month)]
                if task.per_month
                else e.hours,
                (task.per_year * task.hours_each) - year_used[e.part] if task.per_year else e.hours,
            ]
            hours = _r(max(0.0, min(e.hours, *room)))
            month_used[(e.part, e.on.month)] += hours
            year_used[e.part] += hours
            if hours < e.hours - _EPS:
                over = "month" if room[0] <= room[1] else "year"
                limit = task.per_month if over == "month" else task.per_year
                note = f"beyond the plan's {limit} a {over}"
                credits = _r(e.credits * hours / e.hours) if e.hours else 0.0
                e = e._replace(hours=hours, credits=credits, note=note)
            out.append(e)
        return out

    @staticmethod
    def part_status(part: QuotaPart, mine: list[Entry]) -> PartStatus:
        """``mine``: the officer's entries in this part."""
        return PartStatus(
            part.id,
            part.name,
            part.name_en,
            part.hours,
            part.credits,
            _r(sum(e.hours for e in mine)),
            _r(sum(e.credits for e in mine)),
            part.at_least,
        )

    def unit_year(self, unit: UnitFact, officers: list[OfficerYear]) -> UnitYear:
        study = self.plan.task_for(SessionKind.UNIT_STUDY)
        drill = self.plan.task_for(SessionKind.DRILL_TRAINING)
        monthly = next(
            (i for i in self.plan.study_items if i.requirement == Requirement.MONTHLY_ARTICLES),
            None,
        )
        months = []
        covered: set[int] = set()
        studies = self.unit_checks.get((unit.id, SessionKind.UNIT_STUDY), [])
        drills = self.unit_checks.get((unit.id, SessionKind.DRILL_TRAINING), [])
        drills_required = (drill.per_month or 0) if drill and unit.kind == UnitKind.SQUAD else 0
        for m in range(1, 13):
            tags = self.unit_tags.get((unit.id, m), [])
            covered.update(no for no, _ in tags)
            articles = sum(a for no, a in tags if monthly is not None and no == monthly.no)
            months.append(
                UnitMonth(
                    month=m,
                    due=date(self.plan.year, m, 1) <= self.as_of,
                    unit_study=tuple(c for c in studies if c.on.month == m),
                    unit_study_required=(study.per_month or 0) if study else 0,
                    drills=tuple(c for c in drills if c.on.month == m),
                    drills_required=drills_required,
                    articles=articles,
                    articles_min=(monthly.articles_per_month_min or 0) if monthly else 0,
                    articles_max=(monthly.articles_per_month_max or 0) if monthly else 0,
                    items=tuple(sorted({no for no, _ in tags})),
                )
            )
        return UnitYear(
            unit,
            tuple(months),
            tuple(self.unit_checks.get((unit.id, SessionKind.DRILL_ASSESSMENT), [])),
            tuple(sorted(covered)),
            self.owed_items(covered, unit),
            len(officers),
            sum(not o.eligible for o in officers),
        )


def compute_year(plan: Plan, facts: Facts, as_of: date, tz: ZoneInfo | None = None) -> YearLedger:
    b = _Builder(plan, facts, tz or ZoneInfo("Asia/Shanghai"), as_of)
    b.walk_sessions()
    b.walk_training_days()
    b.walk_credits()
    officers = {o.id: b.officer_year(o) for o in sorted(facts.officers, key=lambda o: o.id)}
    by_unit: dict[int | None, list[OfficerYear]] = defaultdict(list)
    for oy in officers.values():
        by_unit[oy.officer.unit_id].append(oy)
    units = {
        u.id: b.unit_year(u, by_unit.get(u.id, [])) for u in sorted(facts.units, key=lambda u: u.id)
    }
    training = plan.task_for(SessionKind.TRAINING_DAY)
    cohorts = tuple(
        status
        for c in sorted(facts.cohorts, key=lambda c: (c.number, c.id))
        if (status := b.cohort_status(c)) is not None
    )
    return YearLedger(
        plan,
        as_of,
        officers,
        units,
        len(b.training_days()),
        cohorts,
        (training.min_cohorts or 0) if training else 0,
    )
