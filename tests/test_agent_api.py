"""What a (re)starting agent learns from the portal: what to resume, what to finish."""

from __future__ import annotations

import pytest

from classroom.runtime import Services
from tests.api_helpers import make_portal

pytestmark = pytest.mark.anyio


async def test_hello_lists_recordings_to_resume_and_to_finish(services: Services) -> None:
    portal = await make_portal(services)
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
    async with portal.agent() as agent:
        hello = (await agent.post("/api/v1/agent/hello", json={"classroom_id": 1})).json()
        assert hello["active_recordings"] == [] and hello["finishing_recordings"] == []
        (start,) = (await agent.get("/api/v1/agent/commands")).json()
        await agent.post(f"/api/v1/agent/commands/{start['id']}/ack", json={"ok": True})
        hello = (await agent.post("/api/v1/agent/hello", json={"classroom_id": 1})).json()
        assert [r["recording_id"] for r in hello["active_recordings"]] == [rec["id"]]
        async with portal.as_user("trainer") as trainer:
            await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
        (stop,) = (await agent.get("/api/v1/agent/commands")).json()
        await agent.post(f"/api/v1/agent/commands/{stop['id']}/ack", json={"ok": True})
        hello = (await agent.post("/api/v1/agent/hello", json={"classroom_id": 1})).json()
    assert hello["active_recordings"] == []
    assert hello["finishing_recordings"] == [
        {
            "recording_id": rec["id"],
            "session_id": sid,
            "object_prefix": f"recordings/session-{sid}/recording-{rec['id']}/",
        }
    ]
