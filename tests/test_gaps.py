"""Gaps in a recording's capture, from what the recorder leaves on disk: where, how long, why."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hardware.synthetic import SyntheticCamera, SyntheticMic
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.gaps import (
    Gap,
    GapReason,
    RunEnd,
    recording_gaps,
    run_ended,
    run_started,
)
from streaming.recorder import EncodeSettings, SegmentRecorder
from tests.agent_helpers import until

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _run(workdir: Path, n: int, started_s: float, seconds: list[float], end: RunEnd | None) -> Path:
    """A run as the recorder leaves it: spawned ``started_s`` after T0, its segments' media
    lengths listed, its end noted (None: the agent died with it)."""
    run_dir = workdir / "cache" / f"run-{n:04d}"
    run_dir.mkdir(parents=True)
    run_started(run_dir, T0 + timedelta(seconds=started_s))
    lines, t = [], 0.0
    for i, length in enumerate(seconds):
        lines.append(f"seg_{i:05d}.ts,{t:.6f},{t + length:.6f}")
        t += length
    (run_dir / "list.csv").write_text("\n".join(lines) + "\n")
    if end is not None:
        run_ended(run_dir, end)
    return run_dir


def test_a_clean_recording_has_no_gap(tmp_path: Path) -> None:
    _run(tmp_path, 1, 0, [4, 4, 4, 1.5], RunEnd.STOPPED)
    assert recording_gaps(tmp_path) == []


def test_agent_killed_and_restarted(tmp_path: Path) -> None:
    # 3 segments (12 s) closed, then the agent died; back 30 s after the start
    _run(tmp_path, 1, 0, [4, 4, 4], None)
    _run(tmp_path, 2, 30, [4, 4], RunEnd.STOPPED)
    assert recording_gaps(tmp_path) == [
        Gap(12.0, T0 + timedelta(seconds=12), 18.0, GapReason.AGENT_DOWN)
    ]


def test_a_pause_is_not_a_gap_and_a_failure_is(tmp_path: Path) -> None:
    _run(tmp_path, 1, 0, [4, 4], RunEnd.PAUSED)
    _run(tmp_path, 2, 100, [4], RunEnd.FAILED)  # ffmpeg died; restarted 3 s later
    _run(tmp_path, 3, 107, [4, 2], RunEnd.SHUTDOWN)  # shut down; restarted 10 s later
    _run(tmp_path, 4, 123, [4], RunEnd.DISK_FULL)
    _run(tmp_path, 5, 140, [4], RunEnd.STOPPED)
    gaps = recording_gaps(tmp_path)
    assert [(g.at_s, g.seconds, g.reason) for g in gaps] == [
        (12.0, 3.0, GapReason.CAPTURE_FAILED),
        (18.0, 10.0, GapReason.AGENT_DOWN),
        (22.0, 13.0, GapReason.DISK_FULL),
    ]
    # the wall time each began, by the agent's clock
    assert [g.start for g in gaps] == [T0 + timedelta(seconds=s) for s in (104, 113, 127)]


def test_a_rejected_segment_is_a_gap_where_it_was(tmp_path: Path) -> None:
    _run(tmp_path, 1, 0, [4, 4, 4], RunEnd.STOPPED)
    (tmp_path / "rejected").mkdir()
    (tmp_path / "rejected" / "r0001-seg_00001.ts").write_bytes(b"\0")
    assert recording_gaps(tmp_path) == [
        Gap(4.0, T0 + timedelta(seconds=4), 4.0, GapReason.SEGMENT_REJECTED)
    ]


def test_a_run_that_did_not_end_by_a_stop_leaves_the_rest_open(tmp_path: Path) -> None:
    """Killed and stopped while down: the agent does not know when the stop came; the portal
    does, and closes the gap there."""
    _run(tmp_path, 1, 0, [4, 4], None)
    assert recording_gaps(tmp_path) == [
        Gap(8.0, T0 + timedelta(seconds=8), None, GapReason.AGENT_DOWN)
    ]


def test_runs_spawned_on_a_full_disk_leave_the_gap_to_the_run_that_filled_it(
    tmp_path: Path,
) -> None:
    _run(tmp_path, 1, 0, [4, 4], RunEnd.DISK_FULL)
    _run(tmp_path, 2, 10, [], RunEnd.DISK_FULL)  # restarted, and failed at once
    for n in (3, 4):  # the same, and not even their notes could be written
        (tmp_path / "cache" / f"run-{n:04d}").mkdir()
    _run(tmp_path, 5, 60, [4], RunEnd.STOPPED)  # space freed
    assert recording_gaps(tmp_path) == [
        Gap(8.0, T0 + timedelta(seconds=8), 52.0, GapReason.DISK_FULL)
    ]


def test_restarting_ffmpeg_is_not_worth_a_line(tmp_path: Path) -> None:
    _run(tmp_path, 1, 0, [4, 4], RunEnd.FAILED)
    _run(tmp_path, 2, 8.6, [4], RunEnd.STOPPED)
    assert recording_gaps(tmp_path) == []


def test_the_first_reason_a_run_ended_for_is_kept(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, 1, 0, [4], RunEnd.FAILED)
    run_ended(run_dir, RunEnd.STOPPED)  # stopped while waiting to restart
    assert recording_gaps(tmp_path)[0].reason == GapReason.CAPTURE_FAILED


@pytest.mark.anyio
@pytest.mark.slow
async def test_the_recorder_notes_why_each_run_ended(tmp_path: Path) -> None:
    """Real ffmpeg: killed mid-run, it is restarted after its back-off, and that stretch is
    reported as a capture failure where it fell; the stop leaves nothing open."""
    fast = EncodeSettings(segment_seconds=1, fps=15, video_bitrate="300k", x264_preset="ultrafast")
    rec = SegmentRecorder(
        resolve_ffmpeg(), SyntheticCamera(size="320x240", fps=15), SyntheticMic(), tmp_path, fast
    )
    await rec.start()
    await until(lambda: len(rec.segments) >= 2, what="two segments")
    assert rec._proc is not None and rec._proc.pid is not None
    os.kill(rec._proc.pid, signal.SIGKILL)
    await until(lambda: any(s.run == 2 for s in rec.segments), what="the second run")
    segments = await rec.stop()
    gaps = await asyncio.to_thread(recording_gaps, tmp_path, 0.5)
    assert [g.reason for g in gaps] == [GapReason.CAPTURE_FAILED]
    first_run = sum(s.media.duration_s for s in segments if s.run == 1)
    assert gaps[0].at_s == pytest.approx(first_run, abs=0.1)
    assert gaps[0].seconds is not None and gaps[0].seconds >= 1.0  # the back-off at least
