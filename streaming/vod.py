"""A finished recording for players: an HLS playlist over the segments already in the store (no
second copy of the video), and chapters where the slides change (scene changes in the screen
track), each with a small thumbnail."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from streaming.child import FfmpegProcess

SCENE_THRESHOLD = 0.3  # a slide change; a pointer or a typed word stays below it
MIN_CHAPTER_S = 5.0  # changes closer than this (an animation, a flip back) make one chapter
THUMB_WIDTH = 320
_PTS_TIME = re.compile(r"pts_time:\s*([0-9.]+)")


@dataclass(frozen=True)
class VodSegment:
    name: str  # as stored: r0001-seg_00000.ts (run, then sequence)
    duration_s: float

    @property
    def run(self) -> str:
        return self.name.split("-", 1)[0]


def hls_playlist(segments: Sequence[VodSegment]) -> str:
    """An HLS VOD playlist of ``segments`` in order. Each agent run's timestamps start anew, so a
    change of run is a discontinuity: players keep one timeline, as in the joined MP4."""
    if not segments:
        raise ValueError("a playlist needs at least one segment")
    target = max(1, math.ceil(max(s.duration_s for s in segments)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    previous: str | None = None
    for seg in segments:
        if previous is not None and seg.run != previous:
            lines.append("#EXT-X-DISCONTINUITY")
        previous = seg.run
        lines += [f"#EXTINF:{seg.duration_s:.3f},", seg.name]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_times(playlist: str) -> dict[str, tuple[float, float]]:
    """Each segment of a VOD playlist (as ``hls_playlist`` writes it) with its stretch of the
    player's timeline, in seconds."""
    times: dict[str, tuple[float, float]] = {}
    at, duration = 0.0, None
    for line in playlist.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            times[line] = (at, at + duration)
            at, duration = at + duration, None
    return times


async def scene_changes(
    ffmpeg_exe: str,
    video: Path,
    threshold: float = SCENE_THRESHOLD,
    min_gap_s: float = MIN_CHAPTER_S,
) -> list[float]:
    """Where the picture changes wholesale (a new slide), in seconds; 0 always starts the first
    chapter. Measured on a small copy of each frame: slides change in large areas."""
    args = (
        ffmpeg.input(str(video))
        .video.filter("scale", 160, -2)
        .filter("select", f"gt(scene,{threshold})")
        .filter("showinfo")
        .output("-", f="null")
        .global_args("-hide_banner", "-nostats", "-loglevel", "info")
        .compile(cmd=ffmpeg_exe)
    )
    proc = FfmpegProcess(args, tail_lines=100_000)
    rc = await proc.run()
    if rc != 0:
        raise RuntimeError(f"scene detection exited {rc}: {' | '.join(list(proc.tail)[-5:])}")
    times = [0.0]
    for line in proc.tail:
        m = _PTS_TIME.search(line) if "Parsed_showinfo" in line else None
        if m and float(m.group(1)) - times[-1] >= min_gap_s:
            times.append(round(float(m.group(1)), 3))
    return times


async def thumbnail(
    ffmpeg_exe: str, video: Path | str, at_s: float, out: Path, width: int = THUMB_WIDTH
) -> None:
    """A JPEG of the frame at ``at_s`` (a little after a change: the slide has settled); the
    video a file or a URL that answers byte ranges."""
    args = (
        ffmpeg.input(str(video), ss=f"{at_s:.3f}")
        .video.filter("scale", width, -2)
        .output(str(out), vframes=1, q=5, f="image2")
        .global_args("-hide_banner", "-nostats", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe)
    )
    proc = FfmpegProcess(args)
    if await proc.run() != 0 or not out.exists():
        raise RuntimeError(f"no thumbnail at {at_s:.1f} s: {' | '.join(proc.tail)}")
