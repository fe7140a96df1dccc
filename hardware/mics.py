"""Microphones: ALSA devices and PulseAudio sources."""

from __future__ import annotations

from dataclasses import dataclass

from hardware.sources import FfmpegInput


@dataclass(frozen=True)
class AlsaMic:
    device: str = "default"  # e.g. "hw:1,0" for the second card's first device
    sample_rate: int = 48000
    channels: int = 1
    name: str = "alsa-mic"

    def ffmpeg_input(self) -> FfmpegInput:
        return FfmpegInput(
            self.device, {"f": "alsa", "sample_rate": self.sample_rate, "channels": self.channels}
        )


@dataclass(frozen=True)
class PulseMic:
    source: str = "default"
    sample_rate: int = 48000
    channels: int = 1
    name: str = "pulse-mic"

    def ffmpeg_input(self) -> FfmpegInput:
        return FfmpegInput(
            self.source, {"f": "pulse", "sample_rate": self.sample_rate, "channels": self.channels}
        )
