"""A recording shorter than its capture's wall time is not called complete: the portal says how
much is missing (the agent down, the disk full), on the recording and its page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classroom.media_time import expected_media_s, missing_s
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from web.i18n import LANG_COOKIE

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_expected_media_is_wall_time_less_pauses() -> None:
    end = T0 + timedelta(minutes=50)
    assert expected_media_s(T0, end, []) == 3000
    pauses = [(T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)), (end, None)]
    assert expected_media_s(T0, end, pauses) == 2400
    # a pause still open at the stop lasts to it
    assert expected_media_s(T0, end, [(T0 + timedelta(minutes=40), None)]) == 2400
    assert expected_media_s(None, end, []) is None
    assert missing_s(3000, 2996, tolerance_s=6) == 0  # the last segment cut short
    assert missing_s(3000, 2917, tolerance_s=6) == 83
    assert missing_s(None, 10, tolerance_s=6) == 0


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_a_recording_missing_media_says_so(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        rid = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()["id"]
    key = f"recordings/session-{sid}/recording-{rid}/recording.mp4"
    info = portal.services.store.put_bytes(key, b"\0" * 1000, "video/mp4")
    async with portal.agent() as agent:
        base = f"/api/v1/agent/recordings/{rid}"
        started = await agent.post(f"{base}/started", json={"at": T0.isoformat()})
        assert started.status_code == 200, started.text
        stop_at = T0 + timedelta(seconds=127)
        assert (await agent.post(f"{base}/stopped", json={"at": stop_at.isoformat()})).is_success
        # 83 s of the 127 s capture lost; the agent accounts for 50 of them: down for 30 s
        # after 12 s of media, and again from 44 s of media to the stop (it never knew when)
        gaps = [
            {
                "at_s": 12,
                "start": (T0 + timedelta(seconds=12)).isoformat(),
                "seconds": 30,
                "reason": "agent_down",
            },
            {
                "at_s": 44,
                "start": (T0 + timedelta(seconds=107)).isoformat(),
                "seconds": None,
                "reason": "disk_full",
            },
        ]
        report = {
            "object_key": key,
            "duration_s": 44.0,
            "size_bytes": 1000,
            "sha256": info.sha256,
            "gaps": gaps,
        }
        refused = await agent.post(
            f"{base}/upload", json={**report, "gaps": [{**gaps[0], "reason": "unexplained"}]}
        )
        assert refused.status_code == 422  # the portal's own word, not the agent's to claim
        assert (await agent.post(f"{base}/upload", json=report)).status_code == 200
    async with portal.as_user("trainer") as trainer:
        got = (await trainer.get(f"/api/v1/recordings/{rid}")).json()
        page = await trainer.get(f"/recordings/{rid}")
        trainer.cookies.set(LANG_COOKIE, "en")
        english = await trainer.get(f"/recordings/{rid}")
    assert got["state"] == "available" and got["complete"] is False
    assert got["expected_s"] == 127 and got["missing_s"] == 83
    assert [(g["at_s"], g["seconds"], g["reason"]) for g in got["gaps"]] == [
        (12, 30, "agent_down"),
        (44, 20, "disk_full"),  # closed at the stop
        (None, 33, "unexplained"),  # 83 - 30 - 20
    ]
    assert "缺少 83 秒" in page.text
    assert "录像 0:12 处（2026-12-04 16:00）缺 30 秒：教室代理程序未在运行" in page.text
    assert "录像 0:44 处（2026-12-04 16:01）缺 20 秒：教室电脑磁盘已满" in page.text
    assert "另有 33 秒缺失，教室未报告原因" in page.text
    assert "At 0:12 in the recording (2026-12-04 16:00), 30 s missing" in english.text
