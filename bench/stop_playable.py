"""Stop → playable: how long after Stop a recording can be watched, for a short and a long
recording in one run, through the agent's finishing step (classroom/agent/finishing.py) against
SeaweedFS.

Each recording is made of real 4-second segments (H.264 + AAC, 640×360) laid out as the
recorder leaves them, each noted with its duration and already uploaded through the journal, as
the agent does while recording. Then the clock starts, as at Stop, and the finishing runs: the
time to its playable report (the HLS playlist in the store) against the time to its last report
(MP4 joined, uploaded and every segment checked) — what "available" used to wait for.
Goals: playable within 5 s for an hour, and the hour's time at most 1.5× the minute's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import BaseModel

from bench.common import Result
from classroom.agent.finishing import Finisher
from classroom.agent.health import Health
from storage.multipart import ResumableUploader
from storage.object_store import ObjectStore
from storage.seaweed import EmbeddedSeaweed
from storage.upload_journal import UploadJournal
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.recorder import DURATIONS

SEGMENT_S = 4
LENGTHS = {"1 min": 60, "1 h": int(os.environ.get("BENCH_LONG_S", "3600"))}


def _segment(ffmpeg: str, out: Path) -> None:
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=640x360:rate=25:duration={SEGMENT_S}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={SEGMENT_S}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "mpegts",
            "-y",
            str(out),
        ],
        check=True,
    )


def _recording(source: Path, workdir: Path, seconds: int) -> None:
    segments = workdir / "segments"
    segments.mkdir(parents=True)
    names = [f"r0001-{i:05d}.ts" for i in range(seconds // SEGMENT_S)]
    for name in names:
        shutil.copyfile(source, segments / name)
    (segments / DURATIONS).write_text("".join(f"{n},{SEGMENT_S:.6f}\n" for n in names))


def _clocked(reports: list[tuple[str, float]]) -> Callable[..., Awaitable[None]]:
    """The outbox's place: each report's last word (playable, upload) and when it was put."""

    async def report(path: str, message: BaseModel) -> None:
        reports.append((path.rsplit("/", 1)[-1], time.perf_counter()))

    return report


async def _finish(
    finisher: Finisher,
    uploader: ResumableUploader,
    workdir: Path,
    prefix: str,
) -> float:
    for seg in sorted((workdir / "segments").glob("*.ts")):  # uploaded while recording
        uploader.enqueue(f"{prefix}segments/{seg.name}", seg, "video/mp2t")
        uploader.upload(f"{prefix}segments/{seg.name}")
    started = time.perf_counter()
    assert await finisher.finish(1, workdir, prefix)
    return started


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    ffmpeg = resolve_ffmpeg()
    source = workdir / "segment.ts"
    _segment(ffmpeg, source)
    times: dict[str, dict[str, float]] = {}
    with EmbeddedSeaweed(workdir / "s3") as conn:
        store = ObjectStore(conn, "bench")
        store.ensure_bucket()
        for label, seconds in LENGTHS.items():
            folder = workdir / label.replace(" ", "")
            _recording(source, folder, seconds)
            uploader = ResumableUploader(store, UploadJournal(folder / "uploads.db"))
            reports: list[tuple[str, float]] = []
            finisher = Finisher(
                ffmpeg, uploader, Health(30.0), _clocked(reports), lambda: 1 << 40, True, False
            )
            prefix = f"bench/{label.replace(' ', '')}/"
            started = asyncio.run(_finish(finisher, uploader, folder, prefix))
            at = dict(reports)
            times[label] = {
                "playable": at["playable"] - started,
                "whole": at["upload"] - started,
            }
            print(
                f"  {label}: playable {times[label]['playable']:.2f} s, "
                f"whole {times[label]['whole']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    short, long = times["1 min"], times["1 h"]
    return [
        Result(
            "stop_playable",
            "Stop → playable, 1 h",
            "Stop → playable, 1 min",
            "s",
            long["playable"],
            short["playable"],
            False,
        ),
        Result(
            "stop_playable",
            "Stop → playable, 1 h",
            "Stop → MP4 in (all finished), 1 h",
            "s",
            long["playable"],
            long["whole"],
            False,
        ),
        Result(
            "stop_playable",
            "Stop → MP4 in, 1 h",
            "Stop → MP4 in, 1 min",
            "s",
            long["whole"],
            short["whole"],
            False,
        ),
    ]
