"""The ledger read from SQLite and PostgreSQL: the bureau report's fast path (check-ins measured
in SQL, sessions that cannot count left unread) gives exactly the ledger that reading every row
and measuring it in Python does, boundaries included."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from classroom.compliance import bureau_year
from classroom.db.engine import create_engine, session_factory
from classroom.db.migrate import upgrade
from classroom.db.models import (
    Attendance,
    AttendanceSource,
    Classroom,
    Cohort,
    CohortMember,
    Course,
    Person,
    PersonRole,
    Role,
    Session,
    SessionKind,
    SessionStudyItem,
    Unit,
    UnitKind,
)
from classroom.ledger.compute import compute_year
from classroom.ledger.load import load_facts
from tests.ledger_helpers import PLAN

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[AsyncSession]:
    engine: AsyncEngine = create_engine(db_url)
    await upgrade(engine)
    async with session_factory(engine)() as session:
        yield session
    await engine.dispose()


async def _world(db: AsyncSession, seed: int) -> None:
    rnd = random.Random(seed)
    db.add_all(
        [
            Unit(id=1, name="一中队", kind=UnitKind.SQUAD, adjacent_district=False),
            Classroom(id=1, name="r"),
            Course(id=1, code="c", title="c"),
        ]
    )
    for pid in range(1, 13):
        db.add(
            Person(
                id=pid,
                username=f"p{pid}",
                display_name=f"p{pid}",
                unit_id=1,
                role_rows=[PersonRole(role=Role.OFFICER)],
            )
        )
    await db.flush()
    kinds = [
        SessionKind.TRAINING_DAY,
        SessionKind.UNIT_STUDY,
        SessionKind.DRILL_TRAINING,
        SessionKind.OTHER,
        SessionKind.OTHER,
    ]
    n = 0
    for sid in range(1, 25):
        start = datetime(2023, rnd.randint(1, 12), rnd.randint(1, 28), 9, tzinfo=TZ)
        minutes = rnd.choice([20, 39, 40, 45, 480])
        end = start + timedelta(minutes=minutes)
        db.add(
            Session(
                id=sid,
                course_id=1,
                classroom_id=1,
                trainer_id=1,
                unit_id=1,
                kind=rnd.choice(kinds),
                title=f"s{sid}",
                planned_start=start,
                planned_end=end,
            )
        )
        if rnd.random() < 0.4:  # study items covered, by sessions that count and those that don't
            db.add(SessionStudyItem(session_id=sid, item_no=rnd.randint(1, 15), articles=3))
        await db.flush()
        for pid in rnd.sample(range(1, 13), rnd.randint(0, 12)):
            # Boundaries on purpose: exactly 10 min late, 10 min early, exactly the share of a
            # short session (its tolerance), breaks, no check-out.
            late = rnd.choice([0, 10, 10.5, 11, 30, minutes * 0.25, minutes * 0.1, -5])
            early = rnd.choice([0, 10, 11, 60, minutes * 0.1, minutes * 0.1 + 0.5])
            rows = (
                [(late, early)]
                if rnd.random() > 0.2
                else [(late, minutes / 2), (minutes / 2 + 5, early)]
            )
            for a, b in rows:
                n += 1
                check_out = None if rnd.random() < 0.1 else end - timedelta(minutes=b)
                db.add(
                    Attendance(
                        event_uid=f"e{n}",
                        session_id=sid,
                        person_id=pid,
                        check_in=start + timedelta(minutes=a),
                        check_out=check_out,
                        source=AttendanceSource.IMPORT,
                    )
                )
    await db.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_measured_presence_gives_the_same_ledger(db: AsyncSession, seed: int) -> None:
    await _world(db, seed)
    as_of = datetime(2023, 12, 31).date()
    fast = await load_facts(db, 2023, TZ)
    slow = await load_facts(db, 2023, TZ, measure_in_sql=False)
    assert fast.presence and not slow.presence  # the two paths really differ
    assert len(fast.presence) + len({(a.session_id, a.person_id) for a in fast.attendance}) == len(
        {(a.session_id, a.person_id) for a in slow.attendance}
    )
    reference = compute_year(PLAN, slow, as_of, TZ)
    assert compute_year(PLAN, fast, as_of, TZ) == reference
    kinds = [t.session_kind for t in PLAN.tasks]
    counted = await load_facts(db, 2023, TZ, kinds=kinds)
    assert len(counted.sessions) < len(slow.sessions)  # untagged "other" sessions left unread
    ruled = await load_facts(db, 2023, TZ, kinds=kinds, rule=PLAN.presence)
    # Plainly present people come as one list per session; the rest (late, left early, exactly
    # at a tolerance, several check-ins) as measured rows or as check-ins.
    assert ruled.fully_present and ruled.presence and ruled.attendance
    on_time = {(f.session_id, p) for f in ruled.fully_present for p in f.person_ids}
    assert not on_time & {(p.session_id, p.person_id) for p in ruled.presence}
    assert compute_year(PLAN, ruled, as_of, TZ) == compute_year(PLAN, counted, as_of, TZ)
    assert await bureau_year(db, PLAN, TZ, as_of) == reference


async def test_one_officer_is_the_same_as_in_the_bureau_report(db: AsyncSession) -> None:
    await _world(db, 4)
    as_of = datetime(2023, 12, 31).date()
    bureau = compute_year(PLAN, await load_facts(db, 2023, TZ), as_of, TZ)
    for pid in (1, 5, 12):
        one = compute_year(PLAN, await load_facts(db, 2023, TZ, person_id=pid), as_of, TZ)
        assert one.officers[pid].parts == bureau.officers[pid].parts
        assert one.officers[pid].entries == bureau.officers[pid].entries


async def test_cohorts_come_from_the_database(db: AsyncSession) -> None:
    """Cohorts (期) and their officers, as the calendar will keep them, reach the ledger."""
    await _world(db, 5)
    db.add_all(
        [
            Cohort(
                id=1,
                year=2023,
                task="all_staff_training",
                number=1,
                name="第一期",
                starts_on=date(2023, 5, 8),
                ends_on=date(2023, 5, 10),
            ),
            Cohort(
                id=2,
                year=2024,
                task="all_staff_training",
                number=1,
                starts_on=date(2024, 5, 6),
                ends_on=date(2024, 5, 8),
            ),
            CohortMember(cohort_id=1, person_id=3),
            CohortMember(cohort_id=1, person_id=4),
            CohortMember(cohort_id=2, person_id=3),
        ]
    )
    await db.commit()
    facts = await load_facts(db, 2023, TZ)
    assert [(c.id, c.name, c.members) for c in facts.cohorts] == [(1, "第一期", frozenset({3, 4}))]
    led = await bureau_year(db, PLAN, TZ, date(2023, 12, 31))
    (cohort,) = led.cohorts
    assert cohort.cohort.starts_on == date(2023, 5, 8) and cohort.due
    assert {pid for pid, _ in cohort.short} <= {3, 4}
