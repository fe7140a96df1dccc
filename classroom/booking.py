"""Booking a classroom's time, and giving it back: a classroom holds one session at a time.

Its one camera records one session, and its kiosk must know whose class a tap is for: a second
session booked over the first would go unrecorded and its officers' check-ins would land in the
other session (the kiosk takes the session open at the time). So a booking, or an extension, that
overlaps another session of the classroom is refused. Sessions touching end to start do not
overlap, and a session stopped early frees the room from its actual end. Sessions held at a place
without a classroom (drills on the parade ground, field training) clash with nothing.

A session booked by mistake is cancelled, which gives its time back, as long as it has not been
held: once it started, was recorded or anybody checked in, it is part of the ledger and stays.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    AgentCommand,
    Attendance,
    Classroom,
    Courseware,
    LiveQuestion,
    Recording,
    RecordingState,
    Session,
    SessionSeries,
)


class RoomBooked(ValueError):
    """The classroom holds another session during the time asked for."""

    def __init__(self, other: Session) -> None:
        self.other_id, self.title = other.id, other.title
        self.start, self.end = other.planned_start, session_end(other)
        super().__init__(self.described(UTC)["message"])

    def described(self, tz: tzinfo) -> dict[str, object]:
        """What refused it, for people (``message``, in the time zone given) and programs."""
        start, end = (
            t.astimezone(tz).isoformat(timespec="minutes") for t in (self.start, self.end)
        )
        return {
            "code": "room_booked",
            "field": "classroom_id",
            "message": f"the classroom is booked for session {self.other_id} ({self.title}) "
            f"from {start} to {end}",
            "session_id": self.other_id,
            "title": self.title,
            "start": start,
            "end": end,
        }


def session_end(session: Session) -> datetime:
    return session.actual_end or session.planned_end


async def check_room_free(
    db: AsyncSession,
    classroom_id: int | None,
    start: datetime,
    end: datetime,
    session_id: int | None = None,
) -> None:
    """Raise RoomBooked naming the first other session of the classroom whose time overlaps
    [start, end). The classroom's row is written first: that write lock makes two bookings of one
    classroom at once check one after the other (a row lock on PostgreSQL, the database's write
    lock on SQLite), so both cannot pass on what the other has not yet committed. It is held
    until the caller's transaction ends. A session without a classroom (held at a place) clashes
    with nothing: a parade ground holds several squads, and nothing records there."""
    if classroom_id is None:
        return
    await db.execute(
        update(Classroom)
        .where(Classroom.id == classroom_id)
        .values(id=Classroom.id)
        .execution_options(synchronize_session=False)
    )
    q = select(Session).where(
        Session.classroom_id == classroom_id,
        Session.planned_start < end,
        func.coalesce(Session.actual_end, Session.planned_end) > start,
    )
    if session_id is not None:
        q = q.where(Session.id != session_id)
    other = await db.scalar(q.order_by(Session.planned_start).limit(1))
    if other is not None:
        raise RoomBooked(other)


class SessionHeld(ValueError):
    """The session has been held (started, recorded, attended): it stays on the record."""


async def was_held(db: AsyncSession, session: Session) -> bool:
    """Started, recorded (or asked to be), attended or asked questions of."""
    if session.actual_start is not None:
        return True
    recordings = select(Recording.id).where(Recording.session_id == session.id)
    return bool(
        await db.scalar(
            select(
                exists().where(Attendance.session_id == session.id)
                | exists().where(LiveQuestion.session_id == session.id)
                | exists().where(
                    Recording.session_id == session.id, Recording.state != RecordingState.PENDING
                )
                | exists().where(AgentCommand.recording_id.in_(recordings))
            )
        )
    )


async def cancel_session(db: AsyncSession, session: Session) -> None:
    """Delete a session that has not been held, with the recording the schedule made for it
    (still pending: never started, never commanded). Its courseware stays with the course.
    Raise SessionHeld otherwise."""
    if await was_held(db, session):
        raise SessionHeld(f"session {session.id} has been held: it stays on the record")
    await db.execute(
        update(Courseware)
        .where(Courseware.session_id == session.id)
        .values(session_id=None)
        .execution_options(synchronize_session=False)
    )
    await db.execute(
        delete(Recording)
        # A recording started since the check above stays, and so (by its key) does the session.
        .where(Recording.session_id == session.id, Recording.state == RecordingState.PENDING)
        .execution_options(synchronize_session=False)
    )
    await db.delete(session)
    await db.flush()


async def take_out_of_series(db: AsyncSession, session: Session, tz: tzinfo) -> None:
    """A cancelled occurrence is an exception of its series (its date, in ``tz``): a later
    change of the series does not book it again."""
    if session.series_id is None or session.occurrence is None:
        return
    series = await db.get(SessionSeries, session.series_id)
    if series is not None:
        day = session.occurrence.astimezone(tz).date().isoformat()
        series.exdates = sorted({*series.exdates, day})
