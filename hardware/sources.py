"""What a capture device gives the media pipeline: the ffmpeg input that reads it.

Each camera or microphone driver is a small class with one job: turn its configuration into an
``FfmpegInput``. The recorder (``streaming``) composes inputs; it never knows which device it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class FfmpegInput:
    """``ffmpeg [options] -i url`` for one input."""

    url: str
    options: dict[str, str | int | float] = field(default_factory=dict)
    # True when ffmpeg must pace the input itself (-re): generated sources, files.
    realtime: bool = False
    # True when the source already delivers H.264 the recording can keep as it is (an IP
    # camera's own stream): copied, not re-encoded.
    copy_video: bool = False


class CameraSource(Protocol):
    @property
    def name(self) -> str: ...

    def ffmpeg_input(self) -> FfmpegInput: ...


class MicSource(Protocol):
    @property
    def name(self) -> str: ...

    def ffmpeg_input(self) -> FfmpegInput: ...
