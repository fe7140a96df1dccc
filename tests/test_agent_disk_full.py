"""The agent's disk fills up while it records (a small tmpfs): Stop is acknowledged at once, the
join that cannot be written cleans up after itself and waits, and freeing space lets the
recording finish without restarting the agent — nothing recorded before the disk filled is lost.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from classroom.db.models import AgentCommand, CommandKind, CommandState
from classroom.runtime import Services
from storage.seaweed import S3Connection
from tests.agent_helpers import running_agent, until
from tests.api_helpers import Portal, make_portal
from tests.recording_helpers import accounted_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs of its own (the tests run as root, as CI does)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def _fill(disk: Path) -> Path:
    filler = disk / "filler.bin"
    block = bytes(256 * 1024)
    with filler.open("wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass
    return filler


async def test_disk_full_while_recording(
    portal: Portal, s3: S3Connection, bucket: str, small_disk: Path
) -> None:
    sid = portal.world.session_id
    agent_settings = {"min_free_mb": 0, "heartbeat_s": 1}
    async with (
        running_agent(portal, s3, bucket, small_disk, agent=agent_settings) as agent,
        portal.as_user("trainer") as trainer,
    ):
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()["id"]
        await until(lambda: agent.health.segments_total >= 4, 60, "four segments")
        filler = await asyncio.to_thread(_fill, small_disk)
        await asyncio.sleep(8)  # eight seconds of capture with nowhere to go
        stopped_at = time.monotonic()
        assert (await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")).status_code == 202

        async def stop_acknowledged() -> bool:
            async with portal.services.sessionmaker() as db:
                cmd = await db.scalar(
                    select(AgentCommand).where(
                        AgentCommand.recording_id == rec,
                        AgentCommand.kind == CommandKind.STOP_RECORDING,
                    )
                )
                return cmd is not None and cmd.state != CommandState.PENDING

        while not await stop_acknowledged():
            assert time.monotonic() - stopped_at < 60, "Stop was not acknowledged"  # was minutes
            await asyncio.sleep(0.5)
        await until(
            lambda: (
                "waits to be finished"
                in getattr(agent.health.alerts.get("disk_low"), "message", "")
            ),
            60,
            "the finishing to wait for space",
        )
        assert not list(small_disk.rglob("*.partial.mp4"))  # the failed join cleaned up
        state = (await trainer.get(f"/api/v1/recordings/{rec}")).json()["state"]
        assert state != "failed"
        filler.unlink()  # someone frees the disk: the agent goes on by itself
        deadline = time.monotonic() + 90
        while (got := (await trainer.get(f"/api/v1/recordings/{rec}")).json())["state"] != (
            "available"
        ):
            assert got["state"] != "failed", got
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.5)
        assert got["duration_s"] >= 3  # what was recorded before the disk filled is there
        # what could not be written while the disk was full is missing, and said to be: where,
        # how long and why
        assert got["complete"] is False and got["missing_s"] >= 4, got
        gaps = accounted_for(got, slack_s=3.0)
        assert [g["reason"] for g in gaps] == ["disk_full"], gaps
        assert "disk_low" not in agent.health.alerts
