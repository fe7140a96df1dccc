"""Image bombs: a small file whose header promises a huge picture is refused from its header,
before anything decodes it — at the kiosk's socket, at enrolment and as courseware — and the
portal's memory does not grow. An empty frame is a clear refusal too."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from websockets.sync.client import connect

from classroom.db.models import DeviceKind
from classroom.devices import create_device
from classroom.images import (
    CAMERA_FRAME,
    COURSEWARE_IMAGE,
    ENROLMENT_PHOTO,
    ImageRefused,
    check_image,
    decode_bounded,
    image_size,
)
from tests.face_helpers import BLANK, OBAMA
from tests.live_stack import LiveStack


def png_bomb(width: int, height: int) -> bytes:
    """A valid grey PNG of ``width``×``height`` zeros: a few dozen KiB that decode to
    width×height bytes and more."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte, then the row
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_sizes_come_from_the_header() -> None:
    jpeg = cv2.imencode(".jpg", np.zeros((120, 200, 3), np.uint8))[1].tobytes()
    png = cv2.imencode(".png", np.zeros((30, 40), np.uint8))[1].tobytes()
    assert image_size(jpeg) == (200, 120)
    assert image_size(png) == (40, 30)
    assert image_size(png_bomb(8000, 10)) == (8000, 10)
    assert image_size(b"GIF89a") is None and image_size(b"\xff\xd8\xff") is None
    assert check_image(jpeg, CAMERA_FRAME) == (200, 120)
    for data, code in ((b"", "empty"), (b"%PDF-1.4", "not_an_image")):
        with pytest.raises(ImageRefused) as refused:
            decode_bounded(data, CAMERA_FRAME)
        assert refused.value.code == code
    for bound, (w, h) in (
        (CAMERA_FRAME, (1921, 1000)),
        (CAMERA_FRAME, (1920, 1200)),  # each side fits, the area does not
        (ENROLMENT_PHOTO, (6000, 6000)),
        (COURSEWARE_IMAGE, (16000, 16000)),
    ):
        with pytest.raises(ImageRefused) as refused:
            check_image(
                png_bomb(w, 1)[:33].replace(struct.pack(">I", 1), struct.pack(">I", h)), bound
            )
        assert refused.value.code == "too_large", (w, h)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_image_bombs_are_refused_before_decoding(live: LiveStack) -> None:
    assert live.portal is not None
    pid = live.portal.pid

    async def kiosk(db):  # type: ignore[no-untyped-def]
        _, token = await create_device(db, live.world.classroom_id, DeviceKind.KIOSK, "bomb")
        return token

    token = live.db(kiosk)
    trainer = live.login("trainer")
    officer = live.login("officer1").get("/api/v1/me").json()["id"]

    def enrol(frames: list[bytes]) -> dict[str, object]:
        files = [("frames", (f"f{i}.png", f, "image/png")) for i, f in enumerate(frames)]
        r = trainer.post(f"/api/v1/people/{officer}/face", files=files, data={"consent": "true"})
        assert r.status_code == 422, r.text
        detail: dict[str, object] = r.json()["detail"]
        return detail

    ws_url = live.url.replace("http://", "ws://") + "/api/v1/kiosk/ws"
    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"token": token}))
        assert json.loads(ws.recv(10))["state"] == "ready"
        ws.send(BLANK)  # the face engine is loaded before anything is measured
        assert json.loads(ws.recv(30))["state"] in ("idle", "no_session")
        assert enrol([OBAMA[0], BLANK, OBAMA[1]])["code"] == "no_face"
        before = _rss(pid)
        ws.send(png_bomb(8000, 8000))
        assert json.loads(ws.recv(10)) == {"state": "bad_frame", "code": "too_large"}
        ws.send(b"")  # an empty frame is no frame: nothing to answer, nothing broken
        ws.send(BLANK)
        assert json.loads(ws.recv(30))["state"] in ("idle", "no_session")
    bomb = png_bomb(6000, 6000)
    detail = enrol([bomb, bomb, bomb])
    assert detail["code"] == "too_large" and detail["frame"] == 1
    assert enrol([b"", OBAMA[0], OBAMA[1]])["code"] == "empty"
    r = trainer.post(
        "/api/v1/courses/1/courseware",
        files={"file": ("slide.png", png_bomb(16000, 16000), "image/png")},
    )
    assert r.status_code == 415 and "16000×16000" in r.json()["detail"], r.text
    grown = _rss(pid) - before
    assert grown < 50 * 1024**2, f"the portal grew by {grown / 1024**2:.0f} MB"
