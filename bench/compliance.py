"""The compliance report at bureau scale: 5,000 officers in 60 units, one year of events
(about a million attendance rows), on SQLite and on PostgreSQL.

Baseline, in the same run and database: reading the same attendance rows with a plain SELECT
(no ledger). Goals from the issue: bureau-wide ≤ 2 s, one officer ≤ 50 ms, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import insert, select, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Result
from classroom.compliance import bureau_year, officer_year
from classroom.db.engine import create_engine, session_factory
from classroom.db.migrate import upgrade
from classroom.db.models import (
    Attendance,
    Classroom,
    Course,
    CreditEvent,
    Person,
    PersonRole,
    Session,
    SessionStudyItem,
    Unit,
)
from classroom.plan.loader import load_plan

_T = TypeVar("_T")
TZ = ZoneInfo("Asia/Shanghai")
PLAN = load_plan(Path(__file__).resolve().parent.parent / "plans" / "2023.toml")
OFFICERS = int(os.environ.get("BENCH_OFFICERS", "5000"))
UNITS = 60
OTHER_PER_UNIT = 150  # weekly briefings and the like: they carry most of the rows
AS_OF = date(2023, 12, 31)


def _rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(seed)
    units: list[dict[str, Any]] = [
        {
            "id": u + 1,
            "name": f"unit-{u + 1:02d}",
            "kind": "squad" if u < 50 else "department",
            "squad_type": "street" if u < 50 else None,
            "adjacent_district": u % 7 == 0,
        }
        for u in range(UNITS)
    ]
    people: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for i in range(OFFICERS + 1):
        pid = i + 1
        people.append(
            {
                "id": pid,
                "username": f"u{pid}",
                "display_name": f"officer {pid}",
                "badge_no": f"B{pid:06d}",
                "unit_id": (i % UNITS) + 1,
                "active": True,
                "hired_on": date(2023, 3, 1) if i % 50 == 0 else date(2015, 1, 1),
                "enforcement_staff": True,
                "created_at": datetime(2023, 1, 1, tzinfo=UTC),
            }
        )
        roles.append({"person_id": pid, "role": "officer" if i else "trainer"})
    sessions: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    attendance: list[dict[str, Any]] = []
    credits: list[dict[str, Any]] = []
    sid = 0

    def add(kind: str, start: datetime, minutes: int, unit: int | None) -> int:
        nonlocal sid
        sid += 1
        end = start + timedelta(minutes=minutes)
        sessions.append(
            {
                "id": sid,
                "course_id": 1,
                "classroom_id": 1,
                "trainer_id": 1,
                "kind": kind,
                "title": f"s{sid}",
                "planned_start": start,
                "planned_end": end,
                "actual_start": start,
                "actual_end": end,
                "unit_id": unit,
            }
        )
        return sid

    members: dict[int, list[int]] = {}
    for p in people[1:]:
        members.setdefault(p["unit_id"], []).append(p["id"])
    n = 0

    def attend(s: int, start: datetime, minutes: int, who: list[int], share: float) -> None:
        nonlocal n
        for pid in who:
            if rnd.random() > share:
                continue
            n += 1
            late = rnd.choice((0, 0, 0, 5, 15))
            attendance.append(
                {
                    "id": n,
                    "event_uid": f"e{n}",
                    "session_id": s,
                    "person_id": pid,
                    "check_in": start + timedelta(minutes=late),
                    "check_out": start + timedelta(minutes=minutes),
                    "source": "import",
                    "reason": "",
                    "created_at": start,
                }
            )

    for u in units:
        uid, who = u["id"], members[u["id"]]
        for m in range(1, 13):
            start = datetime(2023, m, 10, 14, tzinfo=TZ)
            s = add("unit_study", start, 45, uid)
            items.append({"session_id": s, "item_no": m if m <= 14 else 1, "articles": 0})
            items.append({"session_id": s, "item_no": 15, "articles": 3})
            attend(s, start, 45, who, 0.95)
            if u["kind"] == "squad":
                for day in (6, 20):
                    start = datetime(2023, m, day, 8, tzinfo=TZ)
                    attend(add("drill_training", start, 25, uid), start, 25, who, 0.93)
        for k in range(OTHER_PER_UNIT):
            start = datetime(2023, 1, 2, 8, tzinfo=TZ) + timedelta(days=k * 2.4)
            attend(add("other", start, 60, uid), start, 60, who, 0.97)
    for d in range(6):
        start = datetime(2023, 5 if d < 3 else 10, 8 + d % 3, 9, tzinfo=TZ)
        attend(
            add("training_day", start, 480, None), start, 480, [p["id"] for p in people[1:]], 0.5
        )
    c = 0
    for p in people[1:]:
        for k in range(4):
            c += 1
            credits.append(
                {
                    "id": c,
                    "event_uid": f"c{c}",
                    "person_id": p["id"],
                    "source": "online_import",
                    "on_date": date(2023, 3 * k + 1, 15),
                    "hours": 6.0,
                    "credits": 3.0,
                    "course": "online",
                    "note": "",
                    "created_at": datetime(2023, 1, 1, tzinfo=UTC),
                }
            )
    return {
        "units": units,
        "people": people,
        "person_roles": roles,
        "sessions": sessions,
        "session_study_items": items,
        "attendance": attendance,
        "credit_events": credits,
    }


TABLES = {
    "units": Unit,
    "people": Person,
    "person_roles": PersonRole,
    "sessions": Session,
    "session_study_items": SessionStudyItem,
    "attendance": Attendance,
    "credit_events": CreditEvent,
}


async def _load(engine: AsyncEngine, data: dict[str, list[dict[str, Any]]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(Classroom), [{"id": 1, "name": "room", "location": ""}])
        await conn.execute(
            insert(Course), [{"id": 1, "code": "C", "title": "c", "description": ""}]
        )
        for name, model in TABLES.items():
            rows = data[name]
            if engine.dialect.name == "postgresql" and len(rows) > 10_000:
                raw: Any = (await conn.get_raw_connection()).driver_connection
                cols = list(rows[0])
                await raw.copy_records_to_table(
                    name, records=[tuple(r[c] for c in cols) for r in rows], columns=cols
                )
            else:
                for i in range(0, len(rows), 20_000):
                    await conn.execute(insert(model), rows[i : i + 20_000])
        if engine.dialect.name == "postgresql":
            for name in TABLES:
                await conn.execute(text(f"ANALYZE {name}"))


async def _measure(url: str, label: str, data: dict[str, list[dict[str, Any]]]) -> list[Result]:
    engine = create_engine(url)
    await upgrade(engine)
    await _load(engine, data)
    sm = session_factory(engine)
    rows = len(data["attendance"])

    async def raw_read() -> float:
        t = time.perf_counter()
        async with sm() as db:
            got = (
                await db.execute(
                    select(
                        Attendance.person_id,
                        Attendance.session_id,
                        Attendance.check_in,
                        Attendance.check_out,
                    )
                )
            ).all()
        assert len(got) == rows
        return time.perf_counter() - t

    async def bureau() -> float:
        t = time.perf_counter()
        async with sm() as db:
            ledger = await bureau_year(db, PLAN, TZ, AS_OF)
        assert len(ledger.officers) == OFFICERS
        return time.perf_counter() - t

    async def one() -> float:
        t = time.perf_counter()
        async with sm() as db:
            oy = await officer_year(db, PLAN, 1 + random.randrange(1, OFFICERS), TZ, AS_OF)
        assert oy is not None
        return time.perf_counter() - t

    async def med(fn: Any, runs: int) -> float:
        await fn()  # warm caches
        times: list[float] = sorted([await fn() for _ in range(runs)])
        return times[len(times) // 2]

    raw = await med(raw_read, 3)
    full = await med(bureau, 3)
    single = await med(one, 15)
    await engine.dispose()
    return [
        Result(
            "compliance",
            f"bureau report ({label})",
            f"SELECT {rows:,} rows",
            "s",
            full,
            raw,
            higher_is_better=False,
        ),
        Result(
            "compliance",
            f"one officer ({label})",
            "bureau report",
            "s",
            single,
            full,
            higher_is_better=False,
        ),
    ]


async def _fresh_pg_db() -> tuple[str, str] | None:
    base = os.environ.get(
        "CLASSROOM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"classroom_bench_{os.getpid()}"
    try:
        conn = await asyncpg.connect(admin)
    except OSError:
        return None
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return make_url(base).set(database=name).render_as_string(hide_password=False), admin


def on_fresh_postgres(measure: Callable[[str], Awaitable[_T]]) -> _T:
    """``measure(url)`` on a PostgreSQL database of its own, dropped afterwards."""
    pg = asyncio.run(_fresh_pg_db())
    if pg is None:
        raise RuntimeError("no PostgreSQL answers: run `make bench` (it starts one)")
    url, admin = pg
    try:
        return asyncio.run(measure(url))
    finally:

        async def _drop() -> None:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            await conn.close()

        asyncio.run(_drop())


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    data = _rows()
    results = asyncio.run(_measure(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", "SQLite", data))
    return results + on_fresh_postgres(lambda url: _measure(url, "PostgreSQL", data))
