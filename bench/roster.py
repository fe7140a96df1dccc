"""A bureau's roster at once: 5,000 people in 60 units from one XLSX, applied through the roster
import (classroom/roster.py: read, validate, key on badge numbers, add units and people, audit)
into a fresh PostgreSQL database. Baseline, in the same run and database: a plain bulk INSERT of
the same people and units. Goal from the issue (Round 2 · 4): ≤ 10 s. A second apply of the same
file (nothing to change) is measured too.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import delete, insert, select

from bench.common import Result
from bench.compliance import on_fresh_postgres
from classroom.db.engine import create_engine, session_factory
from classroom.db.migrate import upgrade
from classroom.db.models import Person, PersonRole, Role, Unit
from classroom.people import create_person
from classroom.roster import HEADERS, apply_roster

PEOPLE = int(os.environ.get("BENCH_ROSTER_PEOPLE", "5000"))
UNITS = 60


def _workbook() -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("roster")
    sheet.append(list(HEADERS.values()))
    for n in range(PEOPLE):
        unit = n % UNITS
        sheet.append(
            [
                f"B{n:05d}",
                f"警员{n:05d}",
                f"单位{unit:02d}",
                "中队" if unit < 50 else "科室",
                "学员",
                f"20{10 + n % 14:02d}-0{1 + n % 9}-15",
                "是",
                f"1380000{n:04d}",
                "",
                "是",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _measure(url: str) -> list[Result]:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as db:
        admin = await create_person(db, "bench-admin", "admin", [Role.ADMIN])
        await db.commit()
        admin_id = admin.id

    # baseline: the same rows, one bulk INSERT each for units, people and their roles
    t = time.perf_counter()
    async with sessions() as db:
        await db.execute(
            insert(Unit),
            [
                {
                    "id": 1000 + u,
                    "name": f"base{u:02d}",
                    "kind": "squad",
                    "adjacent_district": False,
                }
                for u in range(UNITS)
            ],
        )
        await db.execute(
            insert(Person),
            [
                {
                    "id": 100_000 + n,
                    "username": f"base{n:05d}",
                    "display_name": f"警员{n:05d}",
                    "badge_no": f"X{n:05d}",
                    "unit_id": 1000 + n % UNITS,
                }
                for n in range(PEOPLE)
            ],
        )
        await db.execute(
            insert(PersonRole),
            [{"person_id": 100_000 + n, "role": Role.OFFICER} for n in range(PEOPLE)],
        )
        await db.commit()
    baseline = time.perf_counter() - t
    async with sessions() as db:  # out of the way of the import's "whole roster" view
        await db.execute(delete(PersonRole).where(PersonRole.person_id >= 100_000))
        await db.execute(delete(Person).where(Person.id >= 100_000))
        await db.execute(delete(Unit).where(Unit.id >= 1000))
        await db.commit()

    data = _workbook()
    timings = []
    for _ in range(2):
        t = time.perf_counter()
        async with sessions() as db:
            actor = await db.scalar(select(Person).where(Person.id == admin_id))
            assert actor is not None
            plan = await apply_roster(db, data, "roster.xlsx", actor)
            await db.commit()
        timings.append(time.perf_counter() - t)
    assert plan.unchanged == PEOPLE, plan.summary()["refused"][:3]
    await engine.dispose()
    base = f"bulk INSERT of {PEOPLE} people"
    return [
        Result("roster", f"import {PEOPLE} people (XLSX)", base, "s", timings[0], baseline, False),
        Result("roster", "the same file again (no change)", base, "s", timings[1], baseline, False),
    ]


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    return on_fresh_postgres(_measure)
