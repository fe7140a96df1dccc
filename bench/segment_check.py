"""Validating a segment before accepting it: our check (demux all, decode one frame) against
decoding every frame, on 4 s segments of the real 720p30 recording encode."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av

from bench.common import Result, median_of
from hardware.synthetic import SyntheticCamera, SyntheticMic
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.media_check import check_media
from streaming.recorder import EncodeSettings, Segment, SegmentRecorder

RUNS = 5


def _decode_all(path: Path) -> None:
    with av.open(str(path)) as c:
        for _ in c.decode(video=0):
            pass


def _cpu(fn: object, path: Path) -> float:
    t = time.process_time()
    fn(path)  # type: ignore[operator]
    return time.process_time() - t


async def _record(workdir: Path) -> Path:
    enc = EncodeSettings(segment_seconds=4, fps=30, x264_preset="veryfast")
    two = asyncio.Event()

    async def on_segment(_: Segment) -> None:
        if len(rec.segments) >= 2:
            two.set()

    rec = SegmentRecorder(
        resolve_ffmpeg(), SyntheticCamera(), SyntheticMic(), workdir, enc, on_segment
    )
    await rec.start()
    await two.wait()
    await rec.stop()
    return rec.segments[1].path  # a full 4 s segment


def run(workdir: Path) -> list[Result]:
    seg = asyncio.run(_record(workdir))
    ours = median_of(RUNS, lambda: _cpu(check_media, seg))
    full = median_of(RUNS, lambda: _cpu(_decode_all, seg))
    return [
        Result(
            "segment_check",
            "demux+1 frame",
            "decode all",
            "CPU s / 4 s segment",
            ours,
            full,
            higher_is_better=False,
        ),
    ]
