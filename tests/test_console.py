"""The trainer's console for a running session, in process with a real agent: its state, the
microphone's level and viewers; a PTZ preset recalled from the console moves the classroom's
(simulated VISCA) camera at once; only the session's trainer or an admin may use it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from classroom.runtime import Services
from storage.seaweed import S3Connection
from tests.agent_helpers import running_agent, until
from tests.api_helpers import make_portal
from tests.visca_sim import SimulatedCamera, camera

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
__all__ = ["camera"]


async def test_console_state_and_ptz_presets(
    services: Services,
    s3: S3Connection,
    bucket: str,
    tmp_path: Path,
    camera: tuple[SimulatedCamera, int],
) -> None:
    cam, port = camera
    cam.presets[3] = (120, -40)  # stored on the camera earlier
    portal = await make_portal(services)
    sid = portal.world.session_id
    media = {"ptz": f"visca://127.0.0.1:{port}"}
    async with (
        portal.as_user("trainer") as trainer,
        portal.as_user("officer1") as officer,
        portal.as_user("admin") as admin,
        portal.client() as anonymous,
        running_agent(
            portal, s3, bucket, tmp_path / "agent", media=media, agent={"heartbeat_s": 1}
        ) as agent,
    ):
        console = f"/api/v1/sessions/{sid}/console"
        assert (await officer.get(console)).status_code == 403
        assert (await anonymous.get(console)).status_code == 401
        assert (await officer.post(f"/api/v1/sessions/{sid}/ptz/3")).status_code == 403
        assert (await officer.get(f"/sessions/{sid}/console")).status_code == 403
        page = await trainer.get(f"/sessions/{sid}/console")
        assert page.status_code == 200 and "教员控制台" in page.text

        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.recorders, what="the recording")

        deadline = time.monotonic() + 30
        # Live once the start's acknowledgement is in (through the agent's outbox); the level
        # comes with a heartbeat.
        while (seen := (await trainer.get(console)).json())["audio_peak_dbfs"] is None or not seen[
            "live"
        ]:
            assert time.monotonic() < deadline, f"no microphone level on the console: {seen}"
            await asyncio.sleep(0.3)
        assert seen["recording_state"] == "recording" and seen["live"] is True, seen
        assert seen["agent_online"] is True and seen["ptz"] is True
        assert -60 < seen["audio_peak_dbfs"] <= 0
        assert seen["viewers"] == 0

        # A preset, now: the camera is there when the answer comes.
        r = await trainer.post(f"/api/v1/sessions/{sid}/ptz/3")
        assert r.status_code == 204, r.text
        assert cam.pos == (120, -40)
        # A preset the camera does not hold: it says so, the console says so.
        r = await admin.post(f"/api/v1/sessions/{sid}/ptz/9")
        assert r.status_code == 409 and r.json()["detail"]["code"] == "ptz_failed", r.text
        assert (await trainer.post(f"/api/v1/sessions/{sid}/ptz/999")).status_code == 422
        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
