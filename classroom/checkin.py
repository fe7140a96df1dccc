"""Check-in at a classroom's kiosk (or by its agent's card reader): which session is open there
now, and the attendance event for a person who shows up.

A session is open from ``open_before`` ahead of its planned start until its end (the actual end
if it was stopped, else the planned one). A classroom holds one session at a time, but back to
back the next one opens while the one before it ends: a tap then is for the next one (someone
arriving for it, not someone arriving at the very end of the other), and a check-out closes
whichever of the two the person is checked in to.

Checking in twice is one check-in; checking out sets the time the person left (no check-out: they
stayed to the end, as the ledger reads it). Every event has its own id (a kiosk's or an agent's
UUID), so an event delivered twice is stored once.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from classroom.audit import audit
from classroom.db.models import Attendance, AttendanceSource, Person, Role, Session
from classroom.db.types import utcnow

NO_SESSION = "no session in this classroom now"

# A tap kept by a device while the portal was unreachable (the agent's outbox, the kiosk page's
# storage) is delivered later with the time it was made: at most this old, and no further ahead
# than a device's clock may run.
QUEUED_TAP_MAX_AGE = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)


def tap_time_ok(at: datetime, now: datetime) -> bool:
    return now - QUEUED_TAP_MAX_AGE <= at <= now + CLOCK_SKEW


class CheckinOutcome(enum.StrEnum):
    """What a check-in came to, wherever it was made (kiosk face or card, the card batcher,
    the agent's reader); the words the APIs answer with."""

    CHECKED_IN = "checked_in"
    ALREADY = "already"
    UNKNOWN_CARD = "unknown_card"
    NO_SESSION = "no_session"
    NOT_AN_OFFICER = "not_an_officer"
    NOT_CHECKED_IN = "not_checked_in"  # a check-out without a check-in


def judge(*, known: bool, session_open: bool, officer: bool, in_already: bool) -> CheckinOutcome:
    """The check-in rules, in the order they are told to the person: an unknown (or inactive)
    person, then no session open in the room, then not an officer; else in (once)."""
    if not known:
        return CheckinOutcome.UNKNOWN_CARD
    if not session_open:
        return CheckinOutcome.NO_SESSION
    if not officer:
        return CheckinOutcome.NOT_AN_OFFICER
    return CheckinOutcome.ALREADY if in_already else CheckinOutcome.CHECKED_IN


class CheckinRefused(ValueError):
    def __init__(self, code: CheckinOutcome, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CheckinResult:
    person: Person
    session: Session
    attendance: Attendance
    already: bool  # this person was already checked in (or out)


def _is_open(classroom_id: int, now: datetime, open_before: timedelta) -> ColumnElement[bool]:
    return and_(
        Session.classroom_id == classroom_id,
        Session.planned_start <= now + open_before,
        func.coalesce(Session.actual_end, Session.planned_end) > now,
    )


async def open_session(
    db: AsyncSession, classroom_id: int, now: datetime, open_before: timedelta
) -> Session | None:
    """The session a tap is for: of those open, the latest to start."""
    # The session's own columns only: a Session loads its course, classroom, trainer (with roles)
    # and study items eagerly, five joins and two more queries that a kiosk tap never reads.
    return await db.scalar(
        select(Session)
        .options(raiseload("*"))
        .where(_is_open(classroom_id, now, open_before))
        .order_by(Session.planned_start.desc())
        .limit(1)
    )


async def _open(
    db: AsyncSession, classroom_id: int, now: datetime, open_before: timedelta
) -> Session:
    session = await open_session(db, classroom_id, now, open_before)
    if session is None:
        raise CheckinRefused(CheckinOutcome.NO_SESSION, NO_SESSION)
    return session


async def check_in(
    db: AsyncSession,
    classroom_id: int,
    person: Person,
    via: str,
    open_before: timedelta,
    at: datetime | None = None,
    event_uid: str | None = None,
    source: AttendanceSource = AttendanceSource.KIOSK,
) -> CheckinResult:
    now = at or utcnow()
    if event_uid is not None:
        seen = await db.scalar(select(Attendance).where(Attendance.event_uid == event_uid))
        if seen is not None:
            session = await db.get(Session, seen.session_id)
            assert session is not None
            return CheckinResult(person, session, seen, already=True)
    session = await open_session(db, classroom_id, now, open_before)
    existing = None
    if session is not None:
        existing = await db.scalar(
            select(Attendance)
            .where(Attendance.session_id == session.id, Attendance.person_id == person.id)
            .order_by(Attendance.check_in.desc())
            .limit(1)
        )
    outcome = judge(
        known=True,
        session_open=session is not None,
        officer=person.has_role(Role.OFFICER),
        in_already=existing is not None and existing.check_out is None,
    )
    if outcome == CheckinOutcome.NO_SESSION:
        raise CheckinRefused(outcome, NO_SESSION)
    if outcome == CheckinOutcome.NOT_AN_OFFICER:
        raise CheckinRefused(outcome, f"{person.display_name} is not an officer")
    assert session is not None
    if outcome == CheckinOutcome.ALREADY:
        assert existing is not None
        return CheckinResult(person, session, existing, already=True)
    row = Attendance(
        event_uid=event_uid or str(uuid.uuid4()),
        session_id=session.id,
        person_id=person.id,
        check_in=now,  # early is fine: presence is measured from the session's start
        check_out=None,
        source=source,
        recorded_by_id=None,
        reason=via,
    )
    db.add(row)
    await db.flush()
    return CheckinResult(person, session, row, already=False)


async def check_out(
    db: AsyncSession,
    classroom_id: int,
    person: Person,
    open_before: timedelta,
    at: datetime | None = None,
) -> CheckinResult:
    now = at or utcnow()
    row = await db.scalar(
        select(Attendance)
        .join(Session, Session.id == Attendance.session_id)
        .where(
            _is_open(classroom_id, now, open_before),
            Attendance.person_id == person.id,
            Attendance.check_out.is_(None),
        )
        .order_by(Attendance.check_in.desc())
        .limit(1)
    )
    if row is None:
        await _open(db, classroom_id, now, open_before)  # no session open: that is the refusal
        raise CheckinRefused(
            CheckinOutcome.NOT_CHECKED_IN, f"{person.display_name} has not checked in"
        )
    session = await db.get(Session, row.session_id, options=[raiseload("*")])
    assert session is not None
    row.check_out = max(now, row.check_in)
    await db.flush()
    return CheckinResult(person, session, row, already=False)


async def unknown_card(db: AsyncSession, classroom_id: int, card_no: str) -> None:
    """Logged for the managers: a card nobody registered was shown at a kiosk."""
    await audit(db, None, "kiosk.unknown_card", f"classroom:{classroom_id}", card=card_no[:64])
