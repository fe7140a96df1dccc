"""A 2 GB recording into SeaweedFS: the agent's ResumableUploader (journaled parts, SHA-256
computed while reading, verified after; parts in flight by the host's cores) against the minio
SDK's `fput_object` (its defaults: three parts at once, no journal, no verification), in the same
run, rounds in ABBA order (medians), each upload in a process of its own so its peak RSS is its
own. Goals: throughput ≥ 1.0× fput_object; peak RSS ≤ 100 MB."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import Result
from storage.multipart import DEFAULT_PART, default_workers
from storage.object_store import ObjectStore
from storage.seaweed import EmbeddedSeaweed

SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "2048"))
# Each round is a pair, first one side then the other, the order flipping each round (ABBA…):
# the store slows as its volumes fill and its vacuum runs, and a fixed order would give that
# drift to whichever side always goes second.
# Six rounds: single uploads of the same file vary by ±10% on a shared 2-core machine, and the
# two sides differ by less than that (docs/benchmarks.md).
ROUNDS = int(os.environ.get("BENCH_UPLOAD_ROUNDS", "6"))
# fput_object's parts in flight: its own default (3) unless asked, to see what more would give it.
SDK_PARTS = int(os.environ.get("BENCH_UPLOAD_SDK_PARTS", "3"))

_CHILD = r"""
import json, sys, time
from pathlib import Path
from storage.seaweed import S3Connection
from storage.object_store import ObjectStore
conn = S3Connection(**json.loads(sys.argv[1]))
mode, path, key = sys.argv[2], Path(sys.argv[3]), sys.argv[4]
store = ObjectStore(conn, "bench")
from storage.multipart import ResumableUploader
from storage.upload_journal import UploadJournal
t = time.perf_counter()
if mode == "ours":
    up = ResumableUploader(store, UploadJournal(path.parent / f"journal-{key}.db"))
    up.enqueue(key, path, "video/mp4")
    up.upload(key)
else:
    store.client.fput_object(
        "bench", key, str(path), content_type="video/mp4", num_parallel_uploads=int(sys.argv[5])
    )
seconds = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(int(hwm) / 1024, seconds)
"""


def _run_child(conn_json: str, mode: str, path: Path, key: str) -> tuple[float, float]:
    """Seconds, and peak RSS in MB, of one upload in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, conn_json, mode, str(path), key, str(SDK_PARTS)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"{mode} upload failed ({proc.returncode})")
    rss, seconds = out.decode().split()[-2:]
    return float(seconds), float(rss)


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "recording.mp4"
    chunk = os.urandom(8 * 1024 * 1024)
    with src.open("wb") as f:
        for i in range(SIZE_MB // 8):
            f.write(chunk[i % 7 :] + chunk[: i % 7])  # not all parts alike
    size = src.stat().st_size
    with EmbeddedSeaweed(workdir / "s3") as conn:
        store = ObjectStore(conn, "bench")
        store.ensure_bucket()
        conn_json = json.dumps(
            {
                "endpoint": conn.endpoint,
                "access_key": conn.access_key,
                "secret_key": conn.secret_key,
                "secure": conn.secure,
            }
        )
        _run_child(conn_json, "fput", src, "warmup")  # page cache and server warm for both
        store.delete("warmup")
        runs: dict[str, list[tuple[float, float]]] = {"ours": [], "fput": []}
        for i in range(ROUNDS):
            for mode in ("ours", "fput") if i % 2 == 0 else ("fput", "ours"):
                runs[mode].append(_run_child(conn_json, mode, src, f"{mode}-{i}"))
            assert store.stat(f"ours-{i}").size == size and store.stat(f"ours-{i}").sha256
            store.delete(f"ours-{i}")
            store.delete(f"fput-{i}")
        ours, fput = runs["ours"], runs["fput"]
        ours_s, ours_rss = statistics.median(t for t, _ in ours), max(r for _, r in ours)
        fput_s, fput_rss = statistics.median(t for t, _ in fput), max(r for _, r in fput)
    mb = size / 1e6
    return [
        Result(
            "upload",
            f"resumable + SHA-256 + CRC32C, {SIZE_MB} MiB, {default_workers(DEFAULT_PART)} parts "
            f"at once ({_paired(ours, fput)})",
            "Minio.fput_object" + (f" ({SDK_PARTS} parts at once)" if SDK_PARTS != 3 else ""),
            "MB/s",
            mb / ours_s,
            mb / fput_s,
            higher_is_better=True,
        ),
        Result(
            "upload",
            "peak RSS, resumable",
            "peak RSS, fput_object",
            "MB",
            ours_rss,
            fput_rss,
            higher_is_better=False,
        ),
    ]


def _paired(ours: list[tuple[float, float]], fput: list[tuple[float, float]]) -> str:
    """The throughput ratio of each round's two adjacent uploads, which share the store's state
    of the moment: their mean ± standard error says how sure the medians' ratio is."""
    ratios = [f / o for (o, _), (f, _) in zip(ours, fput, strict=True)]
    if len(ratios) < 2:
        return f"one round: {ratios[0]:.2f}"
    sem = statistics.stdev(ratios) / len(ratios) ** 0.5
    return (
        f"{len(ratios)} paired rounds: {statistics.mean(ratios):.2f} ± {sem:.2f}, "
        f"{min(ratios):.2f}–{max(ratios):.2f}"
    )
