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


# The machine-readable clock (streaming/latency.py reads it): the wall clock in milliseconds,
# modulo 2**24, as CLOCK_BITS blocks of CLOCK_BLOCK_PX square (black 0, white 1, most significant
# first), in two rows evaluated one after the other, top left. time(0) is ffmpeg's wall clock at
# the moment the frame is drawn: the "glass" of glass-to-glass latency.
CLOCK_BITS = 24
CLOCK_BLOCK_PX = 32
_MS = f"mod(floor(time(0)*1000),{1 << CLOCK_BITS})"
_BLOCKS = (
    f"color=c=black:s={CLOCK_BITS}x2:r={{fps}},"
    f"geq=lum='255*mod(floor({_MS}/pow(2,{CLOCK_BITS - 1}-X)),2)':cb=128:cr=128,"
    f"scale={CLOCK_BITS * CLOCK_BLOCK_PX}:{2 * CLOCK_BLOCK_PX}:flags=neighbor"
)


@dataclass(frozen=True)
class SyntheticCamera:
    name: str = "synthetic-camera"
    size: str = "1280x720"
    fps: int = 30
    clock: bool = True  # the time of day, for people
    clock_blocks: bool = False  # the clock in milliseconds, for latency measurements

    def ffmpeg_input(self) -> FfmpegInput:
        graph = f"testsrc2=size={self.size}:rate={self.fps}"
        if self.clock:
            graph += "," + _CLOCK
        if not self.clock_blocks:
            return FfmpegInput(url=graph, options={"f": "lavfi"}, realtime=True)
        # Paced inside the graph (the realtime filter) instead of by ffmpeg's -re, which reads
        # ahead: the blocks are drawn when a frame is due, as a camera delivers it.
        blocks = _BLOCKS.format(fps=self.fps)
        graph = graph.replace(f"rate={self.fps}", f"rate={self.fps},realtime", 1)
        graph = f"{graph}[m];{blocks}[b];[m][b]overlay=0:0:shortest=1[out0]"
        return FfmpegInput(url=graph, options={"f": "lavfi"}, realtime=False)


@dataclass(frozen=True)
class SyntheticScreen:
    """Slides: a title that changes every ``slide_s`` seconds over a plain background, the way a
    presentation looks to a screen-capture card (mostly still, sudden changes)."""

    name: str = "synthetic-screen"
    size: str = "1920x1080"
    fps: int = 15
    slide_s: int = 10

    def ffmpeg_input(self) -> FfmpegInput:
        # Three layouts in turn (a title band, a side column, a lower half), as real slides
        # differ: a slide change is a scene change, as the player's chapters expect.
        layout = f"mod(floor(t/{self.slide_s}),3)"
        graph = (
            f"color=c=0xf4f4f4:s={self.size}:r={self.fps},"
            "drawbox=x=0:y=0:w=iw:h=ih*3/10:color=0x1a3c6e:t=fill"
            f":enable='eq({layout},0)',"
            "drawbox=x=0:y=0:w=iw*2/5:h=ih:color=0x6e1a3c:t=fill"
            f":enable='eq({layout},1)',"
            "drawbox=x=0:y=ih/2:w=iw:h=ih/2:color=0x1a6e3c:t=fill"
            f":enable='eq({layout},2)',"
            f"drawtext=text='Slide %{{eif\\:floor(t/{self.slide_s})+1\\:d}}':fontsize=h/8"
            ":fontcolor=0x1a3c6e:x=(w-tw)/2:y=h/5"
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
