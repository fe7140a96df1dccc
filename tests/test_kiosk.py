"""The kiosk with its own device token, bound to one classroom: card check-in and check-out into
the session open there, duplicates and retried events stored once, unknown cards refused and
logged; a kiosk token opens nothing else, and a revoked one nothing at all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from classroom.compliance import PlanBook
from classroom.db.models import AuditEntry, Classroom, Device, DeviceKind, Person
from classroom.devices import create_device, revoke_device
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal

pytestmark = pytest.mark.anyio
PLANS = Path(__file__).resolve().parent.parent / "plans"


async def _kiosk(portal: Portal, classroom_id: int) -> tuple[int, str]:
    async with portal.services.sessionmaker() as db:
        device, token = await create_device(db, classroom_id, DeviceKind.KIOSK, "door")
        await db.commit()
        return device.id, token


@pytest.fixture
async def portal(services: Services) -> Portal:
    portal = await make_portal(services)
    async with services.sessionmaker() as db:
        pid = await db.scalar(select(Person.id).where(Person.username == "officer1"))
    async with portal.as_user("manager") as manager:
        r = await manager.post(f"/api/v1/people/{pid}/cards", json={"card_no": "0004471234"})
        assert r.status_code == 201
    return portal


async def test_card_check_in_and_out(portal: Portal) -> None:
    _, token = await _kiosk(portal, portal.world.classroom_id)
    sid = portal.world.session_id
    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        state = (await kiosk.get("/api/v1/kiosk/state")).json()
        assert state["session"]["id"] == sid and state["checked_in"] == 0
        tap = str(uuid.uuid4())
        r = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234", "event_uid": tap})
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "checked_in" and r.json()["name"] == "张队员"
        retry = await kiosk.post(
            "/api/v1/kiosk/card", json={"card_no": "0004471234", "event_uid": tap}
        )
        assert retry.json()["result"] == "already"  # the same event delivered twice
        again = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert again.json()["result"] == "already"  # a second tap
        assert (await kiosk.get("/api/v1/kiosk/state")).json()["checked_in"] == 1
        out = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert out.json()["result"] == "checked_out"
        twice = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert twice.status_code == 403 and twice.json()["detail"]["code"] == "not_checked_in"
        unknown = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "9999999999"})
        assert unknown.status_code == 404
        assert unknown.json()["detail"]["code"] == "unknown_card"
    async with portal.as_user("trainer") as trainer:
        rows = (await trainer.get(f"/api/v1/sessions/{sid}/attendance")).json()
    mine = [a for a in rows if a["source"] == "kiosk"]
    assert len(mine) == 1 and mine[0]["check_out"] is not None
    async with portal.services.sessionmaker() as db:
        logged = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "kiosk.unknown_card"))
        ).all()
    assert len(logged) == 1 and logged[0].detail["card"] == "9999999999"


async def test_no_session_in_another_classroom(portal: Portal) -> None:
    async with portal.services.sessionmaker() as db:
        db.add(Classroom(id=2, name="二号教室", location=""))
        await db.commit()
    _, token = await _kiosk(portal, 2)
    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        assert (await kiosk.get("/api/v1/kiosk/state")).json()["session"] is None
        r = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert r.status_code == 409 and r.json()["detail"]["code"] == "no_session"


async def test_a_kiosk_token_opens_only_the_kiosk(portal: Portal) -> None:
    device_id, token = await _kiosk(portal, portal.world.classroom_id)
    sid = portal.world.session_id
    bearer = {"Authorization": f"Bearer {token}"}
    async with portal.client(headers=bearer) as kiosk:
        for method, path in (
            ("GET", "/api/v1/sessions"),
            ("GET", f"/api/v1/sessions/{sid}/attendance"),
            ("GET", "/api/v1/recordings"),
            ("GET", "/api/v1/classrooms/status"),
        ):
            assert (await kiosk.request(method, path)).status_code == 401, path
        assert (await kiosk.get("/api/v1/agent/commands")).status_code == 403
        assert (await kiosk.get("/api/v1/agent/schedule")).status_code == 403
    async with portal.agent() as agent:
        assert (await agent.get("/api/v1/kiosk/state")).status_code == 403
    async with portal.as_user("manager") as manager:
        assert (await manager.get("/api/v1/kiosk/state")).status_code == 401
    async with portal.services.sessionmaker() as db:
        device = await db.get(Device, device_id)
        assert device is not None
        await revoke_device(db, device)
        await db.commit()
    async with portal.client(headers=bearer) as kiosk:
        assert (await kiosk.get("/api/v1/kiosk/state")).status_code == 401  # at once


async def test_a_check_out_shows_in_the_ledger_at_once(portal: Portal, tmp_path: Path) -> None:
    """Credit comes from the events on every read: the officer's year has the session's 学时 in
    the very next request after the kiosk check-out."""
    year = datetime.now(UTC).year
    plan = (PLANS / "2023.toml").read_text().replace("year = 2023", f"year = {year}", 1)
    (tmp_path / f"{year}.toml").write_text(plan)
    portal.services.plans = PlanBook(tmp_path)
    async with portal.services.sessionmaker() as db:
        db.add(Classroom(id=3, name="三号教室", location=""))
        await db.commit()
    _, token = await _kiosk(portal, 3)
    start = datetime.now(UTC) - timedelta(seconds=30)
    async with portal.as_user("manager") as manager:
        r = await manager.post(
            "/api/v1/sessions",
            json={
                "title": "全员普训",
                "kind": "training_day",
                "course_id": 1,
                "classroom_id": 3,
                "trainer_id": (await manager.get("/api/v1/sessions")).json()[0]["trainer_id"],
                "planned_start": start.isoformat(),
                "planned_end": (start + timedelta(minutes=10)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        assert (await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})).json()[
            "session_id"
        ] == sid
        r = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert r.json()["result"] == "checked_out"
    async with portal.as_user("officer1") as me:
        report = (await me.get(f"/api/v1/compliance/me?year={year}")).json()
    entries = [e for e in report["entries"] if e["ref"] == f"session:{sid}"]
    assert entries and entries[0]["hours"] == 8.0 and entries[0]["credits"] == 4.0
