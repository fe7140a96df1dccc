"""How the pages' forms are answered: a refusal in the reader's language, about the field it
concerns, with times in the bureau's zone; to the page's script (X-Form) as words beside the
field, without it as a page that keeps its navigation; a redirect to the script as a location;
the language switch coming back to the page the form was on."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry, IdCard, Person
from classroom.faces.enrollment import person_for_card
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def _form(booked: dict[str, object], title: str, start: datetime, end: datetime) -> dict[str, str]:
    """The sessions page's form, for the demo session's course, classroom and trainer."""
    return {
        "title": title,
        "kind": "unit_study",
        "course_id": str(booked["course_id"]),
        "classroom_id": str(booked["classroom_id"]),
        "trainer_id": str(booked["trainer_id"]),
        "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
        "planned_end": end.strftime("%Y-%m-%dT%H:%M"),
    }


async def test_a_refusal_is_said_beside_its_field_in_the_readers_language(portal: Portal) -> None:
    day = (datetime.now(TZ) + timedelta(days=40)).replace(hour=9, minute=0, second=0)
    script = {"X-Form": "1", "Referer": "http://testserver/sessions?page=2"}
    async with portal.as_user("manager") as manager:
        demo = (await manager.get(f"/api/v1/sessions/{portal.world.session_id}")).json()
        backwards = _form(demo, "倒着的课", day, day - timedelta(hours=1))
        r = await manager.post("/sessions", data=backwards, headers=script)
        assert r.status_code == 422
        assert r.json() == {"message": "结束时间须晚于开始时间", "field": "planned_end"}
        long_title = _form(demo, "长" * 201, day, day + timedelta(hours=1))
        r = await manager.post("/sessions", data=long_title, headers=script)
        assert r.json() == {"message": "最多 200 个字符", "field": "title"}

        # Booked: a location, not a page, for the script (and no second fetch of it).
        r = await manager.post(
            "/sessions", data=_form(demo, "第一节", day, day + timedelta(hours=2)), headers=script
        )
        assert r.status_code == 200 and r.json()["redirect"].startswith("/sessions/")
        # The same room over it: said at the classroom, its times in the bureau's zone.
        over = _form(demo, "第二节", day + timedelta(hours=1), day + timedelta(hours=3))
        r = await manager.post("/sessions", data=over, headers=script)
        said = r.json()
        assert r.status_code == 409 and said["field"] == "classroom_id"
        assert "（第一节）占用" in said["message"]
        assert day.strftime("%Y-%m-%d 09:00") in said["message"]
        assert "T09:00" not in said["message"]

        # Without the script: a page with the header's navigation, said the same way, whose
        # language switch comes back to the page the form was on (with its query), not to the
        # address the form posted to.
        manager.cookies.set("lang", "en")
        r = await manager.post("/sessions", data=backwards, headers={"Referer": script["Referer"]})
        assert r.status_code == 422
        assert "The end must be after the start" in r.text
        assert 'href="/sessions"' in r.text and 'href="/compliance"' in r.text
        assert "/lang/zh-CN?next=/sessions%3Fpage%3D2" in r.text
        r = await manager.get("/lang/zh-CN", params={"next": "/sessions?page=2"})
        assert r.status_code == 303 and r.headers["location"] == "/sessions?page=2"


async def test_a_pages_own_language_switch_keeps_its_query(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.get("/compliance", params={"year": "2023"})
        assert "/lang/en?next=/compliance%3Fyear%3D2023" in r.text


async def test_a_permission_refusal_names_no_roles(portal: Portal) -> None:
    async with portal.as_user("officer1") as officer:
        r = await officer.get("/people")
        assert r.status_code == 403
        assert "manager" not in r.text.split("<main>")[1]
        r = await officer.post("/units", data={"name": "x"}, headers={"X-Form": "1"})
        assert r.status_code == 403 and r.json()["message"] == "无权访问"


async def test_a_manager_registers_and_removes_id_cards_from_the_people_page(
    portal: Portal,
) -> None:
    script = {"X-Form": "1"}
    async with portal.services.sessionmaker() as db:
        ids = {r[0]: r[1] for r in await db.execute(select(Person.username, Person.id))}
    one, two = ids["officer1"], ids["officer2"]
    async with portal.as_user("manager") as manager:
        assert f'href="/people/{one}/cards"' in (await manager.get("/people")).text
        r = await manager.post(
            f"/people/{one}/cards", data={"card_no": " c7001234 "}, headers=script
        )
        assert r.json() == {"redirect": f"/people/{one}/cards"}
        page = (await manager.get(f"/people/{one}/cards")).text
        assert "C7001234" in page and "data-confirm" in page
        # The same card for someone else: said at the card-number field, in the reader's words.
        r = await manager.post(f"/people/{two}/cards", data={"card_no": "C7001234"}, headers=script)
        assert r.status_code == 409
        assert r.json() == {"message": "卡 C7001234 已登记给其他人", "field": "card_no"}
        r = await manager.post(f"/people/{two}/cards", data={"card_no": "ab"}, headers=script)
        assert r.status_code == 422 and r.json()["field"] == "card_no"
        async with portal.services.sessionmaker() as db:
            found = await person_for_card(db, "C7001234")
            assert found is not None and found.id == one
            card = await db.scalar(select(IdCard.id).where(IdCard.card_no == "C7001234"))
        r = await manager.post(f"/people/{one}/cards/{card}/delete", headers=script)
        assert r.json() == {"redirect": f"/people/{one}/cards"}
        assert "C7001234" not in (await manager.get(f"/people/{one}/cards")).text
        async with portal.services.sessionmaker() as db:
            assert await person_for_card(db, "C7001234") is None
            done = list(
                await db.scalars(
                    select(AuditEntry.action).where(AuditEntry.target == f"person:{one}")
                )
            )
            assert "card.register" in done and "card.revoke" in done
    async with portal.as_user("trainer") as trainer:
        assert f'href="/people/{one}/cards"' not in (await trainer.get("/people")).text
        assert (await trainer.get(f"/people/{one}/cards")).status_code == 403
