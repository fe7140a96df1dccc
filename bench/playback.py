"""Recording playback: through the portal's Range proxy (the default) against reading the same
object straight from S3 with a presigned URL (the `presigned` playback mode)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

from bench.common import Result, median_of, timed
from classroom.db.engine import session_factory
from classroom.db.models import Recording, RecordingState
from classroom.runtime import open_database
from classroom.seed import DEMO_LOGINS, seed_demo
from classroom.settings import load_settings
from storage.object_store import ObjectStore
from storage.ports import free_port
from storage.seaweed import EmbeddedSeaweed

SIZE = 64 * 1024 * 1024
RUNS = 5


async def _seed(data_dir: Path, key: str, size: int, sha: str) -> int:
    settings = load_settings(data_dir=data_dir)
    async with open_database(settings) as engine, session_factory(engine)() as db:
        world = await seed_demo(db)
        rec = Recording(
            session_id=world.session_id,
            state=RecordingState.AVAILABLE,
            object_key=key,
            size_bytes=size,
            sha256=sha,
            segment_keys=[],
        )
        db.add(rec)
        await db.commit()
        return rec.id


def _download(client: httpx.Client, url: str) -> int:
    n = 0
    with client.stream("GET", url) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes(1024 * 1024):
            n += len(chunk)
    assert n == SIZE
    return n


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True)
    blob = workdir / "blob.mp4"
    blob.write_bytes(os.urandom(SIZE))
    with EmbeddedSeaweed(workdir / "s3") as conn:
        store = ObjectStore(conn, "bench")
        store.ensure_bucket()
        info = store.put_file("bench/blob.mp4", blob, "video/mp4")
        data_dir = workdir / "var"
        rec_id = asyncio.run(_seed(data_dir, "bench/blob.mp4", info.size, info.sha256 or ""))
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")},
            "CLASSROOM_DATA_DIR": str(data_dir),
            "CLASSROOM_WEB__PORT": str(port),
            "CLASSROOM_STORAGE__ENDPOINT": conn.endpoint,
            "CLASSROOM_STORAGE__ACCESS_KEY": conn.access_key,
            "CLASSROOM_STORAGE__SECRET_KEY": conn.secret_key,
            "CLASSROOM_STORAGE__BUCKET": "bench",
            "CLASSROOM_LOG_FORMAT": "json",
        }
        portal = subprocess.Popen(
            [sys.executable, "-m", "classroom.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=60) as client:
                for _ in range(100):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.2)
                client.post(
                    "/api/v1/auth/login",
                    json={"username": "officer1", "password": DEMO_LOGINS["officer1"][1]},
                )
                media = f"/api/v1/recordings/{rec_id}/media"
                proxy_s = median_of(RUNS, lambda: timed(lambda: _download(client, media)))
                direct = store.presigned_get("bench/blob.mp4", timedelta(minutes=10))
                direct_s = median_of(RUNS, lambda: timed(lambda: _download(client, direct)))
        finally:
            portal.terminate()
            portal.wait(30)
    mb = SIZE / 1e6
    return [
        Result(
            "playback",
            "portal proxy",
            "presigned S3",
            "MB/s",
            mb / proxy_s,
            mb / direct_s,
            higher_is_better=True,
        ),
    ]
