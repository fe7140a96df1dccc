"""A classroom's schedule: what its agent records on its own clock, and the iCalendar feed.

The agent caches what it is given and records from the cache while the portal is unreachable, so
each entry carries everything recording needs: the recording's id and object prefix (made here,
on first asking), the planned times, the camera preset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import RecordingState, Session
from classroom.recordings import object_prefix, scheduled_recording

# What the agent holds: a week ahead covers a long weekend with the portal down.
AGENT_AHEAD = timedelta(days=7)
AGENT_BEHIND = timedelta(hours=12)


@dataclass(frozen=True)
class ScheduleEntry:
    session_id: int
    title: str
    start: datetime
    end: datetime
    recording_id: int
    object_prefix: str
    state: RecordingState
    paused: bool
    ptz_preset: int | None


async def sessions_between(
    db: AsyncSession,
    classroom_id: int,
    lo: datetime,
    hi: datetime,
    auto_record_only: bool = False,
) -> list[Session]:
    q = select(Session).where(
        Session.classroom_id == classroom_id,
        Session.planned_end >= lo,
        Session.planned_start <= hi,
    )
    if auto_record_only:
        q = q.where(Session.auto_record.is_(True))
    return list(await db.scalars(q.order_by(Session.planned_start, Session.id)))


async def unit_sessions_between(
    db: AsyncSession, unit_id: int, lo: datetime, hi: datetime
) -> list[Session]:
    """A unit's own sessions (its studies and drills, wherever held) between ``lo`` and ``hi``."""
    q = select(Session).where(
        Session.unit_id == unit_id, Session.planned_end >= lo, Session.planned_start <= hi
    )
    return list(await db.scalars(q.order_by(Session.planned_start, Session.id)))


async def agent_schedule(db: AsyncSession, classroom_id: int, now: datetime) -> list[ScheduleEntry]:
    out = []
    for s in await sessions_between(
        db, classroom_id, now - AGENT_BEHIND, now + AGENT_AHEAD, auto_record_only=True
    ):
        rec = await scheduled_recording(db, s)
        out.append(
            ScheduleEntry(
                s.id,
                s.title,
                s.planned_start,
                s.planned_end,
                rec.id,
                object_prefix(rec),
                rec.state,
                rec.paused,
                s.ptz_preset,
            )
        )
    return out


# --- iCalendar (RFC 5545) ---------------------------------------------------------------------


def _text(value: str) -> str:
    """TEXT escaping (3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next with one leading space (3.1), never
    splitting a UTF-8 character (course titles are Chinese: 3 octets each)."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for ch in line:
        n = len(ch.encode())
        if size + n > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _where(s: Session) -> str:
    room = s.classroom
    return " ".join(x for x in (room.name, room.location) if x) if room else s.place


def to_ical(name: str, sessions: Iterable[Session], now: datetime, host: str) -> str:
    """A subscribed calendar (a classroom's, a unit's) named ``name``."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Smart Classroom//Classroom schedule//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(name)}",
    ]
    for s in sessions:
        # A subscribed feed (METHOD:PUBLISH) is re-read whole: clients replace events by UID, so
        # an extended session simply shows its new end.
        lines += [
            "BEGIN:VEVENT",
            f"UID:session-{s.id}@{host}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(s.planned_start)}",
            f"DTEND:{_stamp(s.planned_end)}",
            f"SUMMARY:{_text(s.title)}",
            f"LOCATION:{_text(_where(s))}",
            f"DESCRIPTION:{_text(f'{s.course.title} — {s.trainer.display_name}')}",
            f"CATEGORIES:{_text(s.kind.value)}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
