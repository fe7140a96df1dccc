"""Card check-in throughput on PostgreSQL, as deployed: `classroom serve` (one process) and the
load from a process of its own (bench/http_load.py), 32 keep-alive connections tapping cards of
different officers for 10 s — auth by kiosk token, card lookup, open session, attendance insert,
commit. Baseline in the same run: the kiosk's own state read (GET /kiosk/state), the lightest call
with the same auth. Goal: ≥ 1,000 check-ins/s sustained, p99 ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine.url import make_url

from bench.common import Result, http_load, load_result, serving
from classroom.db.engine import session_factory
from classroom.db.models import DeviceKind, IdCard, Person, PersonRole, Session, SessionKind
from classroom.devices import create_device
from classroom.runtime import open_database
from classroom.seed import seed_demo
from classroom.settings import load_settings
from storage.ports import free_port

SECONDS = float(os.environ.get("BENCH_CHECKIN_S", "10"))
CONNECTIONS = 32
OFFICERS = 40_000
FIRST = 100_000  # the first bench officer's id: their cards are C100000 …
ROOT = Path(__file__).resolve().parent.parent


async def _database() -> tuple[str, str]:
    base = os.environ.get(
        "CLASSROOM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"classroom_bench_checkin_{os.getpid()}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return make_url(base).set(database=name).render_as_string(hide_password=False), admin


async def _seed(workdir: Path, url: str) -> str:
    """The demo world, a session open now in its classroom, 40,000 officers with a card each;
    the kiosk's token."""
    settings = load_settings(data_dir=workdir / "var", database={"url": url})
    async with open_database(settings) as engine, session_factory(engine)() as db:
        world = await seed_demo(db)
        now = datetime.now(UTC)
        db.add(
            Session(
                course_id=1,
                classroom_id=world.classroom_id,
                trainer_id=1,
                kind=SessionKind.OTHER,
                title="bench",
                planned_start=now - timedelta(minutes=5),
                planned_end=now + timedelta(hours=2),
            )
        )
        _, token = await create_device(db, world.classroom_id, DeviceKind.KIOSK, "bench")
        await db.commit()
        people = [
            {
                "id": FIRST + i,
                "username": f"b{i}",
                "display_name": f"officer {i}",
                "active": True,
                "enforcement_staff": True,
                "created_at": now,
            }
            for i in range(OFFICERS)
        ]
        await db.execute(insert(Person), people)
        await db.execute(
            insert(PersonRole), [{"person_id": p["id"], "role": "officer"} for p in people]
        )
        await db.execute(
            insert(IdCard),
            [
                {
                    "card_no": f"C{p['id']}",
                    "person_id": p["id"],
                    "registered_by_id": 1,
                    "created_at": now,
                }
                for p in people
            ],
        )
        await db.commit()
    return token


def _load(port: int, token: str, method: str, path: str, body: str = "") -> dict[str, Any]:
    """Load from a process of its own, against `classroom serve`."""
    proc = http_load(port, token, method, path, CONNECTIONS, SECONDS, body)
    return load_result(proc, SECONDS + 120)


def _measure(workdir: Path, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    token = asyncio.run(_seed(workdir, url))
    port = free_port()
    env = {"CLASSROOM_DATA_DIR": str(workdir / "var"), "CLASSROOM_DATABASE__URL": url}
    with serving(workdir, port, env):
        body = '{"card_no": "C{n}", "event_uid": "{uuid}"}'
        taps = _load(port, token, "POST", "/api/v1/kiosk/card", body)
        state = _load(port, token, "GET", "/api/v1/kiosk/state")
    for name, got in (("check-ins", taps), ("state reads", state)):
        if set(got["statuses"]) != {"200"}:
            raise RuntimeError(f"{name} answered {got['statuses']}")
    return taps, state


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    url, admin = asyncio.run(_database())
    try:
        taps, state = _measure(workdir, url)
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            await conn.close()

        asyncio.run(drop())
    return [
        Result(
            "checkin",
            f"card check-ins, PostgreSQL, {CONNECTIONS} connections",
            "GET /kiosk/state",
            "per s",
            taps["requests"] / taps["seconds"],
            state["requests"] / state["seconds"],
            higher_is_better=True,
        ),
        Result(
            "checkin",
            "card check-in p99",
            "state read p99",
            "ms",
            taps["p99_ms"],
            state["p99_ms"],
            higher_is_better=False,
        ),
    ]
