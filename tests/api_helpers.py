"""An in-process portal over real SQLite and a real S3 server, seeded with the demo world."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    Classroom,
    Course,
    CourseAudience,
    CourseTrainer,
    DeviceKind,
    Person,
    Role,
    Unit,
    UnitKind,
    UnitLeader,
)
from classroom.devices import create_device
from classroom.people import create_person
from classroom.runtime import Services
from classroom.seed import DEMO_LOGINS, DemoWorld, seed_demo
from web.app import create_app


@dataclass
class Portal:
    services: Services
    world: DemoWorld
    transport: httpx.ASGITransport

    def client(self, **kw: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://testserver", **kw)  # type: ignore[arg-type]

    @asynccontextmanager
    async def as_user(self, username: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as c:
            await self.log_in(c, username)
            yield c

    @staticmethod
    async def log_in(client: httpx.AsyncClient, username: str) -> None:
        password = (EXTRA_LOGINS | DEMO_LOGINS)[username][1]
        r = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text

    def agent(self, token: str | None = None) -> httpx.AsyncClient:
        return self.client(headers={"Authorization": f"Bearer {token or self.world.agent_token}"})


# People a test adds beside the demo's (``seed_rivals``), with the same shape as DEMO_LOGINS.
EXTRA_LOGINS: dict[str, tuple[str, str, tuple[Role, ...]]] = {
    "trainer2": ("赵教员", "trainer2-test-pw", (Role.TRAINER, Role.OFFICER)),
    "officer9": ("孙队员", "officer9-test-pw", (Role.OFFICER,)),
    # 科队负责人: leader of the squad (officer1's unit), and of the office (officer9's)
    "leader": ("钱队长", "leader-test-pw", (Role.OFFICER,)),
    "leader2": ("吴科长", "leader2-test-pw", (Role.OFFICER,)),
}


@dataclass(frozen=True)
class Rivals:
    """What an attacker's portal adds to the demo: a second trainer (teaching nothing), an
    officer of the office unit, the squad's leader and the office's, a second classroom with its
    own agent, a kiosk of the first, and a course open to the office unit only (taught by the
    demo's trainer)."""

    office_id: int
    squad_id: int
    classroom2_id: int
    restricted_course_id: int
    agent2_token: str
    kiosk_token: str


async def person_ids(portal: Portal, *usernames: str) -> list[int]:
    """The ids of these people, in the order named."""
    async with portal.services.sessionmaker() as db:
        found = {
            p.username: p.id
            for p in await db.scalars(select(Person).where(Person.username.in_(usernames)))
        }
    return [found[u] for u in usernames]


async def seed_rivals(portal: Portal) -> Rivals:
    async with portal.services.sessionmaker() as db:
        office = await db.scalar(select(Unit).where(Unit.name == "法制科"))
        squad = await db.scalar(select(Unit).where(Unit.name == "第一街镇中队"))
        trainer = await db.scalar(select(Person).where(Person.username == "trainer"))
        assert office and squad and trainer
        for username, (name, password, roles) in EXTRA_LOGINS.items():
            unit = office if username in ("officer9", "leader2") else squad
            who = await create_person(db, username, name, roles, password, unit_id=unit.id)
            if username.startswith("leader"):
                db.add(UnitLeader(person_id=who.id, unit_id=unit.id))
        room2 = Classroom(name="二号智慧教室", location="局机关四楼")
        course = Course(
            code="FZ-ONLY",
            title="法制科内部课程",
            description="",
            audience_rows=[CourseAudience(unit_id=office.id)],
            trainer_rows=[CourseTrainer(person_id=trainer.id)],
        )
        db.add_all([room2, course])
        await db.flush()
        _, agent2 = await create_device(db, room2.id, DeviceKind.AGENT, "agent-2")
        _, kiosk = await create_device(db, portal.world.classroom_id, DeviceKind.KIOSK, "kiosk-1")
        await db.commit()
        return Rivals(office.id, squad.id, room2.id, course.id, agent2, kiosk)


async def other_squads_course(db: AsyncSession) -> tuple[int, int]:
    """A new squad and a course open to it alone (the demo's officers cannot see it): their ids."""
    unit = Unit(name=f"另一中队{uuid.uuid4().hex[:6]}", kind=UnitKind.SQUAD)
    db.add(unit)
    await db.flush()
    course = Course(
        code=f"U{uuid.uuid4().hex[:8]}",
        title="别的课程",
        audience_rows=[CourseAudience(unit_id=unit.id)],
    )
    db.add(course)
    await db.flush()
    return unit.id, course.id


def heartbeat(**fields: object) -> dict[str, object]:
    """An agent's heartbeat body, idle and healthy unless ``fields`` say otherwise."""
    return {
        "at": "2026-11-26T00:00:00+00:00",
        "state": "idle",
        "disk_free_bytes": 5_000_000_000,
        "disk_min_free_bytes": 2_000_000_000,
        "uploads_pending": 0,
        "reports_pending": 0,
        **fields,
    }


async def make_portal(services: Services) -> Portal:
    async with services.sessionmaker() as db:
        world = await seed_demo(db)
    return Portal(services, world, httpx.ASGITransport(app=create_app(services)))


async def cancel_seeded_session(portal: Portal) -> None:
    """The demo world books its classroom from now for two hours; a test that books the
    classroom itself first cancels that session, as a manager would."""
    async with portal.as_user("manager") as manager:
        r = await manager.delete(f"/api/v1/sessions/{portal.world.session_id}")
        assert r.status_code == 204, r.text


async def book_session(
    client: httpx.AsyncClient,
    classroom: int,
    start: datetime,
    minutes: int,
    title: str = "交通法规",
    **kw: object,
) -> httpx.Response:
    """POST a session of ``minutes`` from ``start`` (kind "other", course 1 unless ``kw`` says
    otherwise) with ``client``'s login; the answer is the caller's to check."""
    body = {
        "title": title,
        "kind": "other",
        "course_id": 1,
        "classroom_id": classroom,
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(minutes=minutes)).isoformat(),
        **kw,
    }
    return await client.post("/api/v1/sessions", json=body)


def workbook(rows: list[list[object]]) -> bytes:
    """An XLSX file of ``rows`` (the first one the header), as an office's export would be."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
