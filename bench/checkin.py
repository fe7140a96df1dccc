"""Card check-in throughput at the kiosk API on PostgreSQL: 32 kiosks' worth of concurrent taps,
each a different officer, for 10 s, through the whole app in process (auth by kiosk token, card
lookup, open session, attendance insert, commit) — no network in between. Baseline in the same
run: the kiosk's own state read (GET /kiosk/state), the lightest call with the same auth.
Goal: ≥ 1,000 check-ins/s sustained, p99 ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import insert
from sqlalchemy.engine.url import make_url

from bench.common import Result
from classroom.db.models import DeviceKind, IdCard, Person, PersonRole, Session, SessionKind
from classroom.devices import create_device
from classroom.runtime import open_services
from classroom.seed import seed_demo
from classroom.settings import load_settings
from web.app import create_app

SECONDS = float(os.environ.get("BENCH_CHECKIN_S", "10"))
WORKERS = 32
OFFICERS = 40_000


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


async def _measure(workdir: Path, url: str) -> tuple[float, float, float, float]:
    settings = load_settings(data_dir=workdir / "var", database={"url": url})
    async with open_services(settings) as svc:
        async with svc.sessionmaker() as db:
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
            first = 100_000
            people = [
                {
                    "id": first + i,
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
        app = create_app(svc)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}

        async def load(make: object) -> tuple[float, float]:
            latencies: list[float] = []
            counter = iter(range(first, first + OFFICERS))
            stop_at = time.perf_counter() + SECONDS

            async def worker() -> None:
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://k", headers=headers
                ) as c:
                    while time.perf_counter() < stop_at:
                        t = time.perf_counter()
                        r = await make(c, next(counter))  # type: ignore[operator]
                        latencies.append(time.perf_counter() - t)
                        assert r.status_code == 200, r.text

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
            elapsed = time.perf_counter() - started
            latencies.sort()
            return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000

        async def tap(c: httpx.AsyncClient, pid: int) -> httpx.Response:
            return await c.post(
                "/api/v1/kiosk/card", json={"card_no": f"C{pid}", "event_uid": str(uuid.uuid4())}
            )

        async def state(c: httpx.AsyncClient, pid: int) -> httpx.Response:
            return await c.get("/api/v1/kiosk/state")

        rate, p99 = await load(tap)
        base_rate, base_p99 = await load(state)
        return rate, p99, base_rate, base_p99


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    url, admin = asyncio.run(_database())
    try:
        rate, p99, base_rate, base_p99 = asyncio.run(_measure(workdir, url))
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            await conn.close()

        asyncio.run(drop())
    return [
        Result(
            "checkin",
            "card check-ins (PostgreSQL)",
            "GET /kiosk/state",
            "per s",
            rate,
            base_rate,
            higher_is_better=True,
        ),
        Result(
            "checkin",
            "card check-in p99",
            "state read p99",
            "ms",
            p99,
            base_p99,
            higher_is_better=False,
        ),
    ]
