"""Recordings in tests: a real H.264 clip and an available recording of a past session, as the
portal would hold it, for tests that start after the recording; waiting for a recording's state
and checking its media against its capture's wall time, for those that record."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import Recording, RecordingState, Session, SessionKind
from streaming.ffmpeg_bin import resolve_ffmpeg


def clip(out: Path, seconds: float, size: str = "320x180", rate: int = 15) -> Path:
    """A faststart H.264 MP4 of ffmpeg's test pattern, one keyframe a second."""
    subprocess.run(
        [
            resolve_ffmpeg(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            str(rate),
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-y",
            str(out),
        ],
        check=True,
    )
    return out


async def past_recording(
    db: AsyncSession,
    *,
    course_id: int,
    classroom_id: int,
    trainer_id: int,
    kind: SessionKind,
    title: str,
    hours: float,
    duration_s: float,
    object_key: str | None = None,
    size_bytes: int = 1,
    sha256: str = "0" * 64,
    unit_id: int | None = None,
    days_ago: int = 1,
) -> int:
    """An available recording of a session held ``days_ago`` (committed by the caller)."""
    start = datetime.now(UTC) - timedelta(days=days_ago)
    s = Session(
        course_id=course_id,
        classroom_id=classroom_id,
        trainer_id=trainer_id,
        unit_id=unit_id,
        kind=kind,
        title=title,
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
    )
    db.add(s)
    await db.flush()
    rec = Recording(
        session_id=s.id,
        state=RecordingState.AVAILABLE,
        object_key=object_key or f"recordings/{s.id}/recording.mp4",
        duration_s=duration_s,
        size_bytes=size_bytes,
        sha256=sha256,
    )
    db.add(rec)
    await db.flush()
    return rec.id


def wait_state(client: httpx.Client, rec_id: int, states: set[str], timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = client.get(f"/api/v1/recordings/{rec_id}").json()
        if rec["state"] in states:
            return rec
        time.sleep(0.25)
    raise TimeoutError(f"recording {rec_id} stuck in {rec['state']}")


def accounted_for(rec: dict, slack_s: float) -> list[dict]:
    """The recording's media is its capture's wall time less only the gaps the agent reported
    (within ``slack_s``: the last segment cut short, the start's second), and nothing is
    unexplained. Returns the gaps."""
    gaps = rec["gaps"]
    assert all(g["reason"] != "unexplained" for g in gaps), gaps
    reported = sum(g["seconds"] for g in gaps)
    assert abs(rec["expected_s"] - reported - rec["duration_s"]) <= slack_s, rec
    return gaps
