"""The training office keeps its organisation through the API: units and people created, changed
and deactivated (never deleted), roles within what the actor may give, every change audited; an
administrator's password reset forces a change at the next login; everyone changes their own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _audited(portal: Portal, action: str, target: str) -> AuditEntry:
    async with portal.services.sessionmaker() as db:
        entry = await db.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.target == target)
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None, (action, target)
    return entry


async def test_units_are_created_nested_changed_and_deactivated(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.post(
            "/api/v1/units",
            json={"name": "机动中队", "kind": "squad", "squad_type": "mobile"},
        )
        assert r.status_code == 201, r.text
        squad = r.json()
        assert (squad["squad_type"], squad["active"], squad["parent_id"]) == ("mobile", True, None)
        child = await manager.post(
            "/api/v1/units",
            json={"name": "机动中队一组", "kind": "squad", "parent_id": squad["id"]},
        )
        assert child.status_code == 201 and child.json()["parent_id"] == squad["id"]
        again = await manager.post("/api/v1/units", json={"name": "机动中队", "kind": "squad"})
        assert again.status_code == 409 and again.json()["detail"]["code"] == "unit_exists"
        cycle = await manager.patch(
            f"/api/v1/units/{squad['id']}", json={"parent_id": child.json()["id"]}
        )
        assert cycle.status_code == 422 and cycle.json()["detail"]["code"] == "unit_cycle"
        renamed = await manager.patch(
            f"/api/v1/units/{squad['id']}", json={"adjacent_district": True}
        )
        assert renamed.json()["adjacent_district"] is True
        person = await manager.post(
            "/api/v1/people",
            json={
                "username": "p-unit",
                "display_name": "组员",
                "roles": ["officer"],
                "unit_id": child.json()["id"],
            },
        )
        assert person.status_code == 201, person.text
        busy = await manager.patch(f"/api/v1/units/{child.json()['id']}", json={"active": False})
        assert busy.status_code == 409 and busy.json()["detail"]["code"] == "unit_has_people"
        await manager.patch(f"/api/v1/people/{person.json()['id']}", json={"active": False})
        done = await manager.patch(f"/api/v1/units/{child.json()['id']}", json={"active": False})
        assert done.status_code == 200 and done.json()["active"] is False
        listed = (await manager.get("/api/v1/units?active=false")).json()
        assert [u["name"] for u in listed] == ["机动中队一组"]  # kept, not deleted
    async with portal.as_user("officer1") as officer:
        assert (await officer.get("/api/v1/units")).status_code == 200
        refused = await officer.post("/api/v1/units", json={"name": "x", "kind": "squad"})
        assert refused.status_code == 403
    entry = await _audited(portal, "unit.update", f"unit:{squad['id']}")
    assert entry.detail["before"]["adjacent_district"] is False  # type: ignore[index]
    assert entry.detail["after"]["adjacent_district"] is True  # type: ignore[index]


async def test_people_are_kept_with_what_the_imports_and_rules_need(portal: Portal) -> None:
    body = {
        "username": "wang.wei",
        "display_name": "王伟",
        "roles": ["officer"],
        "badge_no": "D1234",
        "hired_on": "2022-12-15",
        "enforcement_staff": True,
        "phone": "+86 138 0000 0000",
        "email": "wang.wei@example.org",
    }
    async with portal.as_user("manager") as manager:
        r = await manager.post("/api/v1/people", json=body)
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["badge_no"], made["hired_on"], made["active"]) == ("D1234", "2022-12-15", True)
        twin = await manager.post(
            "/api/v1/people", json={**body, "username": "other", "display_name": "另一个"}
        )
        assert twin.status_code == 409  # the badge number is someone's already
        bad = await manager.post("/api/v1/people", json={**body, "email": "not-an-address"})
        assert bad.status_code == 422
        found = (await manager.get("/api/v1/people?q=D123")).json()
        assert [p["username"] for p in found] == ["wang.wei"]
        moved = await manager.patch(
            f"/api/v1/people/{made['id']}",
            json={"enforcement_staff": False, "roles": ["officer", "trainer"]},
        )
        assert moved.status_code == 200 and moved.json()["roles"] == ["officer", "trainer"]
        # a manager makes no managers or admins, and changes none
        boss = await manager.post(
            "/api/v1/people",
            json={**body, "username": "boss", "badge_no": None, "roles": ["manager"]},
        )
        assert boss.status_code == 403 and boss.json()["detail"]["code"] == "role_not_grantable"
        admin_id = (await manager.get("/api/v1/people?q=admin")).json()[0]["id"]
        touch = await manager.patch(f"/api/v1/people/{admin_id}", json={"display_name": "x"})
        assert touch.status_code == 403
    async with portal.as_user("admin") as admin:
        boss = await admin.post(
            "/api/v1/people",
            json={**body, "username": "boss", "badge_no": None, "roles": ["manager"]},
        )
        assert boss.status_code == 201
    async with portal.as_user("officer1") as officer:
        me = (await officer.get("/api/v1/me")).json()
        assert (await officer.get(f"/api/v1/people/{me['id']}")).status_code == 200
        assert (await officer.get(f"/api/v1/people/{made['id']}")).status_code == 404
        assert (await officer.get("/api/v1/people")).status_code == 403
    entry = await _audited(portal, "person.update", f"person:{made['id']}")
    assert entry.detail["before"]["enforcement_staff"] is True  # type: ignore[index]
    assert entry.detail["after"]["roles"] == ["officer", "trainer"]  # type: ignore[index]


async def test_a_person_who_left_is_kept_and_logged_out(portal: Portal) -> None:
    async with portal.as_user("officer1") as officer:
        me = (await officer.get("/api/v1/me")).json()
        async with portal.as_user("manager") as manager:
            r = await manager.patch(f"/api/v1/people/{me['id']}", json={"active": False})
            assert r.status_code == 200 and r.json()["active"] is False
            left = (await manager.get("/api/v1/people?active=false")).json()
        assert me["id"] in [p["id"] for p in left]
        assert (await officer.get("/api/v1/me")).status_code == 401


async def test_a_reset_password_must_be_changed_at_the_next_login(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        officer_id = (await manager.get("/api/v1/people?q=officer1")).json()[0]["id"]
        refused = await manager.post(f"/api/v1/people/{officer_id}/password-reset")
        assert refused.status_code == 403  # administrators only
    async with portal.as_user("admin") as admin:
        r = await admin.post(f"/api/v1/people/{officer_id}/password-reset")
        assert r.status_code == 200
        temporary = r.json()["temporary_password"]
    client = portal.client()
    async with client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": "officer1", "password": temporary}
        )
        assert login.status_code == 200
        assert (await client.get("/api/v1/me")).status_code == 200
        blocked = await client.get("/api/v1/compliance/me?year=2023")
        assert blocked.status_code == 403
        assert blocked.json()["detail"]["code"] == "password_change_required"
        page = await client.get("/sessions")
        assert page.status_code == 303 and page.headers["location"] == "/account/password"
        form = await client.get("/account/password")
        assert "管理员已重置你的密码" in form.text
        mismatch = await client.post(
            "/account/password",
            data={"current": temporary, "new": "fresh-pass-1", "repeat": "fresh-pass-2"},
        )
        assert mismatch.status_code == 422 and "两次输入的新密码不一致" in mismatch.text
        wrong = await client.post(
            "/api/v1/me/password", json={"current": "nope", "new": "fresh-pass-1"}
        )
        assert wrong.status_code == 422 and wrong.json()["detail"]["code"] == "wrong_password"
        done = await client.post(
            "/account/password",
            data={"current": temporary, "new": "fresh-pass-1", "repeat": "fresh-pass-1"},
        )
        assert done.status_code == 303
        assert (await client.get("/api/v1/compliance/me?year=2023")).status_code == 200
    again = portal.client()
    async with again:
        old = await again.post(
            "/api/v1/auth/login", json={"username": "officer1", "password": temporary}
        )
        assert old.status_code == 401
        new = await again.post(
            "/api/v1/auth/login", json={"username": "officer1", "password": "fresh-pass-1"}
        )
        assert new.status_code == 200
    await _audited(portal, "person.password_reset", f"person:{officer_id}")
    await _audited(portal, "person.password_change", f"person:{officer_id}")


async def test_classrooms_are_created_by_the_training_office(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.post(
            "/api/v1/classrooms", json={"name": "二号教室", "location": "区局三楼 302"}
        )
        assert r.status_code == 201, r.text
        assert (r.json()["location"], r.json()["two_factor"]) == ("区局三楼 302", False)
        again = await manager.post("/api/v1/classrooms", json={"name": "二号教室"})
        assert again.status_code == 409
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.post("/api/v1/classrooms", json={"name": "x"})).status_code == 403
    await _audited(portal, "classroom.create", f"classroom:{r.json()['id']}")


async def test_the_pages_keep_the_organisation_and_say_what_is_wrong(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.post(
            "/units", data={"name": "真如中队", "kind": "squad", "squad_type": "street"}
        )
        assert r.status_code == 303
        page = await manager.get("/units")
        assert "真如中队" in page.text and "街镇" in page.text
        again = await manager.post("/units", data={"name": "真如中队", "kind": "squad"})
        assert again.status_code == 409 and "已有同名单位" in again.text
        assert 'value="真如中队"' in again.text  # what was typed is kept
        made = await manager.post(
            "/people/save",
            data={
                "username": "zhou",
                "display_name": "周一",
                "badge_no": "Z0001",
                "roles": ["officer"],
                "hired_on": "2023-02-01",
                "enforcement_staff": "yes",
            },
        )
        assert made.status_code == 303 and made.headers["location"].endswith("/edit?saved=1")
        edit = await manager.get(made.headers["location"])
        assert "已保存" in edit.text and 'value="Z0001"' in edit.text
        boss = await manager.post(
            "/people/save",
            data={"username": "zhou2", "display_name": "周二", "roles": ["manager"]},
        )
        assert boss.status_code == 403
        assert "只有系统管理员可以设置或修改" in boss.text and 'value="周二"' in boss.text
    person_id = int(made.headers["location"].split("/")[2])
    async with portal.as_user("admin") as admin:
        reset = await admin.post(f"/people/{person_id}/password-reset")
    assert reset.status_code == 200 and "临时密码" in reset.text
