"""Frames of a camera as pictures for the agent to look at (the door camera's face check-in):
ffmpeg decodes, scales and paces them, and hands over raw BGR frames through a pipe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import numpy as np
import structlog

from hardware.sources import FfmpegInput
from streaming.child import die_with_parent
from streaming.recorder import ffmpeg_input

log = structlog.get_logger(__name__)


def frames_command(
    ffmpeg_exe: str, src: FfmpegInput, width: int = 640, height: int = 480, fps: float = 5
) -> list[str]:
    out = (
        ffmpeg_input(src)
        .video.filter("fps", fps)
        .filter("scale", width, height, force_original_aspect_ratio="decrease")
        .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
        .output("pipe:", format="rawvideo", pix_fmt="bgr24")
        .global_args("-hide_banner", "-loglevel", "error", "-nostdin")
    )
    return [ffmpeg_exe, *out.get_args()]


async def camera_frames(
    ffmpeg_exe: str, src: FfmpegInput, width: int = 640, height: int = 480, fps: float = 5
) -> AsyncGenerator[np.ndarray, None]:
    """BGR frames, ``fps`` a second, until the camera's stream ends (unplugged, stopped). The
    ffmpeg child ends with the iteration (or with us, killed)."""
    proc = await asyncio.create_subprocess_exec(
        *frames_command(ffmpeg_exe, src, width, height, fps),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    assert proc.stdout is not None and proc.stderr is not None
    size = width * height * 3
    try:
        while True:
            try:
                raw = await proc.stdout.readexactly(size)
            except asyncio.IncompleteReadError:
                break
            yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        # Both pipes are read to their end before the wait: a reader left with a full buffer
        # has paused its pipe, never sees the end, and the process is only reaped (wait()
        # returns) once all its pipes are closed — the wait would hang.
        _, err_bytes = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
        await proc.wait()
        err = err_bytes.decode("utf-8", "replace").strip()
        if err:
            log.warning("frames.ffmpeg", error=err[-300:])
