"""The microphone's level in a recorded segment, in dBFS, read with PyAV (audio decode only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SILENCE_DBFS = -60.0  # what a floor of -inf would be reported as


@dataclass(frozen=True)
class AudioLevel:
    rms_dbfs: float
    peak_dbfs: float
    seconds: float


def _dbfs(x: float) -> float:
    return max(SILENCE_DBFS, 20 * math.log10(x)) if x > 0 else SILENCE_DBFS


def audio_level(path: Path) -> AudioLevel | None:
    """RMS and peak of the first audio stream, relative to full scale; None without audio."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        total = 0.0
        count = 0
        peak = 0.0
        rate = stream.rate or 48000
        for frame in container.decode(stream):
            samples = frame.to_ndarray().astype(np.float64)
            if frame.format.name.startswith("s16"):
                samples /= 32768.0
            elif frame.format.name.startswith("s32"):
                samples /= 2147483648.0
            if samples.size:
                total += float(np.sum(samples * samples))
                count += samples.size
                peak = max(peak, float(np.max(np.abs(samples))))
        if not count:
            return AudioLevel(SILENCE_DBFS, SILENCE_DBFS, 0.0)
        channels = max(1, stream.channels or 1)
        return AudioLevel(_dbfs(math.sqrt(total / count)), _dbfs(peak), count / channels / rate)
