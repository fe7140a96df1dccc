"""Synthetic devices: a test pattern with the wall clock burnt in, and a sine tone.

They stand in for a classroom's camera and microphone in the demo and in tests, and the burnt-in
clock lets a person see at a glance when a recorded frame was captured.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.sources import FfmpegInput

# Colons inside a filter option are escaped twice: once for the option, once for the graph.
_CLOCK = (
    "drawtext=text='%{localtime\\:%Y-%m-%d %H\\\\\\:%M\\\\\\:%S}'"
    ":fontsize=h/14:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=20:y=h-th-30"
)


@dataclass(frozen=True)
class SyntheticCamera:
    name: str = "synthetic-camera"
    size: str = "1280x720"
    fps: int = 30
    clock: bool = True

    def ffmpeg_input(self) -> FfmpegInput:
        graph = f"testsrc2=size={self.size}:rate={self.fps}"
        if self.clock:
            graph += "," + _CLOCK
        return FfmpegInput(url=graph, options={"f": "lavfi"}, realtime=True)


@dataclass(frozen=True)
class SyntheticScreen:
    """Slides: a title that changes every ``slide_s`` seconds over a plain background, the way a
    presentation looks to a screen-capture card (mostly still, sudden changes)."""

    name: str = "synthetic-screen"
    size: str = "1920x1080"
    fps: int = 15
    slide_s: int = 10

    def ffmpeg_input(self) -> FfmpegInput:
        graph = (
            f"color=c=0xf4f4f4:s={self.size}:r={self.fps},"
            f"drawtext=text='Slide %{{eif\\:floor(t/{self.slide_s})+1\\:d}}':fontsize=h/8"
            ":fontcolor=0x1a3c6e:x=(w-tw)/2:y=h/5,"
            "drawbox=x=iw/10:y=ih/2:w=iw*8/10:h=ih/3:color=0x1a3c6e@0.3:t=fill"
        )
        return FfmpegInput(url=graph, options={"f": "lavfi"}, realtime=True)


@dataclass(frozen=True)
class SyntheticMic:
    """A 440 Hz tone; ``silent``: digital silence (a muted microphone, for the no-audio alert)."""

    name: str = "synthetic-mic"
    frequency_hz: int = 440
    sample_rate: int = 48000
    silent: bool = False

    def ffmpeg_input(self) -> FfmpegInput:
        graph = f"sine=frequency={self.frequency_hz}:sample_rate={self.sample_rate}"
        if self.silent:
            graph = f"anullsrc=r={self.sample_rate}:cl=mono"
        return FfmpegInput(url=graph, options={"f": "lavfi"}, realtime=True)
