"""A recording is watchable at Stop: the agent's playable report (its segments in the store and
the HLS playlist over them) lets people play it, open a view and find it in the library while
the MP4 is still being made; a playlist the store does not hold is refused; and a recording
whose MP4 then cannot be made stays watchable, its error kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classroom.runtime import Services
from streaming.vod import VodSegment, hls_playlist
from tests.api_helpers import Portal, make_portal

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_a_recording_plays_at_stop_before_its_mp4(portal: Portal) -> None:
    sid = portal.world.session_id
    store = portal.services.store
    async with portal.as_user("trainer") as trainer:
        rid = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()["id"]
    prefix = f"recordings/session-{sid}/recording-{rid}/"
    names = ["r0001-00000.ts", "r0001-00001.ts", "r0001-00002.ts"]
    for name in names:
        store.put_bytes(f"{prefix}segments/{name}", b"\x47" + b"\0" * 187, "video/mp2t")
    playlist = hls_playlist([VodSegment(n, 4.0) for n in names]).encode()
    info = store.put_bytes(f"{prefix}index.m3u8", playlist, "application/vnd.apple.mpegurl")
    hls = {"object_key": f"{prefix}index.m3u8", "size_bytes": info.size, "sha256": info.sha256}
    report = {
        "segment_keys": [f"{prefix}segments/{n}" for n in names],
        "duration_s": 12.0,
        "tracks": {"hls": hls},
    }
    async with portal.agent() as agent:
        base = f"/api/v1/agent/recordings/{rid}"
        early = await agent.post(f"{base}/playable", json=report)
        assert early.status_code == 409  # still recording: the stop comes first
        await agent.post(f"{base}/started", json={"at": T0.isoformat()})
        stop = T0 + timedelta(seconds=12)
        assert (await agent.post(f"{base}/stopped", json={"at": stop.isoformat()})).is_success
        wrong = {**report, "tracks": {"hls": {**hls, "sha256": "0" * 64}}}
        assert (await agent.post(f"{base}/playable", json=wrong)).status_code == 409
        none = {**report, "tracks": {}}
        assert (await agent.post(f"{base}/playable", json=none)).status_code == 409
        r = await agent.post(f"{base}/playable", json=report)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["state"] == "processing" and got["playable"] and got["playable_at"]
        assert got["duration_s"] == 12.0 and got["missing_s"] == 0
        again = await agent.post(f"{base}/playable", json=report)  # said twice: the same
        assert again.json()["playable_at"] == got["playable_at"]

    async with portal.as_user("officer1") as officer:
        r = await officer.get(f"/api/v1/recordings/{rid}/hls/camera/index.m3u8")
        assert r.status_code == 200 and names[0] in r.text
        assert (await officer.get(f"/api/v1/recordings/{rid}/hls/camera/{names[1]}")).is_success
        assert (await officer.get(f"/api/v1/recordings/{rid}/media")).status_code == 409
        view = await officer.post(f"/api/v1/recordings/{rid}/views")
        assert view.status_code == 201, view.text
        page = await officer.get(f"/recordings/{rid}")
        assert page.status_code == 200 and 'id="finishing"' in page.text
        assert 'id="player"' in page.text
        library = await officer.get("/recordings?to_watch=true")
        assert f'href="/recordings/{rid}"' in library.text

    async with portal.agent() as agent:  # the MP4 could not be made: still watchable
        r = await agent.post(f"{base}/failure", json={"error": "join failed"})
        assert r.json()["state"] == "available" and r.json()["error"] == "join failed"
    async with portal.as_user("officer1") as officer:
        r = await officer.get(f"/api/v1/recordings/{rid}/hls/camera/index.m3u8")
        assert r.status_code == 200
        mp4 = await officer.get(f"/api/v1/recordings/{rid}/media")
        assert mp4.status_code == 409 and "no MP4" in mp4.json()["detail"]
        page = await officer.get(f"/recordings/{rid}")
        assert 'id="player"' in page.text and 'id="finishing"' not in page.text


async def test_a_recording_never_playable_fails(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        rid = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()["id"]
    async with portal.agent() as agent:
        base = f"/api/v1/agent/recordings/{rid}"
        await agent.post(f"{base}/started", json={"at": T0.isoformat()})
        await agent.post(f"{base}/stopped", json={"at": (T0 + timedelta(seconds=9)).isoformat()})
        r = await agent.post(f"{base}/failure", json={"error": "no valid segment was recorded"})
    assert r.json()["state"] == "failed" and not r.json()["playable"]
