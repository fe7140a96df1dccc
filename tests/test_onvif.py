"""ONVIF PTZ through onvif-zeep against a simulated ONVIF camera that checks the WS-Security
digest: a session's preset is recalled when its recording starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classroom.runtime import Services
from hardware.ptz import OnvifPtz, ViscaPtz, ptz_from_url
from storage.seaweed import S3Connection
from tests.agent_helpers import running_agent, until
from tests.api_helpers import book_session, cancel_seeded_session, make_portal
from tests.onvif_sim import onvif_camera

pytestmark = pytest.mark.anyio


async def test_preset_recall_and_refusals() -> None:
    with onvif_camera(password="cam-secret") as cam:
        await OnvifPtz("127.0.0.1", cam.port, "admin", "cam-secret").recall(4)
        assert cam.recalled == [("profile_1", "4")] and cam.refused == 0
        with pytest.raises(Exception, match="no such preset"):
            await OnvifPtz("127.0.0.1", cam.port, "admin", "cam-secret").recall(9)
        with pytest.raises(Exception, match="not authorized"):
            await OnvifPtz("127.0.0.1", cam.port, "admin", "wrong").recall(4)
        assert cam.refused >= 1 and cam.recalled == [("profile_1", "4")]


def test_ptz_addresses() -> None:
    assert ptz_from_url("") is None
    assert ptz_from_url("visca://10.0.0.8") == ViscaPtz("10.0.0.8", 52381)
    cam = ptz_from_url("onvif://admin:p%40ss%3Aword@10.0.0.9:8080")
    assert cam == OnvifPtz("10.0.0.9", 8080, "admin", "p@ss:word")
    assert "p@ss" not in repr(cam)  # the password stays out of logs
    with pytest.raises(ValueError, match="unsupported PTZ address"):
        ptz_from_url("http://10.0.0.9")


@pytest.mark.slow
async def test_the_sessions_preset_is_recalled_when_the_trainer_starts(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    portal = await make_portal(services)
    await cancel_seeded_session(portal)
    start = datetime.now(UTC) + timedelta(minutes=20)  # started early, within its window
    with onvif_camera(password="cam-secret") as cam:
        ptz = {"ptz": f"onvif://admin:cam-secret@127.0.0.1:{cam.port}"}
        async with (
            portal.as_user("trainer") as trainer,
            running_agent(portal, s3, bucket, tmp_path / "agent", media=ptz) as agent,
        ):
            room = portal.world.classroom_id
            r = await book_session(trainer, room, start, 60, "ONVIF preset", ptz_preset=4)
            sid = r.json()["id"]
            rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
            await until(lambda: cam.recalled, within_s=30, what="the ONVIF preset recall")
            assert cam.recalled == [("profile_1", "4")]
            await until(lambda: rec["id"] in agent.capture.recorders, what="the recording")
            await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
            await asyncio.sleep(0.5)
