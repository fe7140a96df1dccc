"""Check-in by the agent's own door camera, with or without the portal.

The portal hands the agent the face gallery (the enrolled officers' embeddings, never photos) and
the agent keeps it on disk, readable by itself only, so that a network cut or a restart leaves it
able to recognise people. A face that matches someone enrolled must then turn the head, either
way, within a few seconds (``HeadTurnChallenge(side=0)``): with no screen at the door to ask for a
side, the check is the parallax a printed photo or a phone held up cannot show. Each check-in is a
report with its own UUID through the agent's outbox, stored by the portal exactly once.

A person deleted from face recognition on the portal leaves the agent's gallery at its next sync,
and until then the portal refuses their camera check-ins (not enrolled).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import structlog

from classroom.agent.client import PortalClient, PortalRefused, PortalRejected, PortalUnavailable
from classroom.agent.health import Health
from classroom.agent.reports import Report
from classroom.faces.engine import FaceEngine
from classroom.faces.gallery import Gallery
from classroom.faces.liveness import WINDOW_S, HeadTurnChallenge, seen_pose
from classroom.faces.quality import probe_refusal
from classroom.protocol.messages import CHECKIN_PATH, Checkin
from classroom.protocol.messages import Gallery as GalleryMessage
from hardware.sources import CameraSource
from streaming.frames import camera_frames

log = structlog.get_logger(__name__)

MIN_FACE_PX = 60  # as at the kiosk: smaller faces are too far from the door to judge


class DoorGallery:
    """The portal's gallery as last received, and its cached copy in ``path`` (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.gallery = Gallery()
        self.version = ""
        self.people = 0
        if path.exists():
            try:
                self._use(GalleryMessage.model_validate_json(path.read_bytes()))
            except (ValueError, binascii.Error) as exc:  # ValidationError is a ValueError
                log.warning("door.gallery_cache_unreadable", error=str(exc)[:200])

    def _use(self, data: GalleryMessage) -> None:
        rows = [
            (p.id, np.frombuffer(base64.b64decode(v), "<f4").copy())
            for p in data.people
            for v in p.embeddings
        ]
        self.gallery = Gallery(data.threshold, data.margin)
        self.gallery.load(rows)
        self.people = len(data.people)
        self.version = data.version

    def replace(self, data: GalleryMessage) -> None:
        """A new gallery from the portal: used at once, then cached (written aside, renamed)."""
        self._use(data)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(data.model_dump_json())
        tmp.replace(self.path)
        log.info("door.gallery", people=self.people, version=self.version[:12])


@dataclass
class DoorWatch:
    """Frames in, people who passed the head turn out: at most once per ``cooldown_s`` each."""

    engine: FaceEngine
    gallery: DoorGallery
    cooldown_s: float = 60.0
    challenge: HeadTurnChallenge | None = None
    quiet_until: dict[int, float] = field(default_factory=dict)

    def look(self, frame: np.ndarray, now: float | None = None) -> int | None:
        now = time.monotonic() if now is None else now
        faces = self.engine.detect(frame)
        ch = self.challenge
        turning = ch is not None and now - ch.started <= WINDOW_S
        if not faces or probe_refusal(frame, faces[0], MIN_FACE_PX, turning) is not None:
            return None  # too far, or too soft to judge: the next frame may be better
        face = faces[0]
        match = self.gallery.gallery.best(self.engine.embed(frame, face))
        if match is None:
            return None  # nobody clear: a stranger, or a look away mid-turn
        pid = match.person_id
        if ch is None or not turning or ch.person_id != pid:
            if turning:
                return None  # another face while someone turns (on a frame that may be soft)
            if now < self.quiet_until.get(pid, 0.0):
                return None  # checked in a moment ago: still walking past the door
            ch = self.challenge = HeadTurnChallenge(pid, now, side=0)
        seen = seen_pose(self.engine, frame, face)
        if seen is None or ch.feed(seen, now) != "passed":
            return None
        self.challenge = None
        self.quiet_until[pid] = now + self.cooldown_s
        return pid


class DoorDesk:
    """The agent's door camera: keeps the gallery in step with the portal and turns the people
    the camera sees into check-in reports."""

    def __init__(
        self,
        portal: PortalClient,
        report: Report,
        health: Health,
        ffmpeg: str,
        camera: CameraSource,
        workdir: Path,
        sync_s: float,
        fps: float = 5.0,
    ) -> None:
        self.portal, self.report, self.health = portal, report, health
        self.ffmpeg, self.camera, self.sync_s, self.fps = ffmpeg, camera, sync_s, fps
        self.gallery = DoorGallery(workdir / "face-gallery.json")
        self.checked_in = 0

    async def serve(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._sync())
            group.create_task(self._watch())

    async def sync_once(self) -> bool:
        """Ask for a newer gallery; False when the portal did not answer (the cache rules)."""
        try:
            data = await self.portal.gallery(self.gallery.version)
        except PortalUnavailable as exc:
            log.info(
                "door.gallery_unreachable", error=str(exc)[:200], cached=self.gallery.version != ""
            )
            return False
        if data is not None:
            await asyncio.to_thread(self.gallery.replace, data)
        return True

    async def _sync(self) -> None:
        while True:
            try:
                await self.sync_once()
                self.health.clear("door_gallery")
            except (PortalRefused, PortalRejected, ValueError, KeyError, TypeError) as exc:
                # Refused, or an answer this agent cannot read: keep the cached one, and say so.
                self.health.raise_alert("door_gallery", f"face gallery: {exc}"[:300])
            await asyncio.sleep(self.sync_s)

    async def _watch(self) -> None:
        engine = await asyncio.to_thread(FaceEngine)
        watch = DoorWatch(engine, self.gallery)
        while True:
            try:
                frames = camera_frames(self.ffmpeg, self.camera.ffmpeg_input(), fps=self.fps)
                async with contextlib.aclosing(frames):  # ffmpeg ends here, cancelled or not
                    async for frame in frames:
                        self.health.clear("door_camera")
                        person = await asyncio.to_thread(watch.look, frame)
                        if person is not None:
                            await self._checked_in(person)
                raise RuntimeError("the door camera's stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unplugged, a network camera away: say so, try again
                self.health.raise_alert("door_camera", f"door camera: {exc}"[:300])
                log.warning("door.camera_failed", error=str(exc)[:200])
            await asyncio.sleep(5)

    async def _checked_in(self, person_id: int) -> None:
        self.checked_in += 1
        log.info("door.seen", person=person_id)  # the id, not the name: logs are not the register
        seen = Checkin(
            event_uid=uuid.uuid4(), method="face", person_id=person_id, at=datetime.now(UTC)
        )
        await self.report(CHECKIN_PATH, seen)
