"""Shared pieces of the benchmarks: results and the table."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


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
        if self.baseline_value == 0:  # counts (attacks passed) can be none on both sides
            return 1.0 if self.candidate_value == 0 else math.inf
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


ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serving(workdir: Path, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`classroom serve` on ``port`` with ``env`` (CLASSROOM_* settings), ready to answer; stopped
    afterwards. Its log is ``workdir/portal.log``."""
    import httpx  # the benchmarks that serve nothing need none of it

    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")},
        "CLASSROOM_WEB__PORT": str(port),
        "CLASSROOM_LOG_FORMAT": "json",
        "CLASSROOM_PLANS_DIR": str(ROOT / "plans"),
        **env,
    }
    log = (workdir / "portal.log").open("wb")
    portal = subprocess.Popen(
        [sys.executable, "-m", "classroom.cli", "serve"], env=full, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert portal.poll() is None, (workdir / "portal.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.3)
        yield portal
    finally:
        portal.send_signal(signal.SIGTERM)
        portal.wait(30)
        log.close()


def http_load(
    port: int, token: str, method: str, path: str, connections: int, seconds: float, body: str = ""
) -> subprocess.Popen[str]:
    """bench/http_load.py against the portal, from a process of its own; read its answer with
    ``load_result``."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.http_load", "127.0.0.1", str(port), method, path, token]
        + [str(connections), str(seconds)]
        + ([body] if body else []),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def load_result(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"http_load exited {proc.returncode}")
    result: dict[str, object] = json.loads(out)
    return result
