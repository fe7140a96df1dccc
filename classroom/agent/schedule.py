"""The agent's side of the schedule: a local copy that outlives the portal, and the decision
of what to start and stop now.

The decision is a pure function of the schedule, the clock and what is running here, so it is
tested without processes; the runner applies it once a second.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from classroom.protocol.messages import RecordingState, ScheduleEntry

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
