"""The recordings library: which recordings a person may find, by what they search and filter
on, and what each means to them (watched, credited, attended, still to watch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.courseware import courses_open_to
from classroom.db.models import (
    Attendance,
    Person,
    Recording,
    Role,
    Session,
    SessionStudyItem,
    WatchProgress,
)


@dataclass(frozen=True)
class RecordingFilter:
    text: str = ""  # in the session's title
    course_id: int | None = None
    trainer_id: int | None = None
    unit_id: int | None = None
    item_no: int | None = None  # a study-list item the session covered
    since: date | None = None  # the session's local date, inclusive
    until: date | None = None
    session_id: int | None = None
    to_watch: bool = False  # for the viewer: available, not credited, session not attended


@dataclass(frozen=True)
class Mark:
    """A recording as it stands for one viewer."""

    watched_s: float = 0.0
    credited: bool = False
    attended: bool = False

    def share(self, duration_s: float | None) -> float:
        return min(1.0, self.watched_s / duration_s) if duration_s else 0.0


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def recordings_query(person: Person, where: RecordingFilter, tz: tzinfo) -> Select[Recording]:
    """The recordings of the courses open to ``person`` that pass ``where``, newest first."""
    q = select(Recording).join(Session, Session.id == Recording.session_id)
    if not person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        q = q.where(Session.course_id.in_(courses_open_to(person)))
    if where.session_id is not None:
        q = q.where(Recording.session_id == where.session_id)
    if text := where.text.strip():
        q = q.where(func.lower(Session.title).contains(text.lower(), autoescape=True))
    if where.course_id is not None:
        q = q.where(Session.course_id == where.course_id)
    if where.trainer_id is not None:
        q = q.where(Session.trainer_id == where.trainer_id)
    if where.unit_id is not None:
        q = q.where(Session.unit_id == where.unit_id)
    if where.item_no is not None:
        q = q.where(
            exists().where(
                SessionStudyItem.session_id == Session.id,
                SessionStudyItem.item_no == where.item_no,
            )
        )
    if where.since is not None:
        q = q.where(Session.planned_start >= _midnight(where.since, tz))
    if where.until is not None:
        q = q.where(Session.planned_start < _midnight(where.until + timedelta(days=1), tz))
    if where.to_watch:
        q = q.where(
            Recording.playable,
            ~exists().where(
                Attendance.session_id == Recording.session_id, Attendance.person_id == person.id
            ),
            ~exists().where(
                WatchProgress.recording_id == Recording.id,
                WatchProgress.person_id == person.id,
                WatchProgress.credit_event_id.is_not(None),
            ),
        )
    return q.order_by(Recording.id.desc())


async def find_recordings(
    db: AsyncSession,
    person: Person,
    where: RecordingFilter,
    tz: tzinfo,
    limit: int | None = None,
    offset: int = 0,
) -> list[Recording]:
    return list(await db.scalars(recordings_query(person, where, tz).limit(limit).offset(offset)))


async def marks_for(
    db: AsyncSession, person: Person, recordings: Sequence[Recording]
) -> dict[int, Mark]:
    """What ``person`` has watched of each recording, and whether they were there."""
    ids = [r.id for r in recordings]
    progress = {
        row.recording_id: row
        for row in await db.scalars(
            select(WatchProgress).where(
                WatchProgress.person_id == person.id, WatchProgress.recording_id.in_(ids)
            )
        )
    }
    attended = set(
        await db.scalars(
            select(Attendance.session_id).where(
                Attendance.person_id == person.id,
                Attendance.session_id.in_({r.session_id for r in recordings}),
            )
        )
    )
    out = {}
    for r in recordings:
        row = progress.get(r.id)
        out[r.id] = Mark(
            watched_s=row.watched_s if row else 0.0,
            credited=bool(row and row.credit_event_id),
            attended=r.session_id in attended,
        )
    return out
