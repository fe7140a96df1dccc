"""Attendance at a session: its trainer records and reads it; managers read all."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from classroom.attendance import AttendanceError, record_attendance, session_attendance
from classroom.db.models import Attendance, AttendanceSource, Person, Role, Session
from classroom.db.types import utcnow
from classroom.roll_call import (
    MAX_ROSTER,
    CardRefused,
    Mark,
    RollLine,
    mark_by_card,
    roll_of,
    save_roll,
)
from classroom.scope import runs_session
from web.api.sessions import get_session_or_404
from web.deps import DB, CurrentPerson
from web.schemas import Id

router = APIRouter(prefix="/sessions/{session_id}/attendance", tags=["attendance"])


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Id
    check_in: AwareDatetime
    check_out: AwareDatetime | None = None
    reason: str = Field(default="", max_length=500)
    event_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{8,64}$")


class AttendanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_uid: str
    session_id: Id
    person_id: Id
    check_in: datetime
    check_out: datetime | None
    source: AttendanceSource
    recorded_by_id: Id | None
    reason: str


def check_reads(person: Person, session: Session) -> None:
    if person.has_role(Role.MANAGER) or runs_session(person, session):
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        "trainers and unit leaders see the attendance of their own sessions only",
    )


def check_writes(person: Person, session: Session) -> None:
    if runs_session(person, session):
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        "only the session's trainer, its unit's leader or an admin records attendance",
    )


@router.get("", response_model=list[AttendanceOut])
async def list_attendance(session_id: Id, db: DB, person: CurrentPerson) -> list[Attendance]:
    session = await get_session_or_404(db, session_id)
    check_reads(person, session)
    return await session_attendance(db, session_id)


@router.post("", response_model=AttendanceOut, status_code=status.HTTP_201_CREATED)
async def add_attendance(
    session_id: Id, body: AttendanceIn, db: DB, person: CurrentPerson
) -> Attendance:
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    who = await db.get(Person, body.person_id)
    if who is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {body.person_id} not found")
    try:
        row, _ = await record_attendance(
            db, session, who, body.check_in, body.check_out, person, body.reason, body.event_id
        )
    except AttendanceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await db.commit()
    return row


class RollLineOut(BaseModel):
    person_id: Id
    display_name: str
    badge_no: str | None
    present: bool
    from_roll: bool  # False: a kiosk, a card or an import recorded it (the roll leaves it be)
    check_in: datetime | None
    check_out: datetime | None

    @classmethod
    def of(cls, line: RollLine) -> RollLineOut:
        a = line.attendance
        return cls(
            person_id=line.person.id,
            display_name=line.person.display_name,
            badge_no=line.person.badge_no,
            present=line.present,
            from_roll=line.from_roll,
            check_in=a.check_in if a else None,
            check_out=a.check_out if a else None,
        )


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Id
    present: bool
    check_in: AwareDatetime | None = None  # default: the session's planned start
    check_out: AwareDatetime | None = None  # default: the session's planned end


class RollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marks: list[MarkIn] = Field(max_length=MAX_ROSTER)


class RollOut(BaseModel):
    session_id: Id
    added: int = 0
    changed: int = 0
    withdrawn: int = 0
    lines: list[RollLineOut]


@router.get("/roll", response_model=RollOut)
async def get_roll(session_id: Id, db: DB, person: CurrentPerson) -> RollOut:
    """The session's roster with who is marked present (any source)."""
    session = await get_session_or_404(db, session_id)
    check_reads(person, session)
    lines = await roll_of(db, session)
    return RollOut(session_id=session.id, lines=[RollLineOut.of(x) for x in lines])


@router.put("/roll", response_model=RollOut)
async def put_roll(session_id: Id, body: RollIn, db: DB, person: CurrentPerson) -> RollOut:
    """Tick who was there (the trainer, the unit's leader or an admin): all or nothing, saved
    again without doubling anything (classroom/roll_call.py)."""
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    try:
        result = await save_roll(db, session, person, [Mark(**m.model_dump()) for m in body.marks])
    except AttendanceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await db.commit()
    lines = await roll_of(db, session)
    return RollOut(
        session_id=session.id,
        added=result.added,
        changed=result.changed,
        withdrawn=result.withdrawn,
        lines=[RollLineOut.of(x) for x in lines],
    )


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_no: str = Field(min_length=1, max_length=64)


@router.post("/roll/card", response_model=RollLineOut)
async def roll_by_card(session_id: Id, body: CardIn, db: DB, person: CurrentPerson) -> RollLineOut:
    """A card read at the roll: its holder marked present (classroom/roll_call.py)."""
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    try:
        who, _ = await mark_by_card(db, session, person, body.card_no, utcnow())
    except CardRefused as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": exc.code, "message": str(exc)}
        ) from None
    await db.commit()
    line = next(x for x in await roll_of(db, session) if x.person.id == who.id)
    return RollLineOut.of(line)
