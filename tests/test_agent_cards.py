"""The agent's serial card reader (a pseudo-terminal pair stands in for the RS-232 line) and its
offline queue: taps while the portal is unreachable are kept on disk and stored exactly once when
it is back, even when an answer is lost and the agent sends an event again."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from classroom.db.models import Attendance, AttendanceSource, Person
from classroom.runtime import Services
from hardware.card_reader import SerialCardReader
from storage.seaweed import S3Connection
from tests.agent_helpers import Cuttable, running_agent, until
from tests.api_helpers import make_portal

pytestmark = pytest.mark.anyio

CARDS = {"officer1": "0004470001", "officer2": "0004470002", "officer3": "0004470003"}


async def test_reader_yields_clean_card_numbers() -> None:
    master, slave = os.openpty()
    reader = SerialCardReader(os.ttyname(slave))
    reader.open()
    try:
        os.write(master, b"0004471234\r\n!! noise !!\r\nab\r\n00a1")
        await asyncio.sleep(0.05)
        os.write(master, b"2345\r")
        got: list[str] = []
        async for card in reader.cards():
            got.append(card)
            if len(got) == 2:
                break
    finally:
        reader.close()
        os.close(master)
        os.close(slave)
    assert got == ["0004471234", "00A12345"]


@pytest.mark.slow
async def test_offline_taps_arrive_exactly_once(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    portal = await make_portal(services)
    async with services.sessionmaker() as db:
        ids = {u: await db.scalar(select(Person.id).where(Person.username == u)) for u in CARDS}
    async with portal.as_user("manager") as manager:
        for user, card in CARDS.items():
            r = await manager.post(f"/api/v1/people/{ids[user]}/cards", json={"card_no": card})
            assert r.status_code == 201
    master, slave = os.openpty()
    net = Cuttable(portal.transport)

    async def kiosk_rows() -> list[Attendance]:
        async with services.sessionmaker() as db:
            rows = await db.scalars(
                select(Attendance).where(Attendance.source == AttendanceSource.AGENT)
            )
            return list(rows)

    try:
        async with running_agent(
            portal,
            s3,
            bucket,
            tmp_path / "agent",
            media={"card_reader": os.ttyname(slave)},
            transport=net,
        ) as agent:
            await asyncio.sleep(1.5)  # the reader is open
            net.down = True
            for card in [*CARDS.values(), CARDS["officer1"]]:  # and officer1 taps twice
                os.write(master, f"{card}\r\n".encode())
                await asyncio.sleep(0.1)
            await until(lambda: agent.outbox.depth()[0] >= 4, what="four taps queued")
            assert await kiosk_rows() == []  # nothing reached the portal
            net.lose_answers = 1  # the first delivery is stored, its answer lost: sent again
            back_at = datetime.now(UTC)
            net.down = False
            await until(lambda: agent.outbox.depth()[0] == 0, within_s=60, what="delivery")
    finally:
        os.close(master)
        os.close(slave)
    rows = await kiosk_rows()
    assert sorted(r.person_id for r in rows) == sorted(ids.values())  # exactly N people, once
    assert all(r.session_id == portal.world.session_id for r in rows)
    assert net.lose_answers == 0  # the lost answer really happened
    assert all(r.check_in < back_at for r in rows)  # the time of the tap, not of delivery
