"""The agent's door camera: the face gallery it gets from the portal (agents only, embeddings
only, cached on its disk), the head turn a held-up photo cannot make, and check-ins it takes
while the portal is unreachable, stored exactly once when it is back."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import event, select

from classroom.agent.door import DoorGallery, DoorWatch
from classroom.db.models import Attendance, AttendanceSource, Device, DeviceKind, Person
from classroom.devices import create_device
from classroom.faces.engine import FaceEngine
from classroom.protocol.messages import Gallery
from classroom.runtime import Services
from hardware.cameras import FileCamera
from hardware.sources import FfmpegInput
from storage.seaweed import S3Connection
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.frames import camera_frames
from tests.agent_helpers import Cuttable, running_agent, until
from tests.api_helpers import Portal, make_portal
from tests.face_helpers import (
    OBAMA,
    both_ways_turn,
    enroll,
    him,
    photo,
    photo_attacks,
    real_turns,
    screen_attacks,
    turned_plane,
    y4m,
)

pytestmark = pytest.mark.anyio


async def _enrolled(services: Services, frames: list[bytes] = OBAMA) -> tuple[Portal, int]:
    """The demo world with officer1 enrolled from these photos (the Obama ones)."""
    portal = await make_portal(services)
    async with services.sessionmaker() as db:
        pid = await db.scalar(select(Person.id).where(Person.username == "officer1"))
    assert pid is not None
    async with portal.as_user("manager") as manager:
        assert (await enroll(manager, pid, frames)).status_code == 201
    return portal, pid


async def test_the_gallery_goes_to_agents_only(services: Services) -> None:
    portal, pid = await _enrolled(services)
    async with portal.agent() as agent:
        r = await agent.get("/api/v1/agent/gallery")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        data = r.json()
        assert [p["id"] for p in data["people"]] == [pid]
        assert data["threshold"] == services.settings.faces.match_threshold
        vectors = [
            np.frombuffer(base64.b64decode(v), "<f4") for v in data["people"][0]["embeddings"]
        ]
        assert len(vectors) == 3 and all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in vectors)
        etag = r.headers["etag"]
        statements: list[str] = []

        def seen(*args: object) -> None:
            statements.append(str(args[2]))  # (conn, cursor, statement, …)

        watch = services.engine.sync_engine
        event.listen(watch, "before_cursor_execute", seen)
        try:
            same = await agent.get("/api/v1/agent/gallery", headers={"If-None-Match": etag})
        finally:
            event.remove(watch, "before_cursor_execute", seen)
        assert same.status_code == 304 and not same.content
        # Nothing changed: answered without reading the embeddings themselves.
        assert statements and not any("face_embeddings.vector" in q for q in statements)
    async with services.sessionmaker() as db:
        officer = await db.get(Person, pid)
        assert officer is not None
        officer.display_name = "张队员（改名）"
        await db.commit()
    async with portal.agent() as agent:
        renamed = await agent.get("/api/v1/agent/gallery", headers={"If-None-Match": etag})
        assert renamed.status_code == 200 and renamed.headers["etag"] != etag
        assert renamed.json()["people"][0]["name"] == "张队员（改名）"
        etag = renamed.headers["etag"]
    async with services.sessionmaker() as db:
        _, kiosk_token = await create_device(db, portal.world.classroom_id, DeviceKind.KIOSK, "k")
        await db.commit()
    async with portal.client(headers={"Authorization": f"Bearer {kiosk_token}"}) as kiosk:
        assert (await kiosk.get("/api/v1/agent/gallery")).status_code == 403
    async with portal.client() as anonymous:
        assert (await anonymous.get("/api/v1/agent/gallery")).status_code == 401
    async with portal.as_user("manager") as manager:
        assert (await manager.get("/api/v1/agent/gallery")).status_code == 401
        assert (await manager.delete(f"/api/v1/people/{pid}/face")).status_code == 204
    async with portal.agent() as agent:
        r = await agent.get("/api/v1/agent/gallery", headers={"If-None-Match": etag})
        assert r.status_code == 200 and r.json()["people"] == []  # deleted: gone at next sync
        # A check-in the agent took before it heard of the deletion is not counted.
        late = await agent.post(
            "/api/v1/agent/checkin",
            json={
                "event_uid": str(uuid.uuid4()),
                "method": "face",
                "person_id": pid,
                "at": datetime.now(UTC).isoformat(),
            },
        )
        assert late.json()["result"] == "not_enrolled"
        for bad in (
            {"method": "face", "card_no": "0004471234"},
            {"method": "card", "person_id": pid},
        ):
            r = await agent.post(
                "/api/v1/agent/checkin",
                json={"event_uid": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(), **bad},
            )
            assert r.status_code == 422


async def test_a_turning_head_checks_in_and_a_photo_does_not(
    services: Services, tmp_path: Path
) -> None:
    portal, pid = await _enrolled(services)
    async with portal.agent() as agent:
        data = (await agent.get("/api/v1/agent/gallery")).json()
    gallery = DoorGallery(tmp_path / "gallery.json")
    gallery.replace(Gallery.model_validate(data))
    assert stat.S_IMODE((tmp_path / "gallery.json").stat().st_mode) == 0o600  # biometric data
    cached = DoorGallery(tmp_path / "gallery.json")  # as after a restart, portal or not
    assert cached.version == data["version"] and len(cached.gallery) == 3
    watch = DoorWatch(FaceEngine(), cached, cooldown_s=60)

    def seen(frames: list[np.ndarray], start: float) -> list[int]:
        got = [watch.look(f, start + i * 0.2) for i, f in enumerate(frames)]
        return [p for p in got if p is not None]

    obama, turned, biden = photo("obama"), photo("obama2"), photo("biden")
    assert seen([obama] * 25, 0.0) == []  # a photo held up: never turns
    tilted = [
        cv2.warpAffine(obama, cv2.getRotationMatrix2D((320, 240), a, 1.0), (640, 480))
        for a in (-8, 8, -8, 8)
    ]
    assert seen(tilted * 3, 10.0) == []  # tilted or moved, the nose stays between the eyes
    assert seen([biden] * 10, 20.0) == []  # not enrolled
    assert seen([obama, obama, turned, turned], 30.0) == [pid]  # frontal, then a turn
    assert seen([obama, turned] * 5, 32.0) == []  # checked in a moment ago: still at the door
    assert seen([obama, turned], 100.0) == [pid]  # much later: again
    # The photo rolled, turned about its vertical axis or bent, each after the frontal photo
    attacked = [
        frame for attack in photo_attacks(obama) for frame in (obama, obama, attack, attack)
    ]
    assert seen(attacked, 1000.0) == []
    # A frontal photo whose landmarks read a slant as a turn (0.25 at 55°): far narrower, refused
    partial = photo("obama_partial_face")
    slanted = [
        f
        for d in (50, 55, 60, -50, -55, -60)
        for f in (partial, partial, turned_plane(partial, d), turned_plane(partial, d))
    ]
    assert seen(slanted, 1500.0) == []
    # On a phone's screen: held straight, then rolled or turned
    on_phone = [
        f for front, attack in screen_attacks(obama) for f in (front, front, attack, attack)
    ]
    assert seen(on_phone, 2000.0) == []


async def test_a_real_head_turn_checks_in_and_a_photo_of_him_does_not(
    services: Services, tmp_path: Path
) -> None:
    """A man enrolled from three frames of one webcam recording turns his head in another: he is
    checked in. A frame of him looking straight, printed or on a phone and moved: never."""
    portal, pid = await _enrolled(services, him())
    async with portal.agent() as agent:
        data = (await agent.get("/api/v1/agent/gallery")).json()
    gallery = DoorGallery(tmp_path / "gallery.json")
    gallery.replace(Gallery.model_validate(data))
    watch = DoorWatch(FaceEngine(), gallery, cooldown_s=60)

    def seen(frames: list[np.ndarray], start: float) -> list[int]:
        got = [watch.look(f, start + i * 0.2) for i, f in enumerate(frames)]
        return [p for p in got if p is not None]

    turning = both_ways_turn()
    front = turning[0]
    assert seen([front] * 40, 0.0) == []  # held up still
    shown = [(front, attack) for attack in photo_attacks(front)] + screen_attacks(front)
    assert seen([f for first, attack in shown for f in (first, first, attack, attack)], 10.0) == []
    assert seen(turning, 100.0) == [pid]


async def test_file_camera_frames(tmp_path: Path) -> None:
    clip = y4m(tmp_path / "clip.y4m", [photo("obama")] * 5, fps=10)
    frames = []
    source = camera_frames(resolve_ffmpeg(), FileCamera(str(clip)).ffmpeg_input(), fps=5)
    async with contextlib.aclosing(source):
        async for frame in source:
            frames.append(frame)
            if len(frames) == 4:  # looped: the clip is only half a second long
                break
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)


async def test_camera_frames_stop_while_ffmpeg_is_ahead() -> None:
    """The door stops looking while ffmpeg has frames waiting in the pipe (the reader paused
    it, full): stopping still ends ffmpeg and returns, instead of waiting forever for a
    process that asyncio reaps only once its pipes are closed."""
    fast = FfmpegInput("testsrc2=size=640x480:rate=60", {"f": "lavfi"})  # not paced: ahead
    source = camera_frames(resolve_ffmpeg(), fast, fps=60)
    async with asyncio.timeout(20):
        async with contextlib.aclosing(source):
            async for _ in source:
                await asyncio.sleep(1.0)  # the pipe and the reader's buffer fill meanwhile
                break


@pytest.mark.slow
async def test_door_check_ins_while_offline_arrive_exactly_once(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """The agent gets the gallery, goes down, comes back with the network cut: the door camera
    still knows officer1 from its cached gallery, queues the check-in, and the portal stores it
    once when the network is back."""
    portal, pid = await _enrolled(services, him())
    blank = y4m(tmp_path / "blank.y4m", [np.full((480, 640, 3), 40, np.uint8)] * 10)
    door = real_turns(tmp_path)

    async def door_rows() -> list[Attendance]:
        async with services.sessionmaker() as db:
            rows = await db.scalars(
                select(Attendance).where(Attendance.source == AttendanceSource.AGENT)
            )
            return list(rows)

    async with running_agent(
        portal, s3, bucket, tmp_path / "agent", media={"door_camera": f"file:{blank}"}
    ) as agent:
        assert agent.door is not None
        await until(lambda: agent.door is not None and agent.door.gallery.version, what="gallery")
    net = Cuttable(portal.transport)
    net.down = True
    async with running_agent(
        portal,
        s3,
        bucket,
        tmp_path / "agent",
        media={"door_camera": f"file:{door}"},
        transport=net,
    ) as agent:
        assert agent.door is not None and len(agent.door.gallery.gallery) == 3  # from its disk
        await until(lambda: agent.outbox.depth()[0] >= 1, within_s=60, what="a door check-in")
        assert await door_rows() == []
        back_at = datetime.now(UTC)
        net.down = False
        await until(lambda: agent.outbox.depth()[0] == 0, within_s=60, what="delivery")
        await asyncio.sleep(3)  # the face is still at the door: no second check-in
        assert agent.door.checked_in == 1
        door_status = {
            "gallery_people": 1,
            "gallery_version": agent.door.gallery.version[:12],
            "checked_in": 1,
        }
        assert agent.status()["door_camera"] == door_status
        for _ in range(100):  # and the portal has it from the heartbeat
            async with services.sessionmaker() as db:
                device = await db.scalar(
                    select(Device).where(
                        Device.classroom_id == portal.world.classroom_id,
                        Device.kind == DeviceKind.AGENT,
                    )
                )
            if device and device.status and device.status.get("door_camera") == door_status:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"heartbeat without the door camera: {device and device.status}")
    rows = await door_rows()
    assert [(r.person_id, r.session_id) for r in rows] == [(pid, portal.world.session_id)]
    assert rows[0].reason.startswith("face") and rows[0].check_in < back_at
