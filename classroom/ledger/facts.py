"""The inputs of the ledger: plain, immutable records, loaded from the database (or built by
tests). Every event carries its own id; the ledger counts each id once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from classroom.db.models import SessionKind, UnitKind


@dataclass(frozen=True)
class UnitFact:
    id: int
    name: str
    kind: UnitKind
    adjacent_district: bool = False


@dataclass(frozen=True)
class OfficerFact:
    id: int
    name: str
    unit_id: int | None
    badge_no: str | None = None
    # First day in service: a recruit (owes the practical training) when the plan's recruits
    # rule takes it in (Plan.is_recruit).
    hired_on: date | None = None
    # Counts toward a squad's drill attendance shares (执法人员).
    enforcement_staff: bool = True


@dataclass(frozen=True)
class StudyTag:
    item_no: int
    articles: int = 0  # for items studied by articles (#15: 3–4 a month)


@dataclass(frozen=True)
class SessionFact:
    id: int
    kind: SessionKind
    title: str
    start: datetime
    end: datetime
    unit_id: int | None = None  # the organising unit (unit study, drills); None: district
    study: tuple[StudyTag, ...] = ()

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


class AttendanceFact(NamedTuple):
    # A NamedTuple, not a dataclass: a bureau's year builds a million of these.
    id: str  # the event's own id (a UUID from the kiosk or agent, or a row id)
    session_id: int
    person_id: int
    check_in: datetime
    check_out: datetime | None = None  # None: stayed to the session's end


class FullyPresent(NamedTuple):
    """The people whose single check-in at a session was, by the database's measure, within the
    plan's tolerances with a millisecond to spare: present, full credit. A year's attendance is
    mostly this, so it arrives as one list per session rather than a row per person."""

    session_id: int
    person_ids: frozenset[int]


class PresenceFact(NamedTuple):
    """One check-in at a session, already measured against it (by the database, for a whole
    year at once): seconds late, seconds left early, seconds present within the session."""

    session_id: int
    person_id: int
    late_s: float
    early_s: float
    covered_s: float


@dataclass(frozen=True)
class CreditFact:
    """Credit that arrives already measured: the city platform's online training, watched
    recordings (step 5), and a manager's adjustment (which may be negative)."""

    id: str
    person_id: int
    source: str  # a CreditSource value, or "adjustment"
    on: date
    hours: float
    credits: float
    part: str | None = None  # adjustments name their part; others go by the plan's sources
    note: str = ""


@dataclass(frozen=True)
class CohortFact:
    """A cohort (期) of a multi-day task: its dates (inclusive) and the officers assigned to it."""

    id: int
    task: str  # the plan task's id
    number: int
    name: str
    starts_on: date
    ends_on: date
    members: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Facts:
    units: tuple[UnitFact, ...] = ()
    officers: tuple[OfficerFact, ...] = ()
    sessions: tuple[SessionFact, ...] = ()
    attendance: tuple[AttendanceFact, ...] = ()
    credits: tuple[CreditFact, ...] = ()
    # Single check-ins measured in SQL; a (session, person) appears here, in ``fully_present``
    # or in ``attendance``.
    presence: tuple[PresenceFact, ...] = ()
    fully_present: tuple[FullyPresent, ...] = ()
    cohorts: tuple[CohortFact, ...] = ()
