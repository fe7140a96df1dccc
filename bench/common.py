"""Shared pieces of the benchmarks: results and the table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    bench: str
    candidate: str
    baseline: str
    unit: str
    candidate_value: float
    baseline_value: float
    higher_is_better: bool

    @property
    def ratio(self) -> float:
        return self.candidate_value / self.baseline_value


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def print_table(results: list[Result]) -> None:
    head = ("bench", "candidate", "value", "baseline", "value", "unit", "ratio")
    rows = [
        (
            r.bench,
            r.candidate,
            f"{r.candidate_value:.3g}",
            r.baseline,
            f"{r.baseline_value:.3g}",
            r.unit,
            f"{r.ratio:.2f}{'' if r.higher_is_better else ' (lower is better)'}",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
