"""A classroom holds one session at a time: overlapping bookings and extensions are refused, and a
session not yet held can be cancelled, which gives its time back. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from classroom.db.models import Classroom, Courseware, Person, Recording, Role
from classroom.db.models import Session as DbSession
from classroom.people import create_person
from classroom.runtime import Services
from tests.api_helpers import Portal, book_session, cancel_seeded_session, make_portal
from tests.conftest import settings_on_both_databases
from tests.test_courseware import PDF

pytestmark = pytest.mark.anyio


settings = pytest.fixture(settings_on_both_databases, name="settings")


@pytest.fixture
async def portal(services: Services) -> Portal:
    portal = await make_portal(services)
    await cancel_seeded_session(portal)
    return portal


NOON = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0) + timedelta(days=2)


async def test_a_classroom_is_booked_for_one_session_at_a_time(portal: Portal) -> None:
    room = portal.world.classroom_id
    async with portal.services.sessionmaker() as db:
        other_room = Classroom(name="二号教室")
        db.add(other_room)
        await db.commit()
    async with portal.as_user("trainer") as trainer:
        r = await book_session(trainer, room, NOON, 60, title="A")
        assert r.status_code == 201, r.text
        a = r.json()["id"]
        for start, minutes in ((30, 60), (15, 30), (-60, 180), (-30, 31)):
            r = await book_session(trainer, room, NOON + timedelta(minutes=start), minutes)
            assert r.status_code == 409, (start, minutes, r.text)
            detail = r.json()["detail"]
            assert detail["code"] == "room_booked" and detail["session_id"] == a
            assert f"session {a} (A)" in detail["message"]
        local = NOON.astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="minutes")
        assert detail["start"] == local  # the bureau's time, as its pages show it
        after = await book_session(trainer, room, NOON + timedelta(minutes=60), 60, title="B")
        before = await book_session(trainer, room, NOON - timedelta(minutes=60), 60)
        elsewhere = await book_session(trainer, other_room.id, NOON, 60)
        assert [x.status_code for x in (after, before, elsewhere)] == [201, 201, 201]
        b = after.json()["id"]

        # Two days ahead is outside the session's window: an admin extends it, overriding that.
        async with portal.as_user("admin") as admin:
            extend = {"params": {"override": "true"}, "json": {"minutes": 30}}
            r = await admin.post(f"/api/v1/sessions/{a}/extend", **extend)  # type: ignore[arg-type]
            assert r.status_code == 409 and r.json()["detail"]["session_id"] == b
            s = (await trainer.get(f"/api/v1/sessions/{a}")).json()
            assert datetime.fromisoformat(s["planned_end"]) == NOON + timedelta(minutes=60)
            assert (await trainer.delete(f"/api/v1/sessions/{b}")).status_code == 204
            r = await admin.post(f"/api/v1/sessions/{a}/extend", **extend)  # type: ignore[arg-type]
            assert r.status_code == 200
        assert datetime.fromisoformat(r.json()["planned_end"]) == NOON + timedelta(minutes=90)

        # A session stopped early gives the classroom back from its actual end.
        now = datetime.now(UTC)
        r = await book_session(trainer, room, now - timedelta(minutes=30), 90, title="early")
        early = r.json()["id"]
        assert (
            await book_session(trainer, room, now + timedelta(minutes=5), 15)
        ).status_code == 409
        assert (await trainer.post(f"/api/v1/sessions/{early}/recording/start")).status_code == 202
        assert (await trainer.post(f"/api/v1/sessions/{early}/recording/stop")).status_code == 202
        assert (
            await book_session(trainer, room, now + timedelta(minutes=5), 15)
        ).status_code == 201


async def test_two_bookings_at_once_one_is_refused(portal: Portal) -> None:
    """Sent together, both checks would pass on what the other has not committed yet; the
    classroom's lock makes the second one see the first."""
    room = portal.world.classroom_id
    async with portal.as_user("trainer") as trainer:
        for day in range(3):
            start = NOON + timedelta(days=day)
            rs = await asyncio.gather(*(book_session(trainer, room, start, 60) for _ in range(3)))
            assert sorted(r.status_code for r in rs) == [201, 409, 409], [r.text for r in rs]
    async with portal.services.sessionmaker() as db:
        assert await db.scalar(select(func.count(Recording.id))) == 0


async def test_cancelling_a_session_not_yet_held(portal: Portal) -> None:
    room = portal.world.classroom_id
    async with portal.as_user("trainer") as trainer:
        r = await book_session(
            trainer, room, datetime.now(UTC) + timedelta(minutes=30), 60, auto_record=True
        )
        sid = r.json()["id"]
        r = await trainer.post(
            "/api/v1/courses/1/courseware",
            files={"file": ("讲义.pdf", PDF, "application/pdf")},
            data={"session_id": str(sid)},
        )
        assert r.status_code == 201, r.text
        doc = r.json()["id"]
    async with portal.agent() as agent:  # the agent's schedule made its recording
        (entry,) = (await agent.get("/api/v1/agent/schedule")).json()
        assert entry["session_id"] == sid
    async with portal.as_user("officer1") as officer:
        assert (await officer.delete(f"/api/v1/sessions/{sid}")).status_code == 403
    async with portal.services.sessionmaker() as db:
        colleague = await create_person(db, "trainer2", "赵教员", (Role.TRAINER,), "pw-12345678")
        await db.commit()
    async with portal.as_user("manager") as manager:
        trainer_ids = (await manager.get("/api/v1/courses")).json()[0]["trainer_ids"]
        r = await manager.patch(
            "/api/v1/courses/1", json={"trainer_ids": [*trainer_ids, colleague.id]}
        )
        assert r.status_code == 200, r.text
        r = await book_session(
            manager, room, datetime.now(UTC) + timedelta(hours=3), 60, trainer_id=colleague.id
        )
        assert r.status_code == 201, r.text
        not_his = r.json()["id"]
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.delete(f"/api/v1/sessions/{not_his}")).status_code == 403
        r = await trainer.delete(f"/api/v1/sessions/{sid}")
        assert r.status_code == 204, r.text
        assert (await trainer.get(f"/api/v1/sessions/{sid}")).status_code == 404
        assert (await trainer.delete(f"/api/v1/sessions/{sid}")).status_code == 404
        listed = (await trainer.get("/api/v1/courses/1/courseware")).json()
        assert [c["id"] for c in listed] == [doc]  # the course keeps its courseware
        # and the classroom is free again at that time
        start = datetime.now(UTC) + timedelta(minutes=30)
        assert (await book_session(trainer, room, start, 60)).status_code == 201
    async with portal.agent() as agent:
        assert [e["session_id"] for e in (await agent.get("/api/v1/agent/schedule")).json()] == []
    async with portal.services.sessionmaker() as db:
        assert await db.get(Recording, entry["recording_id"]) is None
        kept = await db.get(Courseware, doc)
        assert kept is not None and kept.session_id is None


async def test_a_session_held_stays(portal: Portal) -> None:
    """Started (recorded), or attended: it is on the record, and cancelling it is a 409."""
    room = portal.world.classroom_id
    now = datetime.now(UTC)
    async with portal.services.sessionmaker() as db:
        officer = await db.scalar(select(Person.id).where(Person.username == "officer1"))
    async with portal.as_user("trainer") as trainer:
        recorded = (await book_session(trainer, room, now - timedelta(minutes=5), 30)).json()["id"]
        await trainer.post(f"/api/v1/sessions/{recorded}/recording/start")
        r = await trainer.delete(f"/api/v1/sessions/{recorded}")
        assert r.status_code == 409 and "held" in r.json()["detail"]
        attended = (await book_session(trainer, room, now + timedelta(hours=1), 30)).json()["id"]
        r = await trainer.post(
            f"/api/v1/sessions/{attended}/attendance",
            json={"person_id": officer, "check_in": (now + timedelta(hours=1)).isoformat()},
        )
        assert r.status_code == 201, r.text
        assert (await trainer.delete(f"/api/v1/sessions/{attended}")).status_code == 409
        for sid in (recorded, attended):
            assert (await trainer.get(f"/api/v1/sessions/{sid}")).status_code == 200


async def test_the_session_page_cancels_behind_a_box_to_tick(portal: Portal) -> None:
    room = portal.world.classroom_id
    async with portal.as_user("trainer") as trainer:
        sid = (await book_session(trainer, room, NOON, 60)).json()["id"]
        page = (await trainer.get(f"/sessions/{sid}")).text
        assert 'id="cancel-session"' in page and 'name="confirm"' in page
        r = await trainer.post(f"/sessions/{sid}/cancel")  # the box not ticked
        assert r.status_code == 422
        assert (await trainer.get(f"/api/v1/sessions/{sid}")).status_code == 200
    async with portal.as_user("officer1") as officer:
        assert 'id="cancel-session"' not in (await officer.get(f"/sessions/{sid}")).text
        r = await officer.post(f"/sessions/{sid}/cancel", data={"confirm": "yes"})
        assert r.status_code == 403
    async with portal.as_user("manager") as manager:
        assert 'id="cancel-session"' in (await manager.get(f"/sessions/{sid}")).text
        r = await manager.post(f"/sessions/{sid}/cancel", data={"confirm": "yes"})
        assert r.status_code == 303 and r.headers["location"] == "/sessions"
        assert (await manager.get(f"/api/v1/sessions/{sid}")).status_code == 404
    async with portal.as_user("trainer") as trainer:  # held: no button
        now = datetime.now(UTC)
        held = (await book_session(trainer, room, now - timedelta(minutes=5), 30)).json()["id"]
        await trainer.post(f"/api/v1/sessions/{held}/recording/start")
        assert 'id="cancel-session"' not in (await trainer.get(f"/sessions/{held}")).text


async def test_scheduling_from_the_sessions_page(portal: Portal) -> None:
    """The form books in the bureau's local time, under the API's rules: who may, a free
    classroom, an end after the start."""
    room = portal.world.classroom_id
    tz = ZoneInfo("Asia/Shanghai")
    day = NOON.astimezone(tz).strftime("%Y-%m-%d")
    form = {
        "title": "执法文书规范",
        "kind": "unit_study",
        "course_id": "1",
        "classroom_id": str(room),
        "unit_id": "",
        "planned_start": f"{day}T09:00",
        "planned_end": f"{day}T10:30",
        "ptz_preset": "",
        "auto_record": "true",
    }
    async with portal.as_user("officer1") as officer:
        assert 'id="schedule"' not in (await officer.get("/sessions")).text
        assert (await officer.post("/sessions", data=form)).status_code == 403
    async with portal.as_user("trainer") as trainer:
        page = (await trainer.get("/sessions")).text
        assert 'id="schedule"' in page and 'name="trainer_id"' not in page  # their own
        r = await trainer.post("/sessions", data=form)
        assert r.status_code == 303, r.text
        sid = int(r.headers["location"].rsplit("/", 1)[1])
        s = (await trainer.get(f"/api/v1/sessions/{sid}")).json()
        assert datetime.fromisoformat(s["planned_start"]) == datetime.fromisoformat(
            f"{day}T09:00"
        ).replace(tzinfo=tz)
        assert s["kind"] == "unit_study" and s["auto_record"] and s["ptz_preset"] is None
        async with portal.services.sessionmaker() as db:
            me = await db.scalar(select(Person.id).where(Person.username == "trainer"))
            held = await db.get(DbSession, sid)
            assert held is not None and held.unit_id is None and held.trainer_id == me
        again = await trainer.post("/sessions", data=form | {"planned_start": f"{day}T10:00"})
        assert again.status_code == 409  # said in the reader's language
        said = f"该时段教室已被课次 {sid}（执法文书规范）占用：{day} 09:00 至 {day} 10:30"
        assert said in again.text
        trainer.cookies.set("lang", "en")
        again = await trainer.post("/sessions", data=form | {"planned_start": f"{day}T10:00"})
        assert f"The classroom is booked for session {sid} (执法文书规范)" in again.text
        trainer.cookies.delete("lang")
        backwards = await trainer.post("/sessions", data=form | {"planned_end": f"{day}T08:00"})
        assert backwards.status_code == 422 and "结束时间须晚于开始时间" in backwards.text
    async with portal.as_user("manager") as manager:
        page = (await manager.get("/sessions")).text
        assert 'name="trainer_id"' in page
        late = form | {"planned_start": f"{day}T14:00", "planned_end": f"{day}T15:00"}
        r = await manager.post("/sessions", data=late | {"trainer_id": str(me)})
        assert r.status_code == 303, r.text
