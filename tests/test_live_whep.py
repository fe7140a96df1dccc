"""WHEP through the portal to the classroom's agent: a viewer's offer goes to the agent by its long
poll, the agent's relay answers from the recorder's one encode, and the viewer (a real aiortc
peer) decodes frames; the resource is closed by DELETE. Who may ask: the session's viewers only.
The same encode's HLS is published to the store and served by the portal."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from classroom.db.models import Person, Session, SessionKind
from classroom.db.types import utcnow
from classroom.protocol.layout import live_hls_prefix
from classroom.runtime import Services
from storage.object_store import ObjectNotFound
from storage.seaweed import S3Connection
from streaming.gaps import recording_gaps
from tests.agent_helpers import running_agent, until
from tests.api_helpers import Portal, make_portal, other_squads_course
from tests.live_helpers import Viewer, ffmpeg_processes

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SDP = {"Content-Type": "application/sdp"}
MEDIA = {"video_size": "640x360", "segment_seconds": 2}
SCREEN = {"screen": "synthetic", "screen_size": "320x180", "screen_fps": 5}


async def _other_units_session(portal: Portal) -> int:
    """A session of another squad's course, in the same classroom, not live."""
    async with portal.services.sessionmaker() as db:
        trainer = await db.scalar(select(Person).where(Person.username == "trainer"))
        assert trainer is not None
        unit_id, course_id = await other_squads_course(db)
        later = utcnow() + timedelta(days=30)
        s = Session(
            course_id=course_id,
            classroom_id=portal.world.classroom_id,
            trainer_id=trainer.id,
            unit_id=unit_id,
            kind=SessionKind.OTHER,
            title="别的中队",
            planned_start=later,
            planned_end=later + timedelta(hours=1),
        )
        db.add(s)
        await db.commit()
        return s.id


async def _whep(client: httpx.AsyncClient, sid: int, viewer: Viewer) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{sid}/live/whep", content=await viewer.offer(), headers=SDP
    )


async def _until_live(client: httpx.AsyncClient, sid: int) -> dict[str, Any]:
    """Live once the portal has the agent's acknowledgement of the start (through its outbox)."""
    for _ in range(150):
        info: dict[str, Any] = (await client.get(f"/api/v1/sessions/{sid}/live")).json()
        if info["live"]:
            return info
        await asyncio.sleep(0.2)
    raise AssertionError(f"session {sid} never went live: {info}")


async def test_whep_through_the_portal_to_the_agents_relay(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    portal = await make_portal(services)
    sid = portal.world.session_id
    other_sid = await _other_units_session(portal)
    viewers = [Viewer() for _ in range(3)]
    async with (
        portal.as_user("trainer") as trainer,
        portal.as_user("officer1") as officer1,
        portal.as_user("officer2") as officer2,
        portal.client() as anonymous,
        portal.agent() as agent_token,
        running_agent(
            portal, s3, bucket, tmp_path / "agent", media=MEDIA, agent={"heartbeat_s": 1}
        ) as agent,
    ):
        # Not live yet: nobody to answer.
        assert (await officer1.get(f"/api/v1/sessions/{sid}/live")).json()["live"] is False
        r = await _whep(officer1, sid, Viewer())
        assert r.status_code == 409 and r.json()["detail"]["code"] == "not_live"

        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.recorders, what="the recording")
        info = await _until_live(officer1, sid)
        assert info["recording_id"] == rec["id"]
        assert info["whep"] == f"/api/v1/sessions/{sid}/live/whep"

        # Refused before anything reaches the agent.
        assert (await _whep(anonymous, sid, Viewer())).status_code == 401
        assert (await _whep(agent_token, sid, Viewer())).status_code == 401  # a device, no person
        assert (await _whep(officer1, other_sid, Viewer())).status_code == 403  # not their course
        r = await officer1.post(f"/api/v1/sessions/{sid}/live/whep", content="v=0", headers={})
        assert r.status_code == 415
        big = "v=0\r\n" + "a=x\r\n" * 20_000
        r = await officer1.post(f"/api/v1/sessions/{sid}/live/whep", content=big, headers=SDP)
        assert r.status_code == 413
        r = await officer1.post(f"/api/v1/sessions/{sid}/live/whep", content="hello", headers=SDP)
        assert r.status_code == 400
        r = await officer1.post(
            f"/api/v1/sessions/{sid}/live/whep", content="v=0\r\nno media\r\n", headers=SDP
        )
        assert r.status_code == 409, r.text  # the agent's relay finds no video to send

        # Create: 201, the answer, the resource's URL; ICE connects and frames decode.
        r = await _whep(officer1, sid, viewers[0])
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/sdp")
        location = r.headers["location"]
        assert location.startswith(f"/api/v1/sessions/{sid}/live/whep/")
        await viewers[0].accept(r.text)
        await until(lambda: viewers[0].frames >= 30, 30, "frames through the portal's WHEP")
        assert viewers[0].pc.iceConnectionState == "completed"
        assert viewers[0].sizes == {(640, 360)} and viewers[0].audio
        encoders = ffmpeg_processes()
        assert encoders == 1  # the recorder's one ffmpeg

        # More viewers: the agent's relay, not a new encoder.
        for v, who in ((viewers[1], officer2), (viewers[2], trainer)):
            r = await _whep(who, sid, v)
            assert r.status_code == 201, r.text
            await v.accept(r.text)
        await until(lambda: all(v.frames >= 30 for v in viewers), 30, "every viewer's frames")
        assert ffmpeg_processes() == encoders and agent.live.viewers == 3
        assert (await officer1.get(f"/api/v1/sessions/{sid}/live")).json()["viewers"] == 3

        # Trickle ICE is not offered (the offer carries its candidates); someone else's
        # resource cannot be ended, nor one of another session's URL.
        assert (await officer1.patch(location, content="a=x", headers=SDP)).status_code == 405
        assert (await officer2.delete(location)).status_code == 403
        wrong = location.replace(f"/sessions/{sid}/", f"/sessions/{other_sid}/")
        assert (await officer1.delete(wrong)).status_code == 404
        assert (await anonymous.delete(location)).status_code == 401

        # Delete: the agent closes that peer; the others play on.
        assert (await officer1.delete(location)).status_code == 204
        await until(lambda: agent.live.viewers == 2, 10, "the viewer closed at the agent")
        assert (await officer1.delete(location)).status_code == 404
        seen = viewers[1].frames
        await until(lambda: viewers[1].frames >= seen + 30, 15, "frames after one left")

        # HLS of the same encode, published to the store and served to viewers only.
        hls = f"/api/v1/sessions/{sid}/live/hls"
        await until(lambda: _published(services, rec["id"]), 20, "the live playlist")
        r = await officer1.get(f"{hls}/live.m3u8")
        assert r.status_code == 200 and r.text.startswith("#EXTM3U"), r.text
        assert r.headers["cache-control"] == "no-cache"
        segment = next(line for line in r.text.splitlines() if line.endswith(".ts"))
        r = await officer1.get(f"{hls}/{segment}")
        assert r.status_code == 200 and r.content[:1] == b"\x47"  # an MPEG-TS sync byte
        assert (await anonymous.get(f"{hls}/live.m3u8")).status_code == 401
        assert (
            await officer1.get(f"/api/v1/sessions/{other_sid}/live/hls/live.m3u8")
        ).status_code == 403
        assert (await officer1.get(f"{hls}/..%2Fsecret.ts")).status_code == 404

        # A viewer gone without DELETE (a crashed page): the agent drops its peer, and its
        # heartbeat takes it off the portal's count.
        await viewers[2].leave()
        await until(lambda: agent.live.viewers == 1, 30, "the agent dropping the vanished viewer")
        deadline = time.monotonic() + 40
        while (await officer1.get(f"/api/v1/sessions/{sid}/live")).json()["viewers"] != 1:
            assert time.monotonic() < deadline, "the portal still counts the vanished viewer"
            await asyncio.sleep(0.5)

        # Stopped: no longer live, the live copies leave the store.
        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
        await until(lambda: rec["id"] not in agent.capture.recorders, 20, "the recording stopped")
        assert agent.live.viewers == 0
        await until(lambda: not _published(services, rec["id"]), 10, "the live copies removed")
        assert (await _whep(officer1, sid, Viewer())).status_code == 409
    for v in viewers:
        await v.leave()


async def test_a_crowd_beyond_the_bound_plays_hls_and_the_recording_keeps_time(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """The agent relays to its bound of WebRTC viewers; a crowd beyond it is refused at once
    with viewers_full (the page plays the store's HLS), the viewers in keep their frames, and
    the recording runs on in one capture run with no gap."""
    portal = await make_portal(services)
    sid = portal.world.session_id
    inside = [Viewer() for _ in range(2)]
    crowd = [Viewer() for _ in range(24)]
    async with (
        portal.as_user("trainer") as trainer,
        portal.as_user("officer1") as officer1,
        running_agent(
            portal, s3, bucket, tmp_path / "agent", media=MEDIA, live={"webrtc_max_viewers": 2}
        ) as agent,
    ):
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.recorders, what="the recording")
        await _until_live(officer1, sid)
        for v in inside:
            r = await _whep(officer1, sid, v)
            assert r.status_code == 201, r.text
            await v.accept(r.text)
        await until(lambda: all(v.frames >= 30 for v in inside), 30, "the viewers' frames")

        refused = await asyncio.gather(*(_whep(officer1, sid, v) for v in crowd))
        assert {r.status_code for r in refused} == {503}
        assert {r.json()["detail"]["code"] for r in refused} == {"viewers_full"}
        assert agent.live.viewers == 2
        hls = await officer1.get(f"/api/v1/sessions/{sid}/live/hls/live.m3u8")
        for _ in range(50):  # the crowd's way in: the store's HLS
            if hls.status_code == 200:
                break
            await asyncio.sleep(0.2)
            hls = await officer1.get(f"/api/v1/sessions/{sid}/live/hls/live.m3u8")
        assert hls.status_code == 200 and hls.text.startswith("#EXTM3U")
        seen = [v.frames for v in inside]
        await until(
            lambda: all(v.frames >= n + 60 for v, n in zip(inside, seen, strict=True)),
            30,
            "frames for the viewers inside, after the crowd",
        )

        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
        await until(lambda: rec["id"] not in agent.capture.recorders, 20, "the recording stopped")
        workdir = agent.recordings.dir(rec["id"])
        assert len(list((workdir / "cache").glob("run-*"))) == 1  # never stalled, never restarted
        assert recording_gaps(workdir) == []
    for v in inside + crowd:
        await v.leave()


def _published(services: Services, recording_id: int) -> bool:
    try:
        services.store.stat(live_hls_prefix(recording_id) + "live.m3u8")
    except ObjectNotFound:
        return False
    return True


async def test_an_agent_that_does_not_answer_is_a_503(services: Services) -> None:
    """No agent polls: the viewer hears so within the answer timeout, and nothing is left."""
    portal = await make_portal(services)
    services.settings.live.answer_timeout_s = 1
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        await trainer.post(f"/api/v1/sessions/{sid}/recording/start")
        async with portal.agent() as agent:  # the agent confirms, but runs no relay
            (cmd,) = (await agent.get("/api/v1/agent/commands")).json()
            await agent.post(f"/api/v1/agent/commands/{cmd['id']}/ack", json={"ok": True})
        r = await _whep(trainer, sid, Viewer())
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        async with portal.agent() as agent:
            # What timed out is not handed to the agent later.
            assert (await agent.get("/api/v1/agent/live")).json() == []
            r = await agent.post(f"/api/v1/agent/live/{uuid.uuid4().hex}", json={"error": "x"})
            assert r.status_code == 404


async def test_the_screen_goes_live_as_a_second_video(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """With a screen track, a viewer asking for two videos gets the slides from the screen's own
    encode as the second; one asking for one video gets the camera alone."""
    portal = await make_portal(services)
    sid = portal.world.session_id
    both, camera_only = Viewer(screen=True), Viewer()
    async with (
        portal.as_user("trainer") as trainer,
        running_agent(portal, s3, bucket, tmp_path / "agent", media=MEDIA | SCREEN) as agent,
    ):
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.screen_recorders, what="the screen capture")
        await _until_live(trainer, sid)
        encoders = ffmpeg_processes()
        assert encoders == 2  # the camera's and the screen's
        for viewer in (both, camera_only):
            r = await _whep(trainer, sid, viewer)
            assert r.status_code == 201, r.text
            await viewer.accept(r.text)
        await until(lambda: both.frames >= 30 and both.screen_frames >= 5, 30, "both videos")
        await until(lambda: camera_only.frames >= 30, 30, "the camera alone")
        assert both.sizes == {(640, 360)} and both.screen_sizes == {(320, 180)}
        assert camera_only.screen_frames == 0
        assert ffmpeg_processes() == encoders  # the camera's and the screen's: no more
        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
    for viewer in (both, camera_only):
        await viewer.leave()
