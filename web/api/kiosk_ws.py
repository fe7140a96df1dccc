"""The kiosk's camera channel: small JPEG frames in over a WebSocket, states out.

The first message is the kiosk's token (a browser cannot set headers on a WebSocket); a wrong,
unknown or revoked one closes the socket with 4401. Then each frame is looked at in turn (frames
that arrive while one is being looked at are dropped): a face that matches someone enrolled gets
a head-turn challenge; the same face passing it is checked into the open session.

In a two-factor classroom the card comes first (sent as a text message on the same socket), and
the face that passes the challenge must be the card holder's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from classroom.audit import audit
from classroom.checkin import CheckinRefused, check_in, open_session, unknown_card
from classroom.db.models import Classroom, Device, DeviceKind, Person
from classroom.db.types import utcnow
from classroom.devices import device_for_token
from classroom.faces.enrollment import person_for_card
from classroom.faces.liveness import WINDOW_S, HeadTurnChallenge, seen_pose
from classroom.faces.quality import probe_refusal
from classroom.images import CAMERA_FRAME, ImageRefused, decode_off_loop
from classroom.runtime import Services
from web.schemas import Id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/kiosk", tags=["kiosk"])

MAX_FRAME_BYTES = 300 * 1024
MIN_FACE_PX = 60
COOL_DOWN_S = 3.0
CARD_VALID_S = 20.0  # two-factor: the face must follow the card within this


class Revoked(Exception):
    pass


class _Kiosk:
    def __init__(
        self, ws: WebSocket, svc: Services, classroom_id: Id, device_id: Id, two_factor: bool
    ) -> None:
        self.ws, self.svc, self.classroom_id = ws, svc, classroom_id
        self.device_id = device_id
        self.two_factor = two_factor
        self.card: tuple[int, float] | None = None  # the card holder, and until when
        self.challenge: HeadTurnChallenge | None = None
        self.quiet_until = 0.0

    async def send(self, state: str, **extra: Any) -> None:
        await self.ws.send_text(json.dumps({"state": state, **extra}, ensure_ascii=False))

    async def text(self, raw: str) -> None:
        """Two-factor classrooms: the card tapped at the kiosk, before the face."""
        try:
            card_no = str(json.loads(raw)["card_no"])[:64]
        except (ValueError, KeyError, TypeError):
            return
        if not self.two_factor:
            return
        async with self.svc.sessionmaker() as db:
            person = await person_for_card(db, card_no)
            if person is None or not person.active:
                await unknown_card(db, self.classroom_id, card_no)
                await db.commit()
                await self.send("unknown_card")
                return
        self.card = (person.id, time.monotonic() + CARD_VALID_S)
        self.challenge = None
        self.quiet_until = 0.0
        await self.send("card_ok", name=person.display_name)

    def _card_holder(self, now: float) -> int | None:
        if self.card is None or now > self.card[1]:
            self.card = None
            return None
        return self.card[0]

    async def frame(self, data: bytes) -> None:
        now = time.monotonic()
        if now < self.quiet_until or len(data) > MAX_FRAME_BYTES:
            return
        async with self.svc.sessionmaker() as db:
            device = await db.get(Device, self.device_id)
            if device is None or device.revoked_at is not None:
                raise Revoked  # revoked while connected: refused at the next frame
        try:
            image = await decode_off_loop(data, CAMERA_FRAME)
        except ImageRefused as exc:
            await self.send("bad_frame", code=exc.code)
            return
        engine = await self.svc.faces.engine()
        faces = await asyncio.to_thread(engine.detect, image)
        if self.challenge is not None and now - self.challenge.started > WINDOW_S:
            await self._failed("timeout")
            return
        if not faces:
            await self.send("idle")
            return
        if len(faces) > 1:
            await self.send("several")
            return
        face = faces[0]
        refusal = probe_refusal(image, face, MIN_FACE_PX, turning=self.challenge is not None)
        if refusal is not None:
            await self.send(refusal)
            return
        embedding = await asyncio.to_thread(engine.embed, image, face)
        window = self.svc.settings.kiosk.open_before
        async with self.svc.sessionmaker() as db:
            session = await open_session(db, self.classroom_id, utcnow(), window)
            if session is None:
                self.quiet_until = now + COOL_DOWN_S
                await self.send("no_session")
                return
            match = await self.svc.faces.match(db, embedding)
            if self.challenge is None:
                if match is None:
                    self.quiet_until = now + COOL_DOWN_S
                    await self.send("unknown")
                    return
                if self.two_factor:
                    holder = self._card_holder(now)
                    if holder is None:
                        await self.send("card_first")
                        return
                    if holder != match.person_id:
                        self.card = None
                        self.quiet_until = now + COOL_DOWN_S
                        await self.send("mismatch")
                        return
                self.challenge = HeadTurnChallenge(match.person_id, now)
                await self.send("challenge", direction=self.challenge.direction)
                return
            if match is None or match.person_id != self.challenge.person_id:
                await self._failed("face changed")  # another face mid-challenge
                return
            seen = await asyncio.to_thread(seen_pose, engine, image, face)
            result = "pending" if seen is None else self.challenge.feed(seen, now)
            if result == "pending":
                await self.send("challenge", direction=self.challenge.direction)
                return
            if result == "failed":
                await self._failed("no turn")
                return
            person = await db.get(Person, self.challenge.person_id)
            assert person is not None
            self.challenge = None
            self.card = None
            self.quiet_until = now + COOL_DOWN_S
            try:
                done = await check_in(db, self.classroom_id, person, "face", window)
            except CheckinRefused as exc:
                await self.send(exc.code)
                return
            await db.commit()
        await self.send(
            "checked_in",
            name=person.display_name,
            already=done.already,
            at=done.attendance.check_in.isoformat(),
            session=done.session.title,
        )

    async def _failed(self, why: str) -> None:
        person = self.challenge.person_id if self.challenge else None
        self.challenge = None
        self.quiet_until = time.monotonic() + COOL_DOWN_S
        async with self.svc.sessionmaker() as db:
            await audit(
                db,
                None,
                "kiosk.liveness_failed",
                f"classroom:{self.classroom_id}",
                why,
                person_id=person,
            )
            await db.commit()
        await self.send("liveness_failed")


@router.websocket("/ws")
async def kiosk_ws(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    await ws.accept()
    try:
        async with asyncio.timeout(10):
            hello = json.loads(await ws.receive_text())
        token = str(hello.get("token", ""))
    except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
        await ws.close(4401)
        return
    async with svc.sessionmaker() as db:
        device = await device_for_token(db, token) if token else None
        if device is None or device.kind != DeviceKind.KIOSK:
            await ws.close(4401)
            return
        room = await db.get(Classroom, device.classroom_id)
        assert room is not None
        device.last_seen_at = utcnow()
        await db.commit()
        kiosk = _Kiosk(ws, svc, room.id, device.id, room.two_factor)
        await kiosk.send("ready", classroom=room.name)
    latest: list[bytes | None] = [None]
    texts: list[str] = []
    arrived = asyncio.Event()

    async def receive() -> None:
        # Keeps only the newest frame: a slow look never builds a backlog of old pictures.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes"):
                    latest[0] = message["bytes"]
                    arrived.set()
                elif message.get("text"):
                    texts.append(message["text"])
                    arrived.set()

    receiver = asyncio.create_task(receive())
    try:
        while not receiver.done():
            waiter = asyncio.create_task(arrived.wait())
            await asyncio.wait({receiver, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            arrived.clear()
            while texts:
                await kiosk.text(texts.pop(0))
            data, latest[0] = latest[0], None
            if data:
                await kiosk.frame(data)
    except Revoked:
        await ws.close(4401)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the kiosk went away mid-answer
    finally:
        receiver.cancel()
