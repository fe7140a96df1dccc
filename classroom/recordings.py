"""The recording life cycle, as the portal sees it.

pending ──agent starts──▶ recording ──agent stops──▶ processing ──verified in S3──▶ available
   └──────────────── agent reports a failure at any point ────────────────▶ failed

Trainers ask; the portal writes commands for the classroom's agent (kept until acknowledged); the
agent reports; the portal believes an upload only after it has checked the object in the store.
A session recorded on schedule has its recording made (pending) when the schedule is served; the
agent starts and stops it on its own clock and reports both, late if the portal was down.
States only move forward: a late or repeated report never takes a recording back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Exists, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.booking import check_room_free
from classroom.db.models import (
    AgentCommand,
    CommandKind,
    CommandState,
    Person,
    Recording,
    RecordingState,
    Session,
)
from classroom.db.types import utcnow
from classroom.media_time import expected_media_s, gaps_on_record, missing_s
from classroom.protocol.layout import recording_prefix
from storage.object_store import ObjectNotFound, ObjectStore
from streaming.gaps import Gap

log = structlog.get_logger(__name__)


class RecordingConflict(RuntimeError):
    """The request does not fit the recording's state (HTTP 409)."""


def object_prefix(rec: Recording) -> str:
    return recording_prefix(rec.session_id, rec.id)


async def live_now(db: AsyncSession, session_ids: Collection[int] | None = None) -> dict[int, int]:
    """The sessions being recorded now (so live), each with its recording's id."""
    q = select(Recording.session_id, Recording.id).where(
        Recording.state == RecordingState.RECORDING
    )
    if session_ids is not None:
        q = q.where(Recording.session_id.in_(set(session_ids)))
    return {sid: rid for sid, rid in (await db.execute(q)).all()}


async def active_recording(db: AsyncSession, session_id: int) -> Recording | None:
    active = [s for s in RecordingState if s.active]
    return await db.scalar(
        select(Recording)
        .where(Recording.session_id == session_id, Recording.state.in_(active))
        .order_by(Recording.id.desc())
        .limit(1)
    )


async def _has_command(db: AsyncSession, rec: Recording, kind: CommandKind) -> bool:
    found = await db.scalar(
        select(AgentCommand.id).where(
            AgentCommand.recording_id == rec.id, AgentCommand.kind == kind
        )
    )
    return found is not None


def _commanded(kind: CommandKind) -> Exists:
    return exists().where(AgentCommand.recording_id == Recording.id, AgentCommand.kind == kind)


async def _recording_elsewhere(db: AsyncSession, session: Session) -> Session | None:
    """Another session of the same classroom whose recording runs or was asked to start (and not
    asked to stop, which is on its way out), if there is one: the classroom has one camera. One
    query: every session on the schedule has a pending recording."""
    return await db.scalar(
        select(Session)
        .join(Recording, Recording.session_id == Session.id)
        .where(
            Session.classroom_id == session.classroom_id,
            Session.id != session.id,
            Recording.state.in_([s for s in RecordingState if s.active]),
            or_(
                Recording.state == RecordingState.RECORDING,
                _commanded(CommandKind.START_RECORDING),
            ),
            ~_commanded(CommandKind.STOP_RECORDING),
        )
        .order_by(Recording.id)
        .limit(1)
    )


async def request_start(db: AsyncSession, session: Session, actor: Person) -> Recording:
    """Idempotent: pressing Start twice gives the one recording in progress. On a session
    recorded on schedule, Start before the schedule's time starts its recording early.

    The classroom's camera records one session at a time: Start while another session of the
    classroom records is refused, unless that session is past its planned end (running over, or in
    its post-roll), which is then stopped first — the schedule gives the next session the room."""
    rec = await active_recording(db, session.id)
    if rec is not None and (
        rec.state != RecordingState.PENDING
        or await _has_command(db, rec, CommandKind.START_RECORDING)
    ):
        return rec
    other = await _recording_elsewhere(db, session)
    if other is not None:
        if other.planned_end > utcnow():
            raise RecordingConflict(
                f"the classroom is recording session {other.id} ({other.title}) until "
                f"{other.planned_end.isoformat(timespec='minutes')}: stop it first"
            )
        await request_stop(db, other)
    if rec is None:
        rec = Recording(
            session_id=session.id, state=RecordingState.PENDING, requested_by_id=actor.id
        )
        db.add(rec)
        await db.flush()
    db.add(_command(rec, session, CommandKind.START_RECORDING))
    session.actual_start = session.actual_start or utcnow()
    await db.flush()
    return rec


async def request_stop(db: AsyncSession, session: Session) -> Recording:
    rec = await active_recording(db, session.id)
    if rec is None:
        raise RecordingConflict(f"session {session.id} has no recording in progress")
    if not await _has_command(db, rec, CommandKind.STOP_RECORDING):
        db.add(_command(rec, session, CommandKind.STOP_RECORDING))
        session.actual_end = utcnow()
        await db.flush()
    return rec


async def request_pause(db: AsyncSession, session: Session, paused: bool) -> Recording:
    """Pause (or resume) the recording in progress; asking for the state it is in changes
    nothing. The parts on either side of a pause are joined with the pause cut out."""
    rec = await active_recording(db, session.id)
    if rec is None or rec.state != RecordingState.RECORDING:
        raise RecordingConflict(f"session {session.id} is not being recorded now")
    if rec.paused != paused:
        rec.paused = paused
        kind = CommandKind.PAUSE_RECORDING if paused else CommandKind.RESUME_RECORDING
        db.add(_command(rec, session, kind))
        await db.flush()
    return rec


async def extend_session(db: AsyncSession, session: Session, minutes: int) -> Session:
    """Move the planned end later, unless the classroom is booked then (RoomBooked); the agent
    learns it with its next schedule refresh."""
    if session.actual_end is not None:
        raise RecordingConflict(f"session {session.id} has already ended")
    end = session.planned_end + timedelta(minutes=minutes)
    await check_room_free(db, session.classroom_id, session.planned_start, end, session.id)
    session.planned_end = end
    await db.flush()
    return session


async def scheduled_recording(db: AsyncSession, session: Session) -> Recording:
    """The recording of a session recorded on schedule, made on first asking: the agent needs its
    id and object prefix in its cached schedule, to record even if the portal is down then."""
    rec = await db.scalar(
        select(Recording)
        .where(Recording.session_id == session.id)
        .order_by(Recording.id.desc())
        .limit(1)
    )
    if rec is None:
        rec = Recording(session_id=session.id, state=RecordingState.PENDING)
        db.add(rec)
        await db.flush()
    return rec


async def agent_started(db: AsyncSession, rec: Recording, at: datetime) -> Recording:
    """The agent says it started (on schedule, or resuming); ``at`` is its own clock's time."""
    if rec.state == RecordingState.PENDING:
        rec.state = RecordingState.RECORDING
        rec.started_at = at
        rec.session.actual_start = rec.session.actual_start or at
        await db.flush()
    return rec


async def agent_stopped(db: AsyncSession, rec: Recording, at: datetime) -> Recording:
    if rec.state in (RecordingState.PENDING, RecordingState.RECORDING):
        rec.started_at = rec.started_at or at
        rec.state = RecordingState.PROCESSING
        rec.stopped_at = at
        rec.session.actual_end = rec.session.actual_end or at
        await db.flush()
    return rec


def _command(rec: Recording, session: Session, kind: CommandKind) -> AgentCommand:
    return AgentCommand(
        classroom_id=session.classroom_id,
        kind=kind,
        recording_id=rec.id,
        state=CommandState.PENDING,
    )


async def recordings_in_state(
    db: AsyncSession, classroom_id: int, state: RecordingState
) -> list[Recording]:
    rows = await db.scalars(
        select(Recording)
        .join(Session, Session.id == Recording.session_id)
        .where(Session.classroom_id == classroom_id, Recording.state == state)
        .order_by(Recording.id)
    )
    return list(rows)


async def pending_commands(db: AsyncSession, classroom_id: int) -> list[AgentCommand]:
    rows = await db.scalars(
        select(AgentCommand)
        .where(
            AgentCommand.classroom_id == classroom_id,
            AgentCommand.state == CommandState.PENDING,
        )
        .order_by(AgentCommand.id)
    )
    return list(rows)


async def complete_command(
    db: AsyncSession, cmd: AgentCommand, ok: bool, error: str | None = None
) -> None:
    """Apply an agent's acknowledgement; repeating one changes nothing."""
    if cmd.state != CommandState.PENDING:
        return
    cmd.state = CommandState.DONE if ok else CommandState.FAILED
    cmd.done_at = utcnow()
    cmd.error = error
    rec = await db.get(Recording, cmd.recording_id)
    assert rec is not None
    if rec.state in (RecordingState.AVAILABLE, RecordingState.FAILED):
        return
    if cmd.kind in (CommandKind.PAUSE_RECORDING, CommandKind.RESUME_RECORDING):
        await db.flush()  # a failed pause leaves the recording running: the error is kept
        return
    if not ok:
        rec.state = RecordingState.FAILED
        rec.error = error or f"{cmd.kind.value} failed"
        await db.flush()
    elif cmd.kind == CommandKind.START_RECORDING:
        await agent_started(db, rec, utcnow())
    else:
        await agent_stopped(db, rec, utcnow())


@dataclass(frozen=True)
class TrackReport:
    object_key: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class UploadReport:
    object_key: str
    segment_keys: list[str]
    duration_s: float
    size_bytes: int
    sha256: str
    tracks: dict[str, TrackReport] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)


async def _pauses(db: AsyncSession, rec: Recording) -> list[tuple[datetime, datetime | None]]:
    """When the agent paused and resumed the recording, by its acknowledgements."""
    done = await db.scalars(
        select(AgentCommand)
        .where(
            AgentCommand.recording_id == rec.id,
            AgentCommand.state == CommandState.DONE,
            AgentCommand.kind.in_((CommandKind.PAUSE_RECORDING, CommandKind.RESUME_RECORDING)),
        )
        .order_by(AgentCommand.done_at, AgentCommand.id)
    )
    pauses: list[tuple[datetime, datetime | None]] = []
    for cmd in done:
        if cmd.done_at is None:
            continue
        if cmd.kind == CommandKind.PAUSE_RECORDING:
            pauses.append((cmd.done_at, None))
        elif pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], cmd.done_at)
    return pauses


@dataclass(frozen=True)
class PlayableReport:
    """At Stop, before the MP4: the segments are in the store and the playlists over them."""

    segment_keys: list[str]
    duration_s: float
    tracks: dict[str, TrackReport]  # "hls", and "screen_hls" where the slides were captured
    gaps: list[Gap] = field(default_factory=list)


async def _note_media(
    db: AsyncSession, rec: Recording, duration_s: float, gaps: list[Gap], tolerance_s: float
) -> None:
    """How long the media is, and how much of the capture's wall time it misses (beyond
    ``tolerance_s``), and where."""
    rec.duration_s = duration_s
    rec.expected_s = expected_media_s(rec.started_at, rec.stopped_at, await _pauses(db, rec))
    rec.missing_s = missing_s(rec.expected_s, duration_s, tolerance_s)
    rec.gaps = gaps_on_record(gaps, rec.stopped_at, rec.missing_s, tolerance_s)
    if rec.missing_s:
        log.warning(
            "recording.media_missing", recording=rec.id, missing_s=rec.missing_s, gaps=rec.gaps
        )


def _keys_under_prefix(rec: Recording, keys: list[str]) -> None:
    prefix = object_prefix(rec)
    if not all(k.startswith(prefix) for k in keys):
        raise RecordingConflict(f"object keys must start with {prefix}")


async def report_playable(
    db: AsyncSession,
    rec: Recording,
    report: PlayableReport,
    store: ObjectStore,
    tolerance_s: float = 6.0,
) -> Recording:
    """The recording can be watched (its HLS) while the MP4 is made: accepted only if the store
    holds the playlists the report names. Said again (the agent restarted), it changes nothing
    once the MP4 is in."""
    if rec.state == RecordingState.AVAILABLE:
        return rec
    if rec.state != RecordingState.PROCESSING:
        raise RecordingConflict(f"recording {rec.id} is {rec.state.value}, not processing")
    if "hls" not in report.tracks:
        raise RecordingConflict("a playable recording needs its HLS playlist")
    _keys_under_prefix(rec, [*report.segment_keys, *(t.object_key for t in report.tracks.values())])
    for track in report.tracks.values():
        await _verify_in_store(store, track)
    rec.segment_keys = list(report.segment_keys)
    await _note_media(db, rec, report.duration_s, report.gaps, tolerance_s)
    rec.tracks = {name: asdict(t) for name, t in report.tracks.items()}
    rec.playable_at = rec.playable_at or utcnow()
    await db.flush()
    return rec


async def report_upload(
    db: AsyncSession,
    rec: Recording,
    report: UploadReport,
    store: ObjectStore,
    tolerance_s: float = 6.0,
) -> Recording:
    """Accept the agent's report only if the object store holds exactly what it claims; note
    how much media the capture's wall time says is missing (beyond ``tolerance_s``)."""
    if rec.state == RecordingState.AVAILABLE and rec.sha256 == report.sha256:
        return rec
    if rec.state != RecordingState.PROCESSING:
        raise RecordingConflict(f"recording {rec.id} is {rec.state.value}, not processing")
    _keys_under_prefix(
        rec,
        [
            report.object_key,
            *report.segment_keys,
            *(t.object_key for t in report.tracks.values()),
        ],
    )
    main = TrackReport(report.object_key, report.size_bytes, report.sha256)
    for track in (main, *report.tracks.values()):
        await _verify_in_store(store, track)
    rec.object_key = report.object_key
    rec.segment_keys = list(report.segment_keys)
    await _note_media(db, rec, report.duration_s, report.gaps, tolerance_s)
    rec.size_bytes = report.size_bytes
    rec.sha256 = report.sha256
    rec.tracks = {name: asdict(t) for name, t in report.tracks.items()}
    rec.state = RecordingState.AVAILABLE
    rec.available_at = utcnow()
    rec.error = None
    await db.flush()
    return rec


async def _verify_in_store(store: ObjectStore, track: TrackReport) -> None:
    try:
        info = await asyncio.to_thread(store.stat, track.object_key)
    except ObjectNotFound:
        raise RecordingConflict(f"{track.object_key} is not in the object store") from None
    if info.size != track.size_bytes or info.sha256 != track.sha256:
        raise RecordingConflict(
            f"{track.object_key}: store has size {info.size} sha256 {info.sha256}, "
            f"report says {track.size_bytes} {track.sha256}"
        )


async def report_failure(db: AsyncSession, rec: Recording, error: str) -> Recording:
    """The agent could not finish the recording. One already playable stays watchable (its
    segments and playlist are in the store): available without its MP4, the error kept."""
    if rec.state == RecordingState.AVAILABLE:
        return rec
    rec.error = error[:2000]
    if rec.playable:
        rec.state = RecordingState.AVAILABLE
        rec.available_at = utcnow()
    else:
        rec.state = RecordingState.FAILED
    await db.flush()
    return rec


class CommandSignal:
    """Wakes an agent's long poll as soon as a command for its classroom is committed.

    One portal process; with several, the long poll still re-reads the database every
    ``recheck_s``, so commands are only slower, never lost.
    """

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}
        self.closed = False

    def event(self, classroom_id: int) -> asyncio.Event:
        return self._events.setdefault(classroom_id, asyncio.Event())

    def close(self) -> None:
        """The portal is stopping: every long poll answers now, instead of holding the
        shutdown until it is cut off."""
        self.closed = True
        for ev in self._events.values():
            ev.set()
        self._events.clear()

    def notify(self, classroom_id: int) -> None:
        ev = self._events.pop(classroom_id, None)
        if ev is not None:
            ev.set()
