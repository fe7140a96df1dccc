"""Join accepted segments into one playable MP4 with the index up front (+faststart)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

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
    proc = FfmpegProcess(args)
    await proc.start()
    rc = await proc.wait()
    if rc != 0:
        raise FinalizeError(f"ffmpeg concat exited {rc}: {' | '.join(proc.tail)}")
    info = await asyncio.to_thread(check_media, partial, need_audio=False)
    partial.replace(out)
    listing.unlink(missing_ok=True)
    return info
