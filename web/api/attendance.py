"""Attendance at a session: its trainer records and reads it; managers read all."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from classroom.attendance import AttendanceError, record_attendance, session_attendance
from classroom.db.models import Attendance, AttendanceSource, Person, Role, Session
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
    if person.has_role(Role.MANAGER, Role.ADMIN):
        return
    if person.has_role(Role.TRAINER) and session.trainer_id == person.id:
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, "trainers see the attendance of their own sessions only"
    )


def check_writes(person: Person, session: Session) -> None:
    if person.has_role(Role.ADMIN) or (
        person.has_role(Role.TRAINER) and session.trainer_id == person.id
    ):
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, "only the session's trainer or an admin records attendance"
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
