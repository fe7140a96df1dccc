"""Kiosk reads during a login flood: `classroom serve` (one process, SQLite) answers the kiosk's
state read from 4 keep-alive connections for 10 s, alone (baseline) and while 6 more connections
post logins with the right password as fast as they are answered (each an argon2 check).
Candidate: the kiosk's p99 during the flood, as a ratio to its p99 without it. Password checks
run in a pool of their own beside the event loop, so the kiosk should barely notice.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bench.common import Result, http_load, load_result, serving
from classroom.db.engine import session_factory
from classroom.db.models import DeviceKind
from classroom.devices import create_device
from classroom.runtime import open_database
from classroom.seed import DEMO_LOGINS, seed_demo
from classroom.settings import load_settings
from storage.ports import free_port

SECONDS = float(os.environ.get("BENCH_LOGIN_S", "10"))
KIOSKS = 4
LOGINS = 6


async def _seed(data_dir: Path) -> str:
    settings = load_settings(data_dir=data_dir)
    async with open_database(settings) as engine, session_factory(engine)() as db:
        world = await seed_demo(db)
        _, token = await create_device(db, world.classroom_id, DeviceKind.KIOSK, "bench")
        await db.commit()
    return token


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "var"
    token = asyncio.run(_seed(data))
    port = free_port()
    body = json.dumps({"username": "officer1", "password": DEMO_LOGINS["officer1"][1]})
    with serving(workdir, port, {"CLASSROOM_DATA_DIR": str(data)}):
        alone = load_result(
            http_load(port, token, "GET", "/api/v1/kiosk/state", KIOSKS, SECONDS), SECONDS + 60
        )
        flood = http_load(port, "-", "POST", "/api/v1/auth/login", LOGINS, SECONDS, body)
        during = load_result(
            http_load(port, token, "GET", "/api/v1/kiosk/state", KIOSKS, SECONDS), SECONDS + 60
        )
        logins: dict[str, Any] = load_result(flood, SECONDS + 60)
    if set(logins["statuses"]) != {"200"}:
        raise RuntimeError(f"logins answered {logins['statuses']}")
    return [
        Result(
            "login_flood",
            f"kiosk state p99, {LOGINS} login connections flooding",
            "kiosk state p99, no logins",
            "ms",
            float(during["p99_ms"]),  # type: ignore[arg-type]
            float(alone["p99_ms"]),  # type: ignore[arg-type]
            higher_is_better=False,
        ),
        Result(
            "login_flood",
            "logins answered during the flood",
            "kiosk reads answered during it",
            "per s",
            float(logins["requests"]) / float(logins["seconds"]),
            float(during["requests"]) / float(during["seconds"]),  # type: ignore[arg-type]
            higher_is_better=True,
        ),
    ]
