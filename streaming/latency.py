"""Glass-to-glass latency: read back the clock the synthetic camera burns into its frames.

``SyntheticCamera(clock_blocks=True)`` draws the wall clock, in milliseconds modulo 2**24, as two
rows of 24 black or white blocks in the frame's top-left corner, at the moment ffmpeg makes the
frame (the "glass"). A receiver decodes a frame, reads the blocks and compares them with its own
clock: on one machine (or clocks in sync) the difference is the latency from capture to decoded
frame. The two rows are drawn one after the other; a millisecond that ticked between them makes
them differ, and such a frame is not read.
"""

from __future__ import annotations

import time

import av
import numpy as np

from hardware.synthetic import CLOCK_BITS, CLOCK_BLOCK_PX

MODULUS = 1 << CLOCK_BITS  # 4.6 hours of milliseconds: far more than any latency


def now_ms() -> int:
    """This machine's clock, as the blocks carry it."""
    return (time.time_ns() // 1_000_000) % MODULUS


def read_blocks(gray: np.ndarray) -> int | None:
    """The clock in a frame's luma plane, or None where the blocks are absent or disagree."""
    half = CLOCK_BLOCK_PX // 2
    if gray.shape[0] < 2 * CLOCK_BLOCK_PX or gray.shape[1] < CLOCK_BITS * CLOCK_BLOCK_PX:
        return None
    rows = []
    for y in (half, CLOCK_BLOCK_PX + half):
        centres = gray[y, half : CLOCK_BITS * CLOCK_BLOCK_PX : CLOCK_BLOCK_PX]
        value = 0
        for level in centres[:CLOCK_BITS]:
            value = (value << 1) | int(level > 128)
        rows.append(value)
    return rows[0] if rows[0] == rows[1] else None


def frame_clock(frame: av.VideoFrame) -> int | None:
    return read_blocks(frame.to_ndarray(format="gray"))


def latency_ms(stamp: int, at_ms: int | None = None) -> int:
    """Milliseconds from the stamp to ``at_ms`` (now, by default), across the modulus."""
    return ((now_ms() if at_ms is None else at_ms) - stamp) % MODULUS
