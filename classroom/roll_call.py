"""Attendance by roster (点名): for sessions where nobody taps a kiosk — drills on the parade
ground, field training, visits — the trainer or the unit's leader ticks who was there.

The roster is the session's unit's active officers (else the units its course is open to), with
anyone already recorded. A tick stores one attendance event per person under a fixed id
(``roll-<session>-<person>``): saving the roll again changes those events instead of adding new
ones, so the page can be saved twice, or corrected, without double credit. Check-in and check-out
default to the session's planned times; a late arrival's are corrected on the roll. Unticking
withdraws the roll's own event, audited; what a kiosk or an import recorded is never touched.
At the parade ground a USB card reader (it types the card's number) marks its holder present."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.attendance import AttendanceError, check_times, record_attendance
from classroom.audit import audit
from classroom.db.models import Attendance, Person, PersonRole, Role, Session
from classroom.faces.enrollment import person_for_card

# A roster larger than this is not a roll call; it is an import.
MAX_ROSTER = 500


ROLL_PREFIX = "roll-"


def roll_uid(session_id: int, person_id: int) -> str:
    return f"{ROLL_PREFIX}{session_id}-{person_id}"


def from_the_roll(row: Attendance) -> bool:
    return row.event_uid.startswith(ROLL_PREFIX)


@dataclass(frozen=True)
class RollLine:
    person: Person
    # The event that counts for this person at this session, if any (the roll's own first).
    attendance: Attendance | None

    @property
    def present(self) -> bool:
        return self.attendance is not None

    @property
    def from_roll(self) -> bool:
        return self.attendance is not None and from_the_roll(self.attendance)


@dataclass(frozen=True)
class Mark:
    person_id: int
    present: bool
    check_in: datetime | None = None  # None: the session's planned start
    check_out: datetime | None = None  # None: the session's planned end


@dataclass(frozen=True)
class RollResult:
    added: int
    changed: int
    withdrawn: int


async def roster_of(db: AsyncSession, session: Session) -> list[Person]:
    """Who is expected: the session's unit's active officers, else those of its course's
    audience units; plus anyone already recorded at it. By name."""
    units = [session.unit_id] if session.unit_id is not None else session.course.audience_unit_ids
    expected = (
        select(Person)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.unit_id.in_(units), Person.active, PersonRole.role == Role.OFFICER)
        if units
        else None
    )
    recorded = select(Person).where(
        Person.id.in_(select(Attendance.person_id).where(Attendance.session_id == session.id))
    )
    query = recorded if expected is None else expected.union(recorded)
    people = await db.scalars(
        select(Person)
        .where(Person.id.in_(select(query.subquery().c.id)))
        .order_by(Person.display_name, Person.id)
        .limit(MAX_ROSTER)
    )
    return list(people)


async def roll_of(db: AsyncSession, session: Session) -> list[RollLine]:
    people = await roster_of(db, session)
    rows = await db.scalars(
        select(Attendance)
        .where(Attendance.session_id == session.id)
        .order_by(Attendance.check_in, Attendance.id)
    )
    found: dict[int, Attendance] = {}
    for row in rows:
        mine = found.get(row.person_id)
        if mine is None or (from_the_roll(row) and not from_the_roll(mine)):
            found[row.person_id] = row
    return [RollLine(p, found.get(p.id)) for p in people]


async def save_roll(
    db: AsyncSession, session: Session, actor: Person, marks: list[Mark]
) -> RollResult:
    """Apply the ticks, all or nothing (an AttendanceError names the first bad line): only the
    people of the session's roster, each once."""
    allowed = {p.id: p for p in await roster_of(db, session)}
    seen: set[int] = set()
    for m in marks:
        if m.person_id not in allowed:
            raise AttendanceError(f"person {m.person_id} is not on this session's roster")
        if m.person_id in seen:
            raise AttendanceError(f"person {m.person_id} is marked twice")
        seen.add(m.person_id)
        if m.present:
            check_times(session, *_times(session, m))
    added = changed = withdrawn = 0
    for m in marks:
        uid = roll_uid(session.id, m.person_id)
        row = await db.scalar(select(Attendance).where(Attendance.event_uid == uid))
        if m.present:
            check_in, check_out = _times(session, m)
            if row is None:
                await record_attendance(
                    db, session, allowed[m.person_id], check_in, check_out, actor, "roll", uid
                )
                added += 1
            elif (row.check_in, row.check_out) != (check_in, check_out):
                await audit(
                    db,
                    actor,
                    "attendance.correct",
                    f"session:{session.id}",
                    person_id=m.person_id,
                    before=[row.check_in.isoformat(), _iso(row.check_out)],
                    after=[check_in.isoformat(), _iso(check_out)],
                )
                row.check_in, row.check_out = check_in, check_out
                changed += 1
        elif row is not None:
            await audit(
                db,
                actor,
                "attendance.withdraw",
                f"session:{session.id}",
                person_id=m.person_id,
                check_in=row.check_in.isoformat(),
            )
            await db.delete(row)
            withdrawn += 1
    await db.flush()
    return RollResult(added, changed, withdrawn)


def _times(session: Session, m: Mark) -> tuple[datetime, datetime]:
    check_in = m.check_in or session.planned_start
    check_out = m.check_out or session.planned_end
    if check_out <= check_in:
        raise AttendanceError(f"person {m.person_id}: check-out must be after check-in")
    return check_in, check_out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# A card read this long before the session, or any time during it, is when the person arrived.
CARD_EARLY = timedelta(hours=1)


class CardRefused(ValueError):
    """``code``: unknown_card (no such card) or not_on_roster."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def mark_by_card(
    db: AsyncSession, session: Session, actor: Person, card_no: str, now: datetime
) -> tuple[Person, bool]:
    """A card read at the roll (a USB reader types its number): its person marked present,
    arriving now if the session is on (else at its start), leaving at its planned end; True if
    newly marked. Someone already marked stays as they are."""
    person = await person_for_card(db, card_no)
    if person is None:
        raise CardRefused("unknown_card", "no person has this card")
    if person.id not in {p.id for p in await roster_of(db, session)}:
        raise CardRefused("not_on_roster", f"{person.display_name} is not on this session's roster")
    existing = await db.scalar(
        select(Attendance).where(Attendance.event_uid == roll_uid(session.id, person.id))
    )
    if existing is not None:
        return person, False
    on = session.planned_start - CARD_EARLY <= now <= session.planned_end
    await save_roll(db, session, actor, [Mark(person.id, True, now if on else None)])
    return person, True
