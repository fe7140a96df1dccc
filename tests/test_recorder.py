"""Recording with the real ffmpeg: segments validated by PyAV, joined into a faststart MP4."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import av
import pytest

from hardware.synthetic import SyntheticCamera, SyntheticMic
from streaming.child import LINE_KEPT, FfmpegProcess
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.finalize import FinalizeError, join_segments
from streaming.media_check import InvalidMedia, check_media
from streaming.recorder import (
    DURATIONS,
    EncodeSettings,
    Segment,
    SegmentRecorder,
    build_command,
    noted_durations,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SMALL = SyntheticCamera(size="320x240", fps=15)
FAST = EncodeSettings(segment_seconds=1, fps=15, video_bitrate="300k", x264_preset="ultrafast")


def _moov_before_mdat(path: Path) -> bool:
    head = path.read_bytes()[: 64 * 1024]
    return 0 <= head.find(b"moov") < head.find(b"mdat") or head.find(b"mdat") == -1


async def test_records_segments_and_joins_them(tmp_path: Path) -> None:
    seen: list[Segment] = []

    async def on_segment(seg: Segment) -> None:
        seen.append(seg)

    rec = SegmentRecorder(resolve_ffmpeg(), SMALL, SyntheticMic(), tmp_path, FAST, on_segment)
    await rec.start()
    await asyncio.sleep(3.5)
    segments = await rec.stop()
    assert segments == seen and len(segments) >= 3
    assert not rec.faults and not rec.rejected
    assert all(s.path.parent == tmp_path / "segments" for s in segments)
    assert all(s.media.has_video for s in segments)
    assert all(s.media.has_audio for s in segments[:-1])  # the tail may close before audio
    total = sum(s.media.duration_s for s in segments)
    assert total >= 3.0  # the last, open segment was flushed on stop, not lost
    # Each check's measure is noted for the playlist made at the end, which need not read them.
    noted = noted_durations(tmp_path / "segments")
    assert noted == pytest.approx({s.path.name: s.media.duration_s for s in segments}, abs=1e-5)
    with (tmp_path / "segments" / DURATIONS).open("a") as notes:
        notes.write("r9999-00000.ts,2.")  # a line cut short by a crash
    assert noted_durations(tmp_path / "segments") == noted

    out = tmp_path / "recording.mp4"
    info = await join_segments(resolve_ffmpeg(), [s.path for s in segments], out)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (320, 240)
    assert info.duration_s == pytest.approx(total, abs=0.5)
    assert _moov_before_mdat(out)  # +faststart: playable while downloading
    assert not list(tmp_path.glob("*.partial.mp4"))
    with av.open(str(out)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames >= 15 * 3 - 5


async def test_ffmpeg_killed_midway_is_restarted_and_nothing_closed_is_lost(
    tmp_path: Path,
) -> None:
    rec = SegmentRecorder(resolve_ffmpeg(), SMALL, SyntheticMic(), tmp_path, FAST)
    await rec.start()
    await asyncio.sleep(2.5)
    before = len(rec.segments)
    assert before >= 1 and rec._proc is not None and rec._proc.pid is not None
    os.kill(rec._proc.pid, signal.SIGKILL)
    await asyncio.sleep(4)  # back-off 1 s, then a new run
    segments = await rec.stop()
    assert any("exited" in f.message for f in rec.faults)
    runs = {s.run for s in segments}
    assert runs == {1, 2}
    names = [s.path.name for s in segments]
    assert names == sorted(names)  # run-major order: joins in the order they were recorded


def test_garbage_is_not_media(tmp_path: Path) -> None:
    bad = tmp_path / "seg.ts"
    bad.write_bytes(os.urandom(50_000))
    with pytest.raises(InvalidMedia):
        check_media(bad)
    with pytest.raises(InvalidMedia):
        check_media(tmp_path / "missing.ts")


async def test_truncated_segment_is_rejected_not_uploaded(tmp_path: Path) -> None:
    rec = SegmentRecorder(resolve_ffmpeg(), SMALL, SyntheticMic(), tmp_path, FAST)
    run_dir = tmp_path / "cache" / "run-0001"
    run_dir.mkdir(parents=True)
    (tmp_path / "rejected").mkdir()
    (tmp_path / "segments").mkdir()
    (run_dir / "seg_00000.ts").write_bytes(b"\x47" + os.urandom(1000))
    (run_dir / "list.csv").write_text("seg_00000.ts,0.0,1.0\n")
    rec._run = 1
    assert await rec._collect(run_dir, 0) == 1
    assert rec.segments == [] and len(rec.rejected) == 1


async def test_join_refuses_nothing(tmp_path: Path) -> None:
    with pytest.raises(FinalizeError):
        await join_segments(resolve_ffmpeg(), [], tmp_path / "x.mp4")


async def test_child_log_keeps_its_tail_past_a_line_longer_than_a_pipe() -> None:
    """A child that writes one enormous line to stderr (ffmpeg dumping a bad SDP, say) goes on
    running and is reaped: the log reader does not die on the line (ffmpeg would then block on
    a full pipe, for ever), and the last lines are kept."""
    script = "import sys; sys.stderr.write('x' * 300_000 + '\\nsecond\\nlast line\\n')"
    child = FfmpegProcess([sys.executable, "-c", script])
    await child.start()
    async with asyncio.timeout(20):
        assert await child.wait() == 0
    assert list(child.tail)[-2:] == ["second", "last line"]
    assert child.tail[-3] == "x" * LINE_KEPT  # its start kept, not all of it


async def test_a_restart_accepts_what_the_killed_run_closed(tmp_path: Path) -> None:
    """An earlier run's ffmpeg closed segments that nobody accepted (the agent was killed with
    it): the next start checks and accepts them, in order, before it records anew."""
    first = tmp_path / "cache" / "run-0001"
    first.mkdir(parents=True)
    orphan = FfmpegProcess(build_command(resolve_ffmpeg(), SMALL, SyntheticMic(), first, FAST))
    await orphan.start()
    listing = first / "list.csv"
    for _ in range(200):  # until ffmpeg has closed three segments
        if listing.exists() and len(listing.read_text().splitlines()) >= 3:
            break
        await asyncio.sleep(0.1)
    os.kill(orphan.pid or 0, signal.SIGKILL)  # as the agent's kill -9 takes its ffmpeg along
    await orphan.wait()
    closed = [ln.split(",", 1)[0] for ln in listing.read_text().splitlines() if ln.strip()]
    assert len(closed) >= 3
    seen: list[Segment] = []

    async def on_segment(seg: Segment) -> None:
        seen.append(seg)

    rec = SegmentRecorder(resolve_ffmpeg(), SMALL, SyntheticMic(), tmp_path, FAST, on_segment)
    await rec.start()
    await asyncio.sleep(2.5)
    segments = await rec.stop()
    runs = [(s.run, s.seq) for s in segments]
    assert runs[: len(closed)] == [(1, n) for n in range(len(closed))], runs
    assert any(run == 2 for run, _ in runs)  # then the new run recorded
    assert seen == segments  # each handed on, to be uploaded
    assert not any((first / name).exists() for name in closed)
