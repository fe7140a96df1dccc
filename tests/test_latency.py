"""The clock the synthetic camera burns into its frames reads back after a real H.264 encode: the
values are this machine's milliseconds at capture, a frame interval apart, and a frame whose two
rows disagree is not read."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from hardware.synthetic import CLOCK_BLOCK_PX, SyntheticCamera
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.latency import MODULUS, latency_ms, now_ms, read_blocks


def _record(path: Path, seconds: float) -> int:
    src = SyntheticCamera(size="1280x720", fps=30, clock_blocks=True).ffmpeg_input()
    started = now_ms()
    source = ["-re", "-f", "lavfi", "-i", src.url, "-t", str(seconds)]
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "2500k", "-pix_fmt", "yuv420p"]
    subprocess.run(
        [resolve_ffmpeg(), "-hide_banner", "-loglevel", "error", *source, *encode, str(path)],
        check=True,
        timeout=60,
    )
    return started


@pytest.mark.slow
def test_the_burnt_in_clock_reads_back_after_encoding(tmp_path: Path) -> None:
    started = _record(tmp_path / "clock.ts", 3)
    finished = now_ms()
    with av.open(str(tmp_path / "clock.ts")) as c:
        stamps = [read_blocks(f.to_ndarray(format="gray")) for f in c.decode(video=0)]
    read = [s for s in stamps if s is not None]
    # A frame drawn while the millisecond turns has rows that disagree and is not read; on a
    # busy machine drawing is slower and more frames straddle, so only a share is asked for.
    assert len(stamps) >= 80 and len(read) >= 0.5 * len(stamps)
    assert all((s - started) % MODULUS <= (finished - started) % MODULUS for s in read)
    steps = [(b - a) % MODULUS for a, b in itertools.pairwise(read)]
    assert all(step < MODULUS // 2 for step in steps)  # in capture order, never backwards
    span = (read[-1] - read[0]) % MODULUS
    assert 1500 <= span <= (finished - started) % MODULUS  # the 3 s were paced by -re, not burst
    assert latency_ms(read[-1], finished) < 2000


def test_blocks_that_disagree_or_are_missing_are_not_read() -> None:
    frame = np.zeros((720, 1280), dtype=np.uint8)
    assert read_blocks(frame) == 0
    frame[:CLOCK_BLOCK_PX, :CLOCK_BLOCK_PX] = 255  # the top bit, in the first row only
    assert read_blocks(frame) is None
    frame[CLOCK_BLOCK_PX : 2 * CLOCK_BLOCK_PX, :CLOCK_BLOCK_PX] = 255
    assert read_blocks(frame) == 1 << 23
    assert read_blocks(np.zeros((32, 64), dtype=np.uint8)) is None  # too small to hold them
    assert latency_ms(MODULUS - 10, 5) == 15  # across the wrap
