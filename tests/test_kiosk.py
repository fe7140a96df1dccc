"""The kiosk with its own device token, bound to one classroom: card check-in and check-out into
the session open there, duplicates and retried events stored once, unknown cards refused and
logged; a kiosk token opens nothing else, and a revoked one nothing at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import func, select, text

from classroom.card_tap import CardTap, Tapped
from classroom.compliance import PlanBook
from classroom.db.models import (
    Attendance,
    AuditEntry,
    Classroom,
    Device,
    DeviceKind,
    IdCard,
    Person,
    PersonRole,
    Role,
    Session,
    SessionKind,
)
from classroom.db.models import Session as DbSession
from classroom.devices import create_device, revoke_device
from classroom.runtime import Services, open_services
from classroom.security import token_hash
from classroom.settings import Settings
from storage.seaweed import S3Connection
from tests.api_helpers import Portal, book_session, cancel_seeded_session, make_portal
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
PLANS = Path(__file__).resolve().parent.parent / "plans"


async def _kiosk(portal: Portal, classroom_id: int) -> tuple[int, str]:
    async with portal.services.sessionmaker() as db:
        device, token = await create_device(db, classroom_id, DeviceKind.KIOSK, "door")
        await db.commit()
        return device.id, token


@pytest.fixture
def settings(tmp_path: Path, s3: S3Connection, bucket: str, db_url: str) -> Settings:
    """The kiosk's card path is SQL of its own: every test here runs on SQLite and PostgreSQL."""
    return make_settings(tmp_path / "var", s3, bucket, database={"url": db_url})


async def _portal_with_card(services: Services) -> Portal:
    """The demo world, officer1 holding card 0004471234."""
    portal = await make_portal(services)
    async with services.sessionmaker() as db:
        pid = await db.scalar(select(Person.id).where(Person.username == "officer1"))
    async with portal.as_user("manager") as manager:
        r = await manager.post(f"/api/v1/people/{pid}/cards", json={"card_no": "0004471234"})
        assert r.status_code == 201
    return portal


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await _portal_with_card(services)


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


async def test_a_tap_kept_offline_counts_when_it_was_made(portal: Portal) -> None:
    """The kiosk page delivers a tap it kept while the portal was unreachable with the time it
    was made: the session open then is the one it checks into, at that time; once per event id;
    a time beyond the kept taps' range is refused."""
    _, token = await _kiosk(portal, portal.world.classroom_id)
    async with portal.services.sessionmaker() as db:
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None
        made = demo.planned_start + timedelta(minutes=3)
    tap = {"card_no": "0004471234", "event_uid": str(uuid.uuid4()), "at": made.isoformat()}
    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        r = await kiosk.post("/api/v1/kiosk/card", json=tap)
        assert r.status_code == 200, r.text
        assert r.json()["session_id"] == portal.world.session_id
        assert datetime.fromisoformat(r.json()["at"]) == made
        again = await kiosk.post("/api/v1/kiosk/card", json=tap)  # delivered twice
        assert again.json()["result"] == "already"
        for far in (timedelta(days=31), -timedelta(hours=1)):
            old = {
                **tap,
                "event_uid": str(uuid.uuid4()),
                "at": (datetime.now(UTC) - far).isoformat(),
            }
            r = await kiosk.post("/api/v1/kiosk/card", json=old)
            assert r.status_code == 422 and r.json()["detail"]["code"] == "tap_too_old"
    async with portal.as_user("trainer") as trainer:
        rows = (await trainer.get(f"/api/v1/sessions/{portal.world.session_id}/attendance")).json()
    assert [datetime.fromisoformat(a["check_in"]) for a in rows if a["source"] == "kiosk"] == [made]


async def test_back_to_back_sessions_a_tap_is_for_the_next(portal: Portal) -> None:
    """A ends as B starts, and B's check-in has opened: a tap now is for B, the kiosk shows B,
    and a check-out still closes the person's check-in to A."""
    await cancel_seeded_session(portal)
    now = datetime.now(UTC)
    room = portal.world.classroom_id
    ids = {}
    async with portal.as_user("trainer") as trainer:
        for title, start in (
            ("A", now - timedelta(minutes=50)),
            ("B", now + timedelta(minutes=10)),
        ):
            r = await book_session(trainer, room, start, 60, title)
            assert r.status_code == 201, r.text
            ids[title] = r.json()["id"]
    async with portal.agent() as agent:  # officer1 came to A (the agent's reader, 40 min ago)
        r = await agent.post(
            "/api/v1/agent/checkin",
            json={
                "event_uid": str(uuid.uuid4()),
                "card_no": "0004471234",
                "at": (now - timedelta(minutes=40)).isoformat(),
            },
        )
        assert r.status_code == 200 and r.json()["result"] == "checked_in", r.text
    _, token = await _kiosk(portal, room)
    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        assert (await kiosk.get("/api/v1/kiosk/state")).json()["session"]["id"] == ids["B"]
        out = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert out.status_code == 200, out.text
        assert out.json()["result"] == "checked_out" and out.json()["session_id"] == ids["A"]
        tap = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert tap.json()["result"] == "checked_in" and tap.json()["session_id"] == ids["B"]
    async with portal.services.sessionmaker() as db:
        rows = (
            await db.scalars(
                select(Attendance)
                .where(Attendance.session_id.in_(ids.values()))
                .order_by(Attendance.check_in)
            )
        ).all()
    assert [(a.session_id, a.check_out is None) for a in rows] == [
        (ids["A"], False),
        (ids["B"], True),
    ]


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


async def test_a_check_in_and_out_show_in_the_ledger_at_once(
    portal: Portal, tmp_path: Path
) -> None:
    """Credit comes from the events on every read: the officer's year has the day's 学时 in the
    very next request after the kiosk check-in, and loses them after a check-out at once."""
    year = datetime.now(UTC).year
    # This year's plan, where a ten-minute session makes a training day.
    plan = (
        (PLANS / "2023.toml")
        .read_text()
        .replace("year = 2023", f"year = {year}", 1)
        .replace("min_day_minutes = 360", "min_day_minutes = 10", 1)
    )
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
    day = start.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()

    async def credited() -> list[float]:
        async with portal.as_user("officer1") as me:
            report = (await me.get(f"/api/v1/compliance/me?year={year}")).json()
        return [e["hours"] for e in report["entries"] if e["ref"] == f"training_day:{day}"]

    async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        assert (await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})).json()[
            "session_id"
        ] == sid
        # checked in 30 s late, no check-out yet: present to the end, the whole day
        assert await credited() == [8.0]
        r = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert r.json()["result"] == "checked_out"
    # checked out at once: seconds of a ten-minute session are no presence, and no credit
    assert await credited() == []


async def test_card_tap_rules(portal: Portal) -> None:
    """The rules of a tap, as the ORM check-in has them: a session opens open_before (30 min)
    ahead of its start and closes at its actual end; only active officers check in; a tap after
    a check-out starts a new stay; the same event delivered again is the first answer."""
    now = datetime.now(UTC)
    async with portal.services.sessionmaker() as db:
        for room in (11, 12, 13):
            db.add(Classroom(id=room, name=f"room {room}", location=""))
        db.add(Classroom(id=14, name="room 14", location="", two_factor=True))
        await db.flush()
        trainer = await db.scalar(select(Person.id).where(Person.username == "trainer"))
        assert trainer is not None

        def session(room: int, start: timedelta, **extra: object) -> DbSession:
            return DbSession(
                course_id=1,
                classroom_id=room,
                trainer_id=trainer,
                kind=SessionKind.OTHER,
                title=f"in room {room}",
                planned_start=now + start,
                planned_end=now + start + timedelta(hours=1),
                **extra,
            )

        db.add_all(
            [
                session(11, timedelta(minutes=29)),
                session(12, timedelta(minutes=31)),
                session(13, -timedelta(minutes=20), actual_end=now - timedelta(minutes=1)),
                session(14, timedelta(minutes=5)),
            ]
        )
        officer2 = await db.scalar(select(Person).where(Person.username == "officer2"))
        assert officer2 is not None
        officer2.active = False
        await db.commit()
    async with portal.as_user("manager") as manager:
        for username, card in (("manager", "M0001"), ("officer2", "P0002")):
            async with portal.services.sessionmaker() as db:
                pid = await db.scalar(select(Person.id).where(Person.username == username))
            r = await manager.post(f"/api/v1/people/{pid}/cards", json={"card_no": card})
            assert r.status_code == 201, r.text
    taps = {}
    for room in (11, 12, 13, 14):
        _, token = await _kiosk(portal, room)
        taps[room] = portal.client(headers={"Authorization": f"Bearer {token}"})
    async with portal.services.sessionmaker() as db:
        _, agent_token = await create_device(db, 11, DeviceKind.AGENT, "room 11's agent")
        await db.commit()
    agent = portal.client(headers={"Authorization": f"Bearer {agent_token}"})
    async with taps[14] as k14, agent:
        # Refused before anyone is looked at, and nothing written: a classroom that checks card
        # and face together; a token of another kind of device.
        r = await k14.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert r.status_code == 409 and r.json()["detail"]["code"] == "face_required"
        r = await agent.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert r.status_code == 403
    async with taps[11] as k11, taps[12] as k12, taps[13] as k13:
        first = await k11.post("/api/v1/kiosk/card", json={"card_no": " 0004471234 "})
        assert first.status_code == 200 and first.json()["result"] == "checked_in"
        assert first.json()["session"] == "in room 11"  # 29 minutes ahead: open
        for kiosk in (k12, k13):  # 31 minutes ahead; stopped a minute ago
            r = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
            assert r.status_code == 409 and r.json()["detail"]["code"] == "no_session"
        r = await k11.post("/api/v1/kiosk/card", json={"card_no": "M0001"})
        assert r.status_code == 403 and r.json()["detail"]["code"] == "not_an_officer"
        assert "王经理" in r.json()["detail"]["message"]
        for card in ("P0002", "x!"):  # an inactive officer's card; not a card number at all
            r = await k11.post("/api/v1/kiosk/card", json={"card_no": card})
            assert r.status_code == 404 and r.json()["detail"]["code"] == "unknown_card"
        again = await k11.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
        assert again.json()["result"] == "already" and again.json()["at"] == first.json()["at"]
        out = await k11.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
        assert out.json()["result"] == "checked_out"
        tap = str(uuid.uuid4())
        back = await k11.post(
            "/api/v1/kiosk/card", json={"card_no": "0004471234", "event_uid": tap}
        )
        assert back.json()["result"] == "checked_in" and back.json()["at"] > first.json()["at"]
        retry = await k11.post(
            "/api/v1/kiosk/card", json={"card_no": "0004471234", "event_uid": tap}
        )
        assert retry.json() == {**back.json(), "result": "already"}
    async with portal.services.sessionmaker() as db:
        stays = (
            await db.scalars(
                select(Attendance)
                .join(DbSession, DbSession.id == Attendance.session_id)
                .where(DbSession.classroom_id == 11)
                .order_by(Attendance.check_in)
            )
        ).all()
        seen = await db.scalar(select(Device.last_seen_at).where(Device.classroom_id == 11))
    assert [(a.source.value, a.check_out is not None) for a in stays] == [
        ("kiosk", True),
        ("kiosk", False),
    ]
    assert stays[1].event_uid == tap and seen is not None
    async with portal.services.sessionmaker() as db:
        in_14 = await db.scalar(
            select(func.count())
            .select_from(Attendance)
            .join(DbSession, DbSession.id == Attendance.session_id)
            .where(DbSession.classroom_id == 14)
        )
    assert in_14 == 0


async def test_card_tap_survives_dropped_database_connections(
    tmp_path: Path, s3: S3Connection, bucket: str, pg_url: str
) -> None:
    """PostgreSQL restarted under a busy kiosk: the taps' pooled connections are gone, and the
    next tap still checks in — once (the retry carries the same event id)."""
    settings = make_settings(tmp_path / "var", s3, bucket, database={"url": pg_url})
    async with open_services(settings) as services:
        portal = await _portal_with_card(services)
        _, token = await _kiosk(portal, portal.world.classroom_id)
        async with portal.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            r = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
            assert r.json()["result"] == "checked_in"
            r = await kiosk.post("/api/v1/kiosk/card/checkout", json={"card_no": "0004471234"})
            assert r.json()["result"] == "checked_out"
            assert services.taps is not None and services.taps.pool.get_size() >= 1
            async with services.engine.connect() as conn:
                dropped = await conn.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            assert dropped and dropped >= 1
            r = await kiosk.post("/api/v1/kiosk/card", json={"card_no": "0004471234"})
            assert r.status_code == 200, r.text
            assert r.json()["result"] == "checked_in"


async def _officers_with_cards(services: Services, count: int) -> list[str]:
    """``count`` more officers, each holding a card; their card numbers."""
    async with services.sessionmaker() as db:
        cards = []
        for i in range(count):
            person = Person(username=f"batch{i}", display_name=f"队员{i}", active=True)
            db.add(person)
            await db.flush()
            db.add(PersonRole(person_id=person.id, role=Role.OFFICER))
            cards.append(f"55{i:08d}")
            db.add(IdCard(card_no=cards[-1], person_id=person.id, registered_by_id=1))
        await db.commit()
    return cards


async def test_taps_arriving_together_go_as_one_batch(
    tmp_path: Path, s3: S3Connection, bucket: str, pg_url: str
) -> None:
    """At the hour every door is busy: on PostgreSQL the taps that arrive together are read and
    written together, and each still gets its own answer — including the refused ones — with
    a card shown twice or an event delivered twice in the same batch stored once."""
    settings = make_settings(tmp_path / "var", s3, bucket, database={"url": pg_url})
    async with open_services(settings) as services:
        portal = await make_portal(services)
        cards = await _officers_with_cards(services, 31)
        room = portal.world.classroom_id
        _, token = await _kiosk(portal, room)
        revoked_id, revoked = await _kiosk(portal, room)
        async with services.sessionmaker() as db:
            _, agent = await create_device(db, room, DeviceKind.AGENT, "not a kiosk")
            gone = await db.get(Device, revoked_id)
            assert gone is not None
            await revoke_device(db, gone)
            await db.commit()
        retried = str(uuid.uuid4())
        taps = [(token, {"card_no": card}) for card in cards[:30]]
        taps += [
            (token, {"card_no": cards[0]}),  # the same card again
            (token, {"card_no": cards[30], "event_uid": retried}),
            (token, {"card_no": cards[30], "event_uid": retried}),  # the same event again
            (token, {"card_no": "9999999999"}),
            (revoked, {"card_no": cards[2]}),
            (agent, {"card_no": cards[3]}),
        ]
        batcher = services.taps
        assert batcher is not None and batcher.taps == 0
        async with portal.client() as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/kiosk/card", json=body, headers={"Authorization": f"Bearer {t}"}
                    )
                    for t, body in taps
                )
            )
        assert batcher.taps == len(taps) and batcher.batches < len(taps) / 4
        ok = [r.json() for r in answers[:30]]
        assert [(a["result"], a["name"]) for a in ok] == [
            ("checked_in", f"队员{i}") for i in range(30)
        ]
        assert answers[30].json()["result"] == "already"  # card 0 again
        retries = sorted(answers[i].json()["result"] for i in (31, 32))
        assert retries == ["already", "checked_in"]
        assert answers[33].status_code == 404
        assert answers[33].json()["detail"]["code"] == "unknown_card"
        assert answers[34].status_code == 401  # the revoked kiosk
        assert answers[35].status_code == 403  # an agent's token is not a kiosk's
        async with services.sessionmaker() as db:
            rows = (
                await db.execute(
                    select(Attendance.person_id, Attendance.event_uid, Attendance.source).where(
                        Attendance.session_id == portal.world.session_id
                    )
                )
            ).all()
        assert len(rows) == 31 and len({r.person_id for r in rows}) == 31
        assert {r.source.value for r in rows} == {"kiosk"}
        assert sum(r.event_uid == retried for r in rows) == 1
        async with portal.as_user("admin") as admin:
            scraped = (await admin.get("/metrics")).text
        assert f"classroom_card_taps_total {len(taps)}" in scraped
        assert f"classroom_card_tap_batches_total {batcher.batches}" in scraped


async def test_a_batch_the_database_refuses_is_run_tap_by_tap(
    tmp_path: Path, s3: S3Connection, bucket: str, pg_url: str
) -> None:
    """One tap the database cannot store (an event id longer than its column) fails alone; the
    taps batched with it are checked in."""
    settings = make_settings(tmp_path / "var", s3, bucket, database={"url": pg_url})
    async with open_services(settings) as services:
        portal = await make_portal(services)
        cards = await _officers_with_cards(services, 3)
        _, token = await _kiosk(portal, portal.world.classroom_id)
        batcher = services.taps
        assert batcher is not None
        now = datetime.now(UTC)

        def tap(card: str, event: str) -> Coroutine[Any, Any, Tapped]:
            return batcher.tap(CardTap(token_hash(token), card, event, now, timedelta(0)))

        done = await asyncio.gather(
            tap(cards[0], "a" * 65),
            tap(cards[1], str(uuid.uuid4())),
            tap(cards[2], str(uuid.uuid4())),
            return_exceptions=True,
        )
        assert batcher.batches == 1
        assert isinstance(done[0], asyncpg.StringDataRightTruncationError)
        results = [d.outcome.result for d in done[1:] if isinstance(d, Tapped) and d.outcome]
        assert results == ["checked_in", "checked_in"]
        async with services.sessionmaker() as db:
            stored = await db.scalar(
                select(func.count()).where(Attendance.session_id == portal.world.session_id)
            )
        assert stored == 2
