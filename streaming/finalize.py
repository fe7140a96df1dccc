"""Join accepted segments into one playable MP4 with the index up front (+faststart)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import av
import ffmpeg

from streaming.child import FfmpegProcess
from streaming.media_check import MediaInfo, check_media


class FinalizeError(RuntimeError):
    pass


async def join_segments(ffmpeg_exe: str, segments: Sequence[Path], out: Path) -> MediaInfo:
    """Stream-copy ``segments`` in order into ``out``; written to a temporary name, then renamed."""
    if not segments:
        raise FinalizeError("no segments to join")
    listing = out.with_suffix(".concat.txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in segments))
    partial = out.with_suffix(".partial.mp4")
    args = (
        ffmpeg.input(str(listing), f="concat", safe=0)
        .output(str(partial), c="copy", movflags="+faststart", f="mp4")
        .global_args("-hide_banner", "-nostats", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe)
    )
    try:
        return await _made(args, partial, out, "concat")
    finally:
        listing.unlink(missing_ok=True)


async def _made(args: list[str], partial: Path, out: Path, what: str) -> MediaInfo:
    """Run ffmpeg writing ``partial``; if it plays, it becomes ``out``. If not, ``partial`` is
    removed: a join that failed for want of space must not keep the disk full."""
    try:
        proc = FfmpegProcess(args)
        rc = await proc.run()
        if rc != 0:
            raise FinalizeError(f"ffmpeg {what} exited {rc}: {' | '.join(proc.tail)}")
        info = await asyncio.to_thread(check_media, partial, need_audio=False)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    return info


async def compose_side_by_side(
    ffmpeg_exe: str,
    camera: Path,
    screen: Path,
    out: Path,
    height: int = 720,
    preset: str = "veryfast",
) -> MediaInfo:
    """The camera and the screen side by side at ``height`` (audio from the camera), as long as
    the shorter of the two. Made after the session from the two recorded tracks: the live capture
    never pays for it, and a composite that fails costs nothing recorded."""
    cam = ffmpeg.input(str(camera))
    scr = ffmpeg.input(str(screen))
    # Each side scaled to the same height (even width), then stacked; setsar keeps hstack happy.
    left = cam.video.filter("scale", -2, height).filter("setsar", 1)
    right = scr.video.filter("scale", -2, height).filter("setsar", 1)
    video = ffmpeg.filter([left, right], "hstack", inputs=2, shortest=1)
    partial = out.with_suffix(".partial.mp4")
    streams = [video]
    out_opts: dict[str, str | int] = {
        "c:v": "libx264",
        "preset": preset,
        "pix_fmt": "yuv420p",
        "movflags": "+faststart",
        "f": "mp4",
    }
    if await asyncio.to_thread(_has_audio, camera):
        streams.append(cam.audio)
        out_opts.update({"c:a": "aac", "b:a": "96k", "shortest": None})  # type: ignore[dict-item]
    args = (
        ffmpeg.output(*streams, str(partial), **out_opts)
        .global_args("-hide_banner", "-nostats", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe)
    )
    return await _made(args, partial, out, "composite")


def _has_audio(path: Path) -> bool:
    with av.open(str(path)) as c:
        return bool(c.streams.audio)
