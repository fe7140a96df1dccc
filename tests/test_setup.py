"""The training office sets up courses and classrooms in the portal: a course's task, study
items, audience and trainers (API and page, refusals beside the field); a classroom, and its
agent's and kiosk's tokens (shown once, working at once, revoked at once), all audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal, person_ids
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_a_course_serves_one_task_and_offers_its_study_items(portal: Portal) -> None:
    (trainer,) = await person_ids(portal, "trainer")
    async with portal.as_user("manager") as manager:
        r = await manager.post(
            "/api/v1/courses",
            json={
                "code": "KD-STUDY",
                "title": "科队学习：执法规范",
                "kind": "unit_study",
                "study_items": [2, 1, 2],
                "trainer_ids": [trainer],
            },
        )
        assert r.status_code == 201, r.text
        course = r.json()
        assert (course["kind"], course["study_items"]) == ("unit_study", [1, 2])
        bad = await manager.post(
            "/api/v1/courses",
            json={"code": "KD-X", "title": "x", "study_items": [9999]},
        )
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "unknown_study_items"
        start = datetime(2023, 2, 22, 16, tzinfo=TZ)  # a year with a plan: items to tag
        session = {
            "title": "讲座",
            "kind": "other",
            "course_id": course["id"],
            "classroom_id": portal.world.classroom_id,
            "trainer_id": trainer,
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(),
        }
        r = await manager.post("/api/v1/sessions", json=session)
        assert r.status_code == 422 and r.json()["detail"]["code"] == "course_kind"
        r = await manager.post("/api/v1/sessions", json={**session, "kind": "unit_study"})
        assert r.status_code == 201, r.text
        page = await manager.get(f"/sessions/{r.json()['id']}")
        assert 'id="study-suggested"' not in page.text  # the manager does not tag it
    async with portal.as_user("trainer") as teacher:
        page = await teacher.get(f"/sessions/{r.json()['id']}")
        assert 'id="study-suggested"' in page.text
        assert 'name="item" value="1" checked' in page.text
    async with portal.as_user("manager") as manager:
        r = await manager.patch(f"/api/v1/courses/{course['id']}", json={"kind": None})
        assert r.status_code == 200 and r.json()["kind"] is None
        assert r.json()["study_items"] == [1, 2]  # left out: kept


async def test_the_course_pages(portal: Portal) -> None:
    (trainer,) = await person_ids(portal, "trainer")
    async with portal.as_user("manager") as manager:
        form = {
            "code": "FORM-1",
            "title": "表单建的课程",
            "kind": "drill_training",
            "trainers": str(trainer),
        }
        r = await manager.post("/courses/save", data=form)
        assert r.status_code == 303, r.text
        edit = await manager.get(r.headers["location"])
        assert "表单建的课程" in edit.text and 'value="drill_training" selected' in edit.text
        again = await manager.post("/courses/save", data=form)
        assert again.status_code == 409
        assert 'id="err-code"' in again.text and "表单建的课程" in again.text  # kept
        listed = await manager.get("/courses")
        assert "FORM-1" in listed.text
    async with portal.as_user("officer1") as officer:
        assert (await officer.get("/courses/new")).status_code == 403


async def test_a_classroom_and_its_devices(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.post("/classrooms/setup", data={"name": "三号教室", "location": "五楼"})
        assert r.status_code == 303
        dup = await manager.post("/classrooms/setup", data={"name": "三号教室"})
        assert dup.status_code == 409 and 'aria-describedby="classroom-error"' in dup.text
        # devices are an administrator's
        r = await manager.post(
            "/api/v1/devices", json={"classroom_id": 1, "kind": "agent", "name": "x"}
        )
        assert r.status_code == 403
    async with portal.as_user("admin") as admin:
        rooms = (await admin.get("/api/v1/classrooms/status")).json()
        room = next(x for x in rooms if x["name"] == "三号教室")
        r = await admin.post(
            "/api/v1/devices",
            json={"classroom_id": room["id"], "kind": "agent", "name": "三号主机"},
        )
        assert r.status_code == 201, r.text
        token, device_id = r.json()["token"], r.json()["device"]["id"]
        page = await admin.post(
            f"/classrooms/{room['id']}/devices", data={"kind": "kiosk", "name": "三号签到机"}
        )
        assert page.status_code == 200 and 'id="new-token"' in page.text
        assert (await admin.get("/classrooms/setup")).text.count('id="new-token"') == 0  # once
    async with portal.client() as agent:
        hello = await agent.post(
            "/api/v1/agent/hello",
            json={"classroom_id": room["id"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert hello.status_code == 200, hello.text
    async with portal.as_user("admin") as admin:
        r = await admin.post(f"/classrooms/devices/{device_id}/revoke")
        assert r.status_code == 303
    async with portal.client() as agent:
        hello = await agent.post(
            "/api/v1/agent/hello",
            json={"classroom_id": room["id"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert hello.status_code == 401
    async with portal.services.sessionmaker() as db:
        actions = list(
            await db.scalars(
                select(AuditEntry.action).where(AuditEntry.target == f"device:{device_id}")
            )
        )
    assert actions == ["device.create", "device.revoke"]
