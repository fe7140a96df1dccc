"""Demo data: a bureau with two units, staff, one classroom with its agent, a course, a session.

Idempotent: running it again reuses what exists and only adds a session starting now when none
is under way, so a second ``make demo`` finds everything where it left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    Attendance,
    AttendanceSource,
    Classroom,
    Cohort,
    CohortMember,
    Course,
    CourseTrainer,
    CreditEvent,
    CreditSourceKind,
    Device,
    DeviceKind,
    Person,
    Role,
    Session,
    SessionKind,
    SessionStudyItem,
    SquadType,
    Unit,
    UnitKind,
)
from classroom.db.types import utcnow
from classroom.devices import create_device, rotate_device_token
from classroom.people import create_person

_T = TypeVar("_T")

# Demo only: printed at start-up so a person can log in. Real deployments use `classroom user add`.
DEMO_LOGINS: dict[str, tuple[str, str, tuple[Role, ...]]] = {
    "admin": ("管理员", "admin-demo-pw", (Role.ADMIN,)),
    "manager": ("王经理", "manager-demo-pw", (Role.MANAGER,)),
    "trainer": ("李教员", "trainer-demo-pw", (Role.TRAINER, Role.OFFICER)),
    "officer1": ("张队员", "officer-demo-pw", (Role.OFFICER,)),
    "officer2": ("刘队员", "officer-demo-pw", (Role.OFFICER,)),
    "officer3": ("陈队员", "officer-demo-pw", (Role.OFFICER,)),
}
DEMO_AGENT = "demo-agent"


@dataclass(frozen=True)
class DemoWorld:
    classroom_id: int
    session_id: int
    agent_token: str


async def _get_or_add(db: AsyncSession, model: type[_T], where: object, **fields: object) -> _T:
    found: _T | None = await db.scalar(select(model).where(where))  # type: ignore[arg-type]
    if found is not None:
        return found
    obj = model(**fields)
    db.add(obj)
    await db.flush()
    return obj


async def seed_demo(db: AsyncSession) -> DemoWorld:
    office = await _get_or_add(
        db,
        Unit,
        Unit.name == "法制科",
        name="法制科",
        kind=UnitKind.DEPARTMENT,
        adjacent_district=False,
    )
    squad = await _get_or_add(
        db,
        Unit,
        Unit.name == "第一街镇中队",
        name="第一街镇中队",
        kind=UnitKind.SQUAD,
        squad_type=SquadType.STREET,
        adjacent_district=True,
    )
    people: dict[str, Person] = {}
    for i, (username, (name, password, roles)) in enumerate(DEMO_LOGINS.items()):
        person = await db.scalar(select(Person).where(Person.username == username))
        if person is None:
            unit = office if Role.OFFICER not in roles or username == "trainer" else squad
            person = await create_person(
                db, username, name, roles, password, unit_id=unit.id, badge_no=f"D{i + 1:04d}"
            )
        people[username] = person
    room = await _get_or_add(
        db, Classroom, Classroom.name == "一号智慧教室", name="一号智慧教室", location="局机关三楼"
    )
    course = await _get_or_add(
        db,
        Course,
        Course.code == "ZF-2023-01",
        code="ZF-2023-01",
        title="行政执法程序规范",
        description="全员普训：执法程序与文书规范",
    )
    await _get_or_add(
        db,
        CourseTrainer,
        (CourseTrainer.course_id == course.id) & (CourseTrainer.person_id == people["trainer"].id),
        course_id=course.id,
        person_id=people["trainer"].id,
    )
    agent = await db.scalar(
        select(Device).where(Device.classroom_id == room.id, Device.name == DEMO_AGENT)
    )
    if agent is None:
        agent, token = await create_device(db, room.id, DeviceKind.AGENT, DEMO_AGENT)
    else:
        token = await rotate_device_token(db, agent)  # the old demo token stops working
    now = utcnow()
    session = await db.scalar(
        select(Session).where(
            Session.classroom_id == room.id, Session.planned_end > now, Session.actual_end.is_(None)
        )
    )
    if session is None:
        session = Session(
            course_id=course.id,
            classroom_id=room.id,
            trainer_id=people["trainer"].id,
            kind=SessionKind.TRAINING_DAY,
            title="行政执法程序规范（第一期）",
            planned_start=now,
            planned_end=now + timedelta(hours=2),
        )
        db.add(session)
        await db.flush()
    await _seed_2023_history(db, room, course, people, office, squad)
    await db.commit()
    return DemoWorld(room.id, session.id, token)


HISTORY_MARK = "2023 全员普训（第一期）第1天"


async def _seed_2023_history(
    db: AsyncSession,
    room: Classroom,
    course: Course,
    people: dict[str, Person],
    office: Unit,
    squad: Unit,
) -> None:
    """A year of 2023 events under the 2023 plan, so the reports have something to show: the
    first cohort of all-staff training, the squad's monthly study and drills, online imports."""
    if await db.scalar(select(Session.id).where(Session.title == HISTORY_MARK)) is not None:
        return
    tz = ZoneInfo("Asia/Shanghai")
    trainer = people["trainer"]
    people["officer3"].hired_on = date(2023, 3, 1)  # a new recruit: owes the practical training
    officers = [people[u] for u in ("trainer", "officer1", "officer2", "officer3")]
    squad_staff = [people[u] for u in ("officer1", "officer2", "officer3")]

    async def add_session(
        title: str,
        kind: SessionKind,
        start: datetime,
        minutes: int,
        unit: Unit | None,
        items: tuple[tuple[int, int], ...] = (),
    ) -> Session:
        s = Session(
            course_id=course.id,
            classroom_id=room.id,
            trainer_id=trainer.id,
            kind=kind,
            title=title,
            planned_start=start,
            planned_end=start + timedelta(minutes=minutes),
            actual_start=start,
            actual_end=start + timedelta(minutes=minutes),
            unit_id=unit.id if unit else None,
            study_items=[SessionStudyItem(item_no=n, articles=a) for n, a in items],
        )
        db.add(s)
        await db.flush()
        return s

    def attend(s: Session, who: list[Person], late_min: int = 0) -> None:
        for p in who:
            db.add(
                Attendance(
                    event_uid=f"seed:{s.title}:{p.username}",
                    session_id=s.id,
                    person_id=p.id,
                    check_in=s.planned_start + timedelta(minutes=late_min),
                    check_out=s.planned_end,
                    source=AttendanceSource.TRAINER,
                    recorded_by_id=trainer.id,
                )
            )

    for day in range(3):
        title = HISTORY_MARK if day == 0 else f"2023 全员普训（第一期）第{day + 1}天"
        s = await add_session(
            title, SessionKind.TRAINING_DAY, datetime(2023, 5, 8 + day, 9, tzinfo=tz), 480, None
        )
        attend(s, officers if day < 2 else officers[:3])  # officer3 missed the third day
    cohort = Cohort(
        year=2023,
        task="all_staff_training",
        number=1,
        name="第一期",
        starts_on=date(2023, 5, 8),
        ends_on=date(2023, 5, 10),
    )
    db.add(cohort)
    await db.flush()
    db.add_all(CohortMember(cohort_id=cohort.id, person_id=p.id) for p in officers)
    for month in range(1, 11):
        minutes = 35 if month == 2 else 45  # February's study was too short to count
        items = ((month, 0), (15, 3 if month != 4 else 2))
        s = await add_session(
            f"2023年{month}月科队学习",
            SessionKind.UNIT_STUDY,
            datetime(2023, month, 12, 14, tzinfo=tz),
            minutes,
            squad,
            items,
        )
        attend(s, squad_staff if month % 3 else squad_staff[:2])
        for n, day in enumerate((5, 19)):
            d = await add_session(
                f"2023年{month}月队列训练{n + 1}",
                SessionKind.DRILL_TRAINING,
                datetime(2023, month, day, 8, tzinfo=tz),
                25,
                squad,
            )
            attend(d, squad_staff if (month + n) % 4 else squad_staff[:2])
    a = await add_session(
        "2023 队列考核",
        SessionKind.DRILL_ASSESSMENT,
        datetime(2023, 6, 20, 9, tzinfo=tz),
        60,
        squad,
    )
    attend(a, squad_staff)
    for who, hours in (("trainer", 24), ("officer1", 24), ("officer2", 16), ("officer3", 8)):
        db.add(
            CreditEvent(
                event_uid=f"seed:online:{who}",
                person_id=people[who].id,
                source=CreditSourceKind.ONLINE_IMPORT,
                on_date=date(2023, 9, 30),
                hours=hours,
                credits=hours / 2,
                course="市局在线培训平台（2023年）",
            )
        )
    await db.flush()
