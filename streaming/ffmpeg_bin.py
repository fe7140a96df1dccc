"""Which ffmpeg to run: the configured one, the system's (Debian package), or imageio-ffmpeg's."""

from __future__ import annotations

import shutil
from functools import cache


class FfmpegNotFound(RuntimeError):
    pass


@cache
def resolve_ffmpeg(configured: str = "") -> str:
    if configured:
        found = shutil.which(configured)
        if not found:
            raise FfmpegNotFound(f"configured ffmpeg {configured!r} is not an executable")
        return found
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - it is a hard dependency
        raise FfmpegNotFound("no ffmpeg on PATH and imageio-ffmpeg is not installed") from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())
