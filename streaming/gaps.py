"""Where a recording's capture stopped, for how long, and why — from what the recorder left on
disk, so an agent killed and restarted still knows.

Each ffmpeg run of a recording writes ``cache/run-NNNN/list.csv`` (its segments' media times,
from 0 at its first frame) and the recorder beside it ``run.json``: the wall time it was spawned
and, when the recorder saw it end, why (``RunEnd``). A run that ended without a word (no reason)
was ended with the agent: killed, or the machine went down. Between two runs, the wall time not
covered by the first run's media is a gap, unless the first was paused; inside a run, a segment
that did not decode is one. After the last run, a run that did not end by a stop or a pause
leaves the rest of the session uncaptured: a gap open to the recording's stop, which the portal
knows and the agent may not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Shorter pauses between runs are ffmpeg starting up again, not worth a line on the page.
MIN_GAP_S = 1.0
RUN_FILE = "run.json"
RUN_FILE_BYTES = 512  # padded with spaces: rewritten in place (see _write)


class RunEnd(StrEnum):
    """Why the recorder saw one ffmpeg run end."""

    STOPPED = "stopped"  # the recording was stopped
    PAUSED = "paused"  # the trainer paused it
    SHUTDOWN = "shutdown"  # the agent was shut down while recording
    FAILED = "failed"  # ffmpeg exited by itself
    STALLED = "stalled"  # ffmpeg wrote no segment for too long and was stopped
    DISK_FULL = "disk_full"  # ffmpeg could not write


class GapReason(StrEnum):
    """Why a stretch of the session is not in the recording, as the page says it."""

    AGENT_DOWN = "agent_down"
    CAPTURE_FAILED = "capture_failed"
    DISK_FULL = "disk_full"
    SEGMENT_REJECTED = "segment_rejected"
    # The portal's: media missing that no gap the agent reported accounts for.
    UNEXPLAINED = "unexplained"


_GAP_AFTER: dict[RunEnd | None, GapReason | None] = {
    RunEnd.STOPPED: None,
    RunEnd.PAUSED: None,
    RunEnd.SHUTDOWN: GapReason.AGENT_DOWN,
    None: GapReason.AGENT_DOWN,
    RunEnd.FAILED: GapReason.CAPTURE_FAILED,
    RunEnd.STALLED: GapReason.CAPTURE_FAILED,
    RunEnd.DISK_FULL: GapReason.DISK_FULL,
}


@dataclass(frozen=True)
class Gap:
    at_s: float  # where in the recording's media it falls
    start: datetime  # when capture stopped, by the agent's clock
    seconds: float | None  # None: until the recording's stop
    reason: GapReason

    def json(self) -> dict[str, Any]:
        return {
            "at_s": round(self.at_s, 3),
            "start": self.start.astimezone(UTC).isoformat(),
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "reason": self.reason.value,
        }


@dataclass(frozen=True)
class _Run:
    number: int
    started: datetime | None
    end: RunEnd | None
    listed: list[tuple[str, float, float]]  # (file name, media start, media end)
    seen: tuple[datetime, float] | None  # the wall time its media stood at a media time

    def media_began(self) -> datetime | None:
        """When its first frame was, on the wall clock: ffmpeg's start-up is part of the gap
        before it, uncaptured like the rest. Never before its spawn: an input read ahead (a
        microphone paced by -re) puts the media clock a little ahead of the wall's."""
        if self.seen is None:
            return self.started
        wall, media = self.seen
        began = wall - timedelta(seconds=media)
        return began if self.started is None else max(began, self.started)

    def media_ended(self) -> datetime | None:
        """When its last listed media ended, on the wall clock."""
        media_end = self.listed[-1][2] if self.listed else 0.0
        if self.seen is not None:
            wall, media = self.seen
            return wall + timedelta(seconds=media_end - media)
        if self.started is not None:
            return self.started + timedelta(seconds=media_end)
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Best effort: a full disk must not stop the capture over this note (a gap it would have
    explained is then reported as unexplained). The note keeps one size, and once it exists it
    is rewritten in place: that needs no new block, so a run that ends because the disk filled
    can still say so."""
    payload = json.dumps(data).encode().ljust(RUN_FILE_BYTES)
    try:
        if len(payload) == RUN_FILE_BYTES and path.exists():
            with path.open("r+b") as note:
                note.write(payload)
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("recorder.run_note_failed", path=str(path), error=str(exc)[:200])


def run_started(run_dir: Path, at: datetime) -> None:
    _write(run_dir / RUN_FILE, {"started": at.astimezone(UTC).isoformat()})


def run_seen(run_dir: Path, line: str, at: datetime) -> None:
    """The recorder saw ``line`` of the run's list at ``at``: where the run's media clock stands
    on the wall clock (ffmpeg may read its inputs ahead at first, and a camera's clock drifts:
    the spawn time alone would place the run's end too early)."""
    parsed = _parse(line)
    if parsed is not None:
        _write(
            run_dir / RUN_FILE,
            {**_read(run_dir), "seen": [at.astimezone(UTC).isoformat(), parsed[2]]},
        )


def run_ended(run_dir: Path, end: RunEnd) -> None:
    """Said once: the first reason the recorder saw is the run's."""
    data = _read(run_dir)
    if "end" not in data:
        _write(run_dir / RUN_FILE, {**data, "end": end.value})


def _read(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _parse(line: str) -> tuple[str, float, float] | None:
    """A line of ffmpeg's CSV segment list: file name, media start, media end."""
    parts = line.strip().split(",")
    try:
        return parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        return None


def _listed(run_dir: Path) -> list[tuple[str, float, float]]:
    try:
        lines = (run_dir / "list.csv").read_text().splitlines()
    except OSError:
        return []
    return [p for p in map(_parse, lines) if p is not None]


def _runs(workdir: Path) -> list[_Run]:
    runs = []
    for run_dir in sorted((workdir / "cache").glob("run-*")):
        try:
            number = int(run_dir.name[4:])
        except ValueError:
            continue
        data = _read(run_dir)
        listed = _listed(run_dir)
        if not data and not listed:
            continue  # spawned on a full disk: it could write nothing, not even its note
        try:
            started = datetime.fromisoformat(data["started"])
        except (KeyError, TypeError, ValueError):
            started = None
        try:
            end = RunEnd(data["end"])
        except (KeyError, ValueError):
            end = None
        try:
            seen: tuple[datetime, float] | None = (
                datetime.fromisoformat(data["seen"][0]),
                float(data["seen"][1]),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            seen = None
        runs.append(_Run(number, started, end, listed, seen))
    return runs


def recording_gaps(workdir: Path, min_gap_s: float = MIN_GAP_S) -> list[Gap]:
    """The gaps in a recording's capture, in the order they fall, from its directory (the
    recorder's layout: ``cache/``, ``rejected/``)."""
    gaps: list[Gap] = []
    at_s = 0.0
    previous: tuple[_Run, datetime | None] | None = None  # a run and when its media ended
    for run in _runs(workdir):
        if previous is not None:
            before, ended = previous
            reason = _GAP_AFTER[before.end]
            began = run.media_began()
            if reason is not None and ended is not None and began is not None:
                seconds = (began - ended).total_seconds()
                if seconds >= min_gap_s:
                    gaps.append(Gap(at_s, ended, seconds, reason))
        for name, start, end in run.listed:
            if (workdir / "rejected" / f"r{run.number:04d}-{name}").exists():
                began = run.media_began()
                if began is not None and end - start >= min_gap_s:
                    when = began + timedelta(seconds=start)
                    gaps.append(Gap(at_s, when, end - start, GapReason.SEGMENT_REJECTED))
            else:
                at_s += end - start
        previous = (run, run.media_ended())
    if previous is not None:
        last, ended = previous
        reason = _GAP_AFTER[last.end]
        if reason is not None and ended is not None:
            gaps.append(Gap(at_s, ended, None, reason))
    return _merged(gaps)


def _merged(gaps: list[Gap]) -> list[Gap]:
    """Gaps with no media between them are one (runs restarted into a full disk that failed at
    once), for the reason the first began."""
    merged: list[Gap] = []
    for gap in gaps:
        before = merged[-1] if merged else None
        if before is not None and before.at_s == gap.at_s and before.seconds is not None:
            seconds = None if gap.seconds is None else before.seconds + gap.seconds
            merged[-1] = Gap(before.at_s, before.start, seconds, before.reason)
        else:
            merged.append(gap)
    return merged
