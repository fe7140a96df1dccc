"""A classroom records with its object store down: the agent starts without it (it used to exit
from its bucket check), says so in its alerts, keeps accepting segments while uploads wait (they
used to take every thread of the default pool), and uploads everything once the store is back."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from pathlib import Path

import pytest

from classroom.runtime import Services
from classroom.settings import Settings
from storage.seaweed import EmbeddedSeaweed
from tests.agent_helpers import Cuttable, running_agent, until
from tests.api_helpers import Portal, make_portal
from tests.conftest import make_settings
from tests.recording_helpers import accounted_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


BUCKET = "down-at-start"


@pytest.fixture
def settings(tmp_path: Path, weed: EmbeddedSeaweed) -> Settings:
    assert weed.connection is not None
    return make_settings(tmp_path / "var", weed.connection, BUCKET)


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_the_agent_records_with_the_store_down_and_uploads_when_it_returns(
    portal: Portal, weed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    conn = weed.connection
    assert conn is not None
    await asyncio.to_thread(weed.stop)  # down before the agent starts
    sid = portal.world.session_id
    quick = {"unreachable_alert_s": 3}
    async with running_agent(portal, conn, BUCKET, tmp_path / "agent", agent=quick) as agent:
        await until(lambda: "loop_bucket" in agent.health.alerts, what="the store's alert")
        await until(lambda: "store_unreachable" in agent.health.alerts, what="store unreachable")
        status = agent.status()
        assert status["store_reachable"] is False and status["store_since"]
        assert status["portal_reachable"] is True
        async with portal.as_user("trainer") as trainer:
            r = await trainer.post(f"/api/v1/sessions/{sid}/recording/start")
            assert r.status_code == 202, r.text
            rec = r.json()["id"]
            await until(lambda: rec in agent.capture.recorders, what="the recording")
            # 25 s of store outage while recording: uploads retry on threads of their own, and
            # capture goes on — a segment accepted every second, the status written throughout.
            workdir = tmp_path / "agent" / "agent" / f"classroom-{portal.world.classroom_id}"
            counts = []
            for _ in range(5):
                await asyncio.sleep(5)
                counts.append(len(list((workdir / f"recording-{rec}" / "segments").glob("*.ts"))))
                # written every heartbeat (5 s); three missed would be a stall, not a busy machine
                assert time.time() - (workdir / "status.json").stat().st_mtime < 20
            # five 1-s segments each 5 s; a stalled agent (the old code) accepts none
            assert all(b > a for a, b in itertools.pairwise(counts)), counts
            await asyncio.to_thread(weed.start)  # back, same port and credentials
            await until(lambda: "loop_bucket" not in agent.health.alerts, 60, "the bucket")
            await until(lambda: agent.status()["store_reachable"] is True, 30, "the store back")
            await until(lambda: "store_unreachable" not in agent.health.alerts, 30, "all clear")
            assert (await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")).status_code == 202

            async def available() -> bool:
                got = (await trainer.get(f"/api/v1/recordings/{rec}")).json()
                return bool(got["state"] == "available")

            deadline = time.monotonic() + 90
            while not await available():
                assert time.monotonic() < deadline, "the recording never became available"
                await asyncio.sleep(0.5)
            got = (await trainer.get(f"/api/v1/recordings/{rec}")).json()
            assert got["duration_s"] >= 25
            # a store outage costs no media: all of the capture's wall time is there
            assert got["complete"] is True and got["missing_s"] == 0, got
            assert accounted_for(got, slack_s=3.0) == []


async def test_the_status_says_when_the_portal_is_unreachable(
    portal: Portal, weed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    """A portal outage with nothing queued used to leave portal_reachable True throughout."""
    assert weed.connection is not None
    cut = Cuttable(portal.transport)
    quick = {"unreachable_alert_s": 3, "heartbeat_s": 1}
    async with running_agent(
        portal, weed.connection, BUCKET, tmp_path / "agent", agent=quick, transport=cut
    ) as agent:
        await until(lambda: agent.status()["portal_reachable"] is True, what="the portal")
        cut.down = True
        await until(lambda: "portal_unreachable" in agent.health.alerts, what="the alert")
        status = agent.status()
        assert status["portal_reachable"] is False and status["portal_since"]
        workdir = tmp_path / "agent" / "agent" / f"classroom-{portal.world.classroom_id}"
        await until(
            lambda: '"portal_reachable": false' in (workdir / "status.json").read_text(),
            what="status.json",
        )
        cut.down = False
        await until(lambda: "portal_unreachable" not in agent.health.alerts, what="all clear")
        assert agent.status()["portal_reachable"] is True


def _hang_up(server: socket.socket) -> None:
    """Answer every connection by closing it, until the socket is closed."""
    with contextlib.suppress(OSError):
        while True:
            conn, _ = server.accept()
            conn.close()


async def test_the_agent_finds_its_embedded_store_where_it_moved(
    portal: Portal, weed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    """The portal's embedded store restarts on another port (its old one taken meanwhile): the
    agent, which found it by connection.json, looks it up again and uploads there."""
    first = weed.connection
    assert first is not None
    sid = portal.world.session_id
    quick = {"heartbeat_s": 1}
    async with running_agent(
        portal, first, BUCKET, tmp_path, agent=quick, embedded_store=True
    ) as agent:
        assert agent.store.connection == first and agent.find_store is not None
        async with portal.as_user("trainer") as trainer:
            rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()["id"]
            await until(lambda: rec in agent.capture.recorders, what="the recording")
            await asyncio.to_thread(weed.stop)
            port = int(first.endpoint.rsplit(":", 1)[1])
            with socket.socket() as squatter:  # another service took the old port meanwhile
                squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                squatter.bind(("127.0.0.1", port))
                squatter.listen()
                threading.Thread(target=_hang_up, args=(squatter,), daemon=True).start()
                moved = await asyncio.to_thread(EmbeddedSeaweed(tmp_path / "s3").start)
                assert moved.endpoint != first.endpoint
                portal.services.store.connect(moved)  # as the restarted portal would have it
                await until(lambda: agent.store.connection == moved, 30, "the store moved")
                await asyncio.sleep(2)
                r = await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
                assert r.status_code == 202
                deadline = time.monotonic() + 60
                while (got := (await trainer.get(f"/api/v1/recordings/{rec}")).json())[
                    "state"
                ] != "available":
                    assert time.monotonic() < deadline, got
                    await asyncio.sleep(0.5)
