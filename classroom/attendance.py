"""Recording attendance at a session (by its trainer, until the kiosk of step 4)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.db.models import Attendance, AttendanceSource, Person, Role, Session

# A check-in or check-out further than this from the session's planned times is a typing error.
SLACK = timedelta(hours=12)


class AttendanceError(ValueError):
    pass


def check_times(session: Session, check_in: datetime, check_out: datetime | None) -> None:
    if check_out is not None and check_out <= check_in:
        raise AttendanceError("check_out must be after check_in")
    lo, hi = session.planned_start - SLACK, session.planned_end + SLACK
    for label, value in (("check_in", check_in), ("check_out", check_out)):
        if value is not None and not lo <= value <= hi:
            raise AttendanceError(f"{label} {value.isoformat()} is far from the session's times")


async def record_attendance(
    db: AsyncSession,
    session: Session,
    person: Person,
    check_in: datetime,
    check_out: datetime | None,
    actor: Person,
    reason: str = "",
    event_uid: str | None = None,
    source: AttendanceSource = AttendanceSource.TRAINER,
) -> tuple[Attendance, bool]:
    """Store one attendance event; the same ``event_uid`` again returns the stored one (False)."""
    if event_uid is not None:
        existing = await db.scalar(select(Attendance).where(Attendance.event_uid == event_uid))
        if existing is not None:
            return existing, False
    if not person.has_role(Role.OFFICER):
        raise AttendanceError(f"person {person.id} is not an officer")
    check_times(session, check_in, check_out)
    row = Attendance(
        event_uid=event_uid or str(uuid.uuid4()),
        session_id=session.id,
        person_id=person.id,
        check_in=check_in,
        check_out=check_out,
        source=source,
        recorded_by_id=actor.id,
        reason=reason,
    )
    db.add(row)
    await db.flush()
    await audit(
        db,
        actor,
        "attendance.record",
        f"session:{session.id}",
        reason,
        person_id=person.id,
        attendance_id=row.id,
    )
    return row, True


async def session_attendance(db: AsyncSession, session_id: int) -> list[Attendance]:
    rows = await db.scalars(
        select(Attendance).where(Attendance.session_id == session_id).order_by(Attendance.check_in)
    )
    return list(rows)
