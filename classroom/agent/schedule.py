"""The agent's side of the schedule: a local copy that outlives the portal, the decision of
what to start and stop now, and the loop that applies it once a second.

Sessions recorded on schedule start and stop on this machine's clock, with or without the
portal. The decision is a pure function of the schedule, the clock and what is running here, so
it is tested without processes.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from classroom.agent.capture import Capture
from classroom.agent.client import PortalClient, PortalRefused, PortalRejected, PortalUnavailable
from classroom.agent.local import BY_SCHEDULE, PAUSED, STOPPED
from classroom.agent.reports import Report
from classroom.protocol.messages import AgentEvent, RecordingState, ScheduleEntry, recording_path

log = structlog.get_logger(__name__)

# Recordings in these portal states may still be (re)started by the schedule; the others are
# finished (processing, available) or given up (failed).
STARTABLE = (RecordingState.PENDING, RecordingState.RECORDING)


class ScheduleCache:
    """The last schedule the portal gave, in one JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, entries: Iterable[ScheduleEntry], fetched_at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {
            "fetched_at": fetched_at.isoformat(),
            "entries": [e.model_dump(mode="json") for e in entries],
        }
        with tmp.open("w") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    def load(self) -> tuple[list[ScheduleEntry], datetime | None]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return [], None
        return [ScheduleEntry.model_validate(r) for r in data["entries"]], datetime.fromisoformat(
            data["fetched_at"]
        )


@dataclass(frozen=True)
class Decision:
    start: tuple[ScheduleEntry, ...]
    stop: tuple[ScheduleEntry, ...]


def decide(
    entries: Iterable[ScheduleEntry],
    now: datetime,
    running: set[int],
    finished: set[int],
    paused: set[int],
    preroll: timedelta,
    postroll: timedelta,
) -> Decision:
    """What to start and stop at ``now``.

    ``running``: recordings whose ffmpeg runs here; ``finished``: stopped here (by the schedule or
    a trainer's Stop) — never started again; ``paused``: paused by the trainer — neither started
    nor counted as done. A recording started by hand before its window keeps running into it;
    one still running after its window (plus post-roll) is stopped, paused ones too.

    One camera, one recording: nothing starts while another recording runs here, except that a
    session past its planned end (in its post-roll) hands the camera to the next one's pre-roll;
    of several due at once, the earliest starts. (The portal refuses double bookings; this holds
    for a schedule cached before it did, and for a recording started by hand.)
    """
    start, stop = [], []
    due = []
    for e in entries:
        rid = e.recording_id
        if rid in finished:
            continue
        in_window = e.start - preroll <= now < e.end + postroll
        if in_window:
            if rid not in running and rid not in paused and not e.paused and e.state in STARTABLE:
                due.append(e)
        elif now >= e.end + postroll and (rid in running or rid in paused):
            stop.append(e)
    if due:
        by_id = {e.recording_id: e for e in entries}
        others = running - {e.recording_id for e in stop}
        handing_over = [by_id[r] for r in others if r in by_id and now >= by_id[r].end]
        if len(handing_over) == len(others):  # the camera is free, or in post-roll only
            stop.extend(handing_over)
            start.append(min(due, key=lambda e: (e.start, e.recording_id)))
    return Decision(tuple(start), tuple(stop))


class ScheduleFollower:
    """Fetches the schedule every ``refresh_s`` (the cached one while the portal is out of
    reach), and starts and stops what it says, telling the portal what it did and when."""

    def __init__(
        self,
        portal: PortalClient,
        cache: ScheduleCache,
        capture: Capture,
        report: Report,
        finish: Callable[[int, str], None],
        preroll: timedelta,
        postroll: timedelta,
        refresh_s: float,
    ) -> None:
        self.portal = portal
        self.cache = cache
        self.capture = capture
        self.report = report
        self.finish = finish  # begin finishing a stopped recording (its id and object prefix)
        self.preroll, self.postroll, self.refresh_s = preroll, postroll, refresh_s
        self.entries, _ = cache.load()

    def preset_of(self, recording_id: int) -> int | None:
        return next((e.ptz_preset for e in self.entries if e.recording_id == recording_id), None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_fetch = 0.0
        while True:
            if loop.time() >= next_fetch:
                await self.refresh()
                next_fetch = loop.time() + self.refresh_s
            await self.apply(datetime.now(UTC))
            await asyncio.sleep(1.0)

    async def refresh(self) -> None:
        try:
            entries = await self.portal.schedule()
        except (PortalUnavailable, PortalRejected, PortalRefused) as exc:
            log.info("agent.schedule_from_cache", error=str(exc)[:200], entries=len(self.entries))
            return
        self.entries = entries
        await asyncio.to_thread(self.cache.save, entries, datetime.now(UTC))
        listed = {e.recording_id for e in entries}
        recordings = self.capture.recordings
        for rid in sorted(recordings.marked(set(self.capture.recorders), BY_SCHEDULE) - listed):
            # Its session was cancelled on the portal after this agent began it (in its pre-roll,
            # or while the portal was out of reach): nothing in the schedule would ever end it,
            # and it would keep the camera from the sessions after it. What it recorded is kept.
            log.warning("agent.schedule_dropped", recording=rid)
            await self._stop(rid, self.capture.prefixes[rid], datetime.now(UTC))

    async def apply(self, now: datetime) -> None:
        ids = {e.recording_id for e in self.entries}
        recordings = self.capture.recordings
        decision = decide(
            self.entries,
            now,
            running=set(self.capture.recorders),
            finished=recordings.marked(ids, STOPPED),
            paused=recordings.marked(ids, PAUSED),
            preroll=self.preroll,
            postroll=self.postroll,
        )
        for e in decision.stop:  # first: a session in its post-roll hands over the camera
            log.info("agent.schedule_stop", recording=e.recording_id, session=e.session_id)
            await self._stop(e.recording_id, e.object_prefix, now)
        for e in decision.start:
            log.info("agent.schedule_start", recording=e.recording_id, session=e.session_id)
            try:
                await self.capture.start(e.recording_id, e.object_prefix, e.ptz_preset)
            except Exception:
                log.exception("agent.schedule_start_failed", recording=e.recording_id)
                continue
            recordings.mark(e.recording_id, BY_SCHEDULE, True)
            await self.report(recording_path(e.recording_id, "started"), AgentEvent(at=now))

    async def _stop(self, recording_id: int, prefix: str, at: datetime) -> None:
        await self.report(recording_path(recording_id, "stopped"), AgentEvent(at=at))
        await self.capture.stop(recording_id)
        self.finish(recording_id, prefix)
