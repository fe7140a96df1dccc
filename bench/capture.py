"""Capture cost: CPU-seconds per media-second of the agent's recorders.

1. Camera 1080p30 with camera-like content (a moving pattern under sensor noise, so inter
   prediction cannot coast) and the screen 1080p15 (slides), recorded together as the agent does
   (two recorders, one encode each), against the same two encoded at x264's default preset
   ("medium", what an untuned ffmpeg command does). Goal: ≤ 0.5 together, zero dropped frames.
2. An RTSP camera (1080p30 H.264 through rtsp-server-perl) recorded by stream copy, against the
   same stream decoded and re-encoded. Goal: ≤ 0.02.

The inputs are raw frames read from files at their native rate (as a V4L2 camera delivers raw
frames), so making the test picture costs the recorder nothing; CPU is read from /proc for the
recorder's own ffmpeg processes only.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av

from bench.common import Result
from hardware.cameras import NetworkCamera
from hardware.sources import FfmpegInput
from hardware.synthetic import SyntheticMic, SyntheticScreen
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.recorder import EncodeSettings, SegmentRecorder
from streaming.standin import camera_encode, rtsp_camera

SECONDS = int(os.environ.get("BENCH_CAPTURE_S", "30"))
TICK = os.sysconf("SC_CLK_TCK")
ENCODE = EncodeSettings(segment_seconds=4, fps=30, video_bitrate="4000k", x264_preset="veryfast")


@dataclass(frozen=True)
class RawFile:
    """A raw yuv420p file played at its rate, looped: stands in for a raw V4L2 device."""

    path: Path
    size: str
    fps: int
    name: str = "raw"

    def ffmpeg_input(self) -> FfmpegInput:
        return FfmpegInput(
            str(self.path),
            {
                "f": "rawvideo",
                "pix_fmt": "yuv420p",
                "video_size": self.size,
                "framerate": self.fps,
                "stream_loop": -1,
            },
            realtime=True,
        )


def _make_raw(graph: str, out: Path, seconds: int) -> None:
    subprocess.run(
        [
            resolve_ffmpeg(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-t",
            str(seconds),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
            "-y",
            str(out),
        ],
        check=True,
    )


def _cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def _record(recorders: list[SegmentRecorder], seconds: float) -> float:
    """Run the recorders together; CPU seconds their ffmpeg processes used."""
    for r in recorders:
        await r.start()
    last: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        for r in recorders:
            pid = r._proc.pid if r._proc else None
            if pid is not None and (cpu := _cpu_s(pid)) is not None:
                last[pid] = cpu
        await asyncio.sleep(0.1)
    for r in recorders:
        await r.stop()
    return sum(last.values())


def _media(rec: SegmentRecorder, fps: int) -> tuple[float, int]:
    """Seconds recorded, and frames missing between the first and the last (PTS gaps)."""
    seconds, missing, prev = 0.0, 0, None
    step = Fraction(1, fps)
    for seg in rec.segments:
        seconds += seg.media.duration_s
        with av.open(str(seg.path)) as c:
            v = c.streams.video[0]
            base = v.time_base or Fraction(1, 90000)
            for pkt in c.demux(v):
                if pkt.pts is None:
                    continue
                t = Fraction(pkt.pts) * base
                if prev is not None and t - prev > step * 3 / 2:
                    missing += round((t - prev) / step) - 1
                prev = t if prev is None else max(prev, t)
    return seconds, missing


async def _camera_and_screen(work: Path, preset: str) -> tuple[float, int]:
    cam = RawFile(work / "camera.yuv", "1920x1080", 30, "camera")
    scr = RawFile(work / "screen.yuv", "1920x1080", 15, "screen")
    enc = replace(ENCODE, x264_preset=preset)
    run = work / f"run-{preset}"
    recorders = [
        SegmentRecorder(resolve_ffmpeg(), cam, SyntheticMic(), run / "camera", enc),
        SegmentRecorder(resolve_ffmpeg(), scr, None, run / "screen", replace(enc, fps=15)),
    ]
    cpu = await _record(recorders, SECONDS)
    media, missing = _media(recorders[0], 30)
    _, missing_screen = _media(recorders[1], 15)
    return cpu / media, missing + missing_screen


async def _rtsp(work: Path, copy: bool) -> float:
    raw = ["-stream_loop", "-1", "-f", "rawvideo", "-pix_fmt", "yuv420p"]
    raw += ["-video_size", "1920x1080", "-framerate", "30", "-i", str(work / "camera.yuv")]
    # 6 Mbit/s: what a 1080p30 IP camera streams at (the noisy picture would take ~50 Mbit/s).
    async with rtsp_camera(raw, camera_encode(30, "6M")) as url:
        await asyncio.sleep(0.5)
        source = NetworkCamera(url, copy=copy, rtsp_transport="udp")
        rec = SegmentRecorder(resolve_ffmpeg(), source, None, work / f"rtsp-{copy}", ENCODE)
        cpu = await _record([rec], SECONDS)
        media, _ = _media(rec, 30)
    return cpu / media


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    _make_raw("testsrc2=size=1920x1080:rate=30,noise=alls=14:allf=t+u", workdir / "camera.yuv", 10)
    slides = replace(SyntheticScreen(), size="1920x1080", fps=15, slide_s=5)
    _make_raw(slides.ffmpeg_input().url, workdir / "screen.yuv", 20)
    presets = ("superfast", "veryfast")
    ours = {p: asyncio.run(_camera_and_screen(workdir, p)) for p in presets}
    medium, lost_medium = asyncio.run(_camera_and_screen(workdir, "medium"))
    copy = asyncio.run(_rtsp(workdir, copy=True))
    reencode = asyncio.run(_rtsp(workdir, copy=False))
    unit = "CPU s per media s"
    return [
        *(
            Result(
                "capture",
                f"camera 1080p30 + screen 1080p15, {p} ({ours[p][1]} frames lost)",
                f"x264 medium ({lost_medium} frames lost)",
                unit,
                ours[p][0],
                medium,
                higher_is_better=False,
            )
            for p in presets
        ),
        Result(
            "capture",
            "RTSP 1080p30, stream copy",
            "decode + re-encode (veryfast)",
            unit,
            copy,
            reencode,
            higher_is_better=False,
        ),
    ]
