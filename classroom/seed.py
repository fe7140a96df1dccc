"""Demo data: a bureau with two units, staff, one classroom with its agent, a course, a session.

Idempotent: running it again reuses what exists and only adds a session starting now when none
is under way, so a second ``make demo`` finds everything where it left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    Classroom,
    Course,
    Device,
    DeviceKind,
    Person,
    Role,
    Session,
    SessionKind,
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
    await db.commit()
    return DemoWorld(room.id, session.id, token)
