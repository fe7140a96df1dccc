"""How much media a recording should hold: its capture's wall time (from the agent's start to
its stop) less the pauses. A recording whose media falls short of that by more than a segment or
so is not called complete: the portal says how much is missing, and where and why as far as the
agent's reported gaps (streaming.gaps) say, instead of showing it as whole."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from streaming.gaps import Gap, GapReason


def expected_media_s(
    started_at: datetime | None,
    stopped_at: datetime | None,
    pauses: Iterable[tuple[datetime, datetime | None]],
) -> float | None:
    """Seconds of capture between start and stop, less each pause (one still open at the stop
    lasts to it); None when either end is unknown."""
    if started_at is None or stopped_at is None or stopped_at < started_at:
        return None
    paused = 0.0
    for begin, end in pauses:
        begin, end = max(begin, started_at), min(end or stopped_at, stopped_at)
        paused += max(0.0, (end - begin).total_seconds())
    return max(0.0, (stopped_at - started_at).total_seconds() - paused)


def missing_s(expected: float | None, duration: float, tolerance_s: float) -> float:
    """What the media lacks against ``expected``, 0 within ``tolerance_s`` (a segment's length:
    the last one cut short at the stop, clocks a little apart)."""
    if expected is None:
        return 0.0
    short = expected - duration
    return round(short, 1) if short > tolerance_s else 0.0


def gaps_on_record(
    reported: Iterable[Gap], stopped_at: datetime | None, missing: float, tolerance_s: float
) -> list[dict[str, Any]]:
    """The agent's gaps as the recording keeps them (one open to the stop closed there), and
    what they leave of the ``missing`` media unexplained, beyond ``tolerance_s``, as one more
    gap whose place is unknown."""
    kept: list[dict[str, Any]] = []
    explained = 0.0
    for gap in reported:
        seconds = gap.seconds
        if seconds is None:
            seconds = max(0.0, (stopped_at - gap.start).total_seconds()) if stopped_at else 0.0
        explained += seconds
        kept.append(Gap(gap.at_s, gap.start, seconds, gap.reason).json())
    if missing - explained > tolerance_s:
        kept.append(
            {
                "at_s": None,
                "start": None,
                "seconds": round(missing - explained, 1),
                "reason": GapReason.UNEXPLAINED.value,
            }
        )
    return kept
