"""The two holes an attacker with a trainer's account found: widening a course's audience by
booking a session of it, and taking a classroom outside one's own session's time. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry, Course, Person
from classroom.runtime import Services
from tests.api_helpers import Portal, Rivals, book_session, make_portal, seed_rivals
from tests.conftest import settings_on_both_databases
from tests.test_courseware import PDF

pytestmark = pytest.mark.anyio


settings = pytest.fixture(settings_on_both_databases, name="settings")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


@pytest.fixture
async def rivals(portal: Portal) -> Rivals:
    return await seed_rivals(portal)


NEXT_WEEK = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)


async def test_a_booking_never_widens_a_courses_audience(portal: Portal, rivals: Rivals) -> None:
    course = rivals.restricted_course_id
    room2 = rivals.classroom2_id
    async with portal.as_user("officer1") as squad_officer, portal.as_user("officer9") as office:
        assert course not in [c["id"] for c in (await squad_officer.get("/api/v1/courses")).json()]
        assert course in [c["id"] for c in (await office.get("/api/v1/courses")).json()]
        # trainer2 does not teach the course: no bureau-wide session of it, nor any other
        async with portal.as_user("trainer2") as trainer2:
            for unit in (None, rivals.squad_id, rivals.office_id):
                r = await book_session(
                    trainer2, room2, NEXT_WEEK, 60, course_id=course, unit_id=unit
                )
                assert r.status_code == 403, r.text
                assert r.json()["detail"]["code"] == "not_course_trainer"
            files = {"file": ("x.pdf", PDF, "application/pdf")}
            r = await trainer2.post(f"/api/v1/courses/{course}/courseware", files=files)
            assert r.status_code == 403
        # its own trainer books it for its own unit only
        async with portal.as_user("trainer") as trainer:
            r = await book_session(trainer, room2, NEXT_WEEK, 60, course_id=course)
            assert r.status_code == 422 and r.json()["detail"]["code"] == "unit_not_in_audience"
            r = await book_session(
                trainer, room2, NEXT_WEEK, 60, course_id=course, unit_id=rivals.squad_id
            )
            assert r.status_code == 422
            r = await book_session(
                trainer, room2, NEXT_WEEK, 60, course_id=course, unit_id=rivals.office_id
            )
            assert r.status_code == 201, r.text
            files = {"file": ("x.pdf", PDF, "application/pdf")}
            r = await trainer.post(f"/api/v1/courses/{course}/courseware", files=files)
            assert r.status_code == 201, r.text
        # and still the squad's officers see nothing of it
        assert (await squad_officer.get(f"/api/v1/courses/{course}/courseware")).status_code == 403
        assert course not in [c["id"] for c in (await squad_officer.get("/api/v1/courses")).json()]
        # a manager may open it to the squad (audited); a trainer may not
        async with portal.as_user("trainer") as trainer:
            r = await trainer.patch(f"/api/v1/courses/{course}", json={"audience_unit_ids": []})
            assert r.status_code == 403
        async with portal.as_user("manager") as manager:
            r = await manager.patch(
                f"/api/v1/courses/{course}",
                json={"audience_unit_ids": [rivals.office_id, rivals.squad_id]},
            )
            assert r.status_code == 200, r.text
            assert r.json()["audience_unit_ids"] == sorted([rivals.office_id, rivals.squad_id])
        assert (await squad_officer.get(f"/api/v1/courses/{course}/courseware")).status_code == 200
    async with portal.services.sessionmaker() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "course.update"))
        assert entry is not None and entry.target == f"course:{course}"
        assert entry.detail["before"]["audience_unit_ids"] == [rivals.office_id]


async def test_managers_create_courses_with_their_audience_and_trainers(
    portal: Portal, rivals: Rivals
) -> None:
    async with portal.services.sessionmaker() as db:
        trainer2 = await db.scalar(select(Person.id).where(Person.username == "trainer2"))
    async with portal.as_user("manager") as manager:
        body = {"code": "NEW-1", "title": "新课", "trainer_ids": [trainer2]}
        r = await manager.post("/api/v1/courses", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["audience_unit_ids"] == [] and r.json()["trainer_ids"] == [trainer2]
        assert (await manager.post("/api/v1/courses", json=body)).status_code == 409
        bad = {"code": "NEW-2", "title": "x", "trainer_ids": [portal.world.session_id + 10_000]}
        assert (await manager.post("/api/v1/courses", json=bad)).status_code == 422
    async with portal.as_user("trainer2") as t2:
        assert (
            await t2.post("/api/v1/courses", json={"code": "T", "title": "t"})
        ).status_code == 403
        r = await book_session(t2, rivals.classroom2_id, NEXT_WEEK, 60, course_id=r.json()["id"])
        assert r.status_code == 201, r.text
    async with portal.services.sessionmaker() as db:
        assert await db.scalar(select(Course).where(Course.code == "NEW-1")) is not None


async def test_a_trainer_controls_a_classroom_only_in_their_sessions_window(
    portal: Portal, rivals: Rivals
) -> None:
    room = portal.world.classroom_id
    async with portal.as_user("trainer") as trainer:
        r = await book_session(trainer, room, NEXT_WEEK, 60, title="下周")
        assert r.status_code == 201, r.text
        later = r.json()["id"]
        base = f"/api/v1/sessions/{later}"
        for method, path in (
            ("POST", "/recording/start"),
            ("POST", "/recording/stop"),
            ("POST", "/recording/pause"),
            ("POST", "/recording/resume"),
            ("POST", "/ptz/1"),
            ("GET", "/console"),
        ):
            r = await trainer.request(method, base + path)
            assert r.status_code == 409, (path, r.text)
            detail = r.json()["detail"]
            assert detail["code"] == "outside_window" and detail["session_id"] == later
            assert detail["opens"].endswith("+08:00")  # the bureau's time
        r = await trainer.post(base + "/extend", json={"minutes": 10})
        assert r.status_code == 409 and r.json()["detail"]["code"] == "outside_window"
        # a trainer cannot override the window
        r = await trainer.post(base + "/recording/start", params={"override": "true"})
        assert r.status_code == 403
        # the page says it in the reader's language, with the window in the bureau's time
        page = await trainer.post(f"/sessions/{later}/start")
        assert page.status_code == 409 and "只能在" in page.text
        # the session under way now is the trainer's to run
        now_ = portal.world.session_id
        r = await trainer.post(f"/api/v1/sessions/{now_}/recording/start")
        assert r.status_code == 202, r.text
    async with portal.as_user("manager") as manager:
        r = await manager.post(base + "/recording/start")
        assert r.status_code == 403  # managers do not run cameras, unless they override
    async with portal.as_user("admin") as admin:
        assert (await admin.post(base + "/recording/start")).status_code == 409
        r = await admin.post(base + "/extend", params={"override": "true"}, json={"minutes": 5})
        assert r.status_code == 200, r.text
    async with portal.services.sessionmaker() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.override"))
        assert entry is not None and entry.target == f"session:{later}"
        assert entry.detail["control"] == "extend" and entry.detail["outside"] is True
