"""Frames made from the real face photos and videos in tests/data/faces (see its ATTRIBUTION.md):
stills, a head that turns, and .y4m files of them for Chromium's fake camera or the agent's door
camera."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import av
import cv2
import httpx
import numpy as np

from streaming.ffmpeg_bin import resolve_ffmpeg

FACES = Path(__file__).parent / "data" / "faces"


def fit(image: np.ndarray, w: int = 640, h: int = 480) -> np.ndarray:
    scale = min(w / image.shape[1], h / image.shape[0])
    small = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    canvas = np.full((h, w, 3), 40, np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
    return canvas


def y4m(out: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """A .y4m for Chromium's fake camera, from BGR frames."""
    raw = b"".join(f.tobytes() for f in frames)
    subprocess.run(
        [
            resolve_ffmpeg(),
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            "640x480",
            "-r",
            str(fps),
            "-i",
            "-",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(out),
        ],
        input=raw,
        check=True,
    )
    return out


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(FACES / f"{name}.jpg"))
    assert image is not None
    if image.shape[0] > 2 * image.shape[1]:  # a full-length portrait: the head and shoulders
        image = image[: image.shape[1]]
    return fit(image)


def clip(name: str, first: int = 0, last: int = 10**9, every: int = 5) -> list[np.ndarray]:
    """Frames ``first`` to ``last`` of a 25 fps test video, every ``every``-th (5: the kiosk's
    five frames a second), fit to 640×480."""
    frames = []
    with av.open(str(FACES / f"{name}.mp4")) as video:
        for i, frame in enumerate(video.decode(video=0)):
            if i > last:
                break
            if i >= first and (i - first) % every == 0:
                frames.append(fit(frame.to_ndarray(format="bgr24")))
    return frames


# A man at his webcam (tests/data/faces/ATTRIBUTION.md) looking straight, then turning his head
# about 15° to his left (the image's right) and back: frames of cap13_edit2 at 5 fps. And the
# same man in another recording turning to his right, then to his left: frames of cap12_edit.
def one_way_turn() -> list[np.ndarray]:
    return clip("cap13_edit2", 440, 590)


def both_ways_turn() -> list[np.ndarray]:
    return clip("cap12_edit", 900, 1010)


def as_jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def him() -> list[bytes]:
    """Three frames of the man looking straight, seconds apart in one recording (cap13_edit2),
    as JPEGs to enrol him with: sharp enough, and not so alike as to count as one picture (of
    this recording's sharp frames, 43% of pairs are)."""
    frames = clip("cap13_edit2", 40, 640, every=120)  # frames 40, 160, …, 640
    return [as_jpeg(frames[i]) for i in (0, 2, 5)]


def real_turns(tmp: Path) -> Path:
    """The man looking straight (on his sharpest frames), then turning his head a little to his
    right and to his left, for a camera read from a file (12 fps, looped): cap12_edit's frames
    400–560."""
    return y4m(tmp / "turns.y4m", clip("cap12_edit", 400, 560, every=2), fps=12)


def jpeg(name: str, width: int = 640) -> bytes:
    image = cv2.imread(str(FACES / f"{name}.jpg"))
    h, w = image.shape[:2]
    return as_jpeg(cv2.resize(image, (width, h * width // w)))


BLANK = cv2.imencode(".png", np.full((480, 640, 3), 90, np.uint8))[1].tobytes()
OBAMA = [jpeg("obama"), jpeg("obama_partial_face"), jpeg("obama2")]


async def enroll(
    client: httpx.AsyncClient, pid: int, frames: list[bytes], consent: bool = True
) -> httpx.Response:
    files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
    return await client.post(
        f"/api/v1/people/{pid}/face", files=files, data={"consent": str(consent).lower()}
    )


def turned_plane(image: np.ndarray, degrees: float, roll: float = 0.0) -> np.ndarray:
    """A photo held up and turned ``degrees`` about its vertical axis (seen in perspective from
    800 px, a webcam's focal length at 640 px), then rolled ``roll`` degrees in the image."""
    h, w = image.shape[:2]
    a, f = math.radians(degrees), 800.0
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    seen = []
    for x, y in corners:
        px, pz = (x - w / 2) * math.cos(a), f - (x - w / 2) * math.sin(a)
        seen.append([f * px / pz + w / 2, f * (y - h / 2) / pz + h / 2])
    plane = cv2.warpPerspective(
        image, cv2.getPerspectiveTransform(corners, np.float32(seen)), (w, h), borderValue=(40,) * 3
    )
    rolled = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
    return cv2.warpAffine(plane, rolled, (w, h), borderValue=(40, 40, 40))


def bent(image: np.ndarray, degrees: float) -> np.ndarray:
    """A photo folded down its middle, each half turned ``degrees`` away (a V seen from its
    open side, from 800 px)."""
    h, w = image.shape[:2]
    a, f = math.radians(degrees), 800.0
    xo = np.arange(w, dtype=np.float64) - w / 2
    u = xo * f / (f * math.cos(a) - np.abs(xo) * math.sin(a))  # the sheet's x seen at column xo
    depth = f + np.abs(u) * math.sin(a)
    map_x = np.tile((u + w / 2).astype(np.float32), (h, 1))
    map_y = ((np.arange(h)[:, None] - h / 2) * depth[None, :] / f + h / 2).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderValue=(40, 40, 40))


def on_screen(image: np.ndarray) -> np.ndarray:
    """The photo on a phone held up close to the camera, zoomed to the face: the screen's fewer
    pixels, its RGB stripes beating against the camera's (moiré), its lower contrast, and a black
    bezel around it, the room behind."""
    h, w = image.shape[:2]
    sw, sh = w // 2, h * 9 // 10  # the phone upright, filling the frame's height
    zoomed = image[h // 10 : h * 9 // 10, w // 2 - w * 4 // 15 : w // 2 + w * 4 // 15]
    shown = cv2.resize(
        cv2.resize(zoomed, (sw // 2, sh // 2)), (sw, sh), interpolation=cv2.INTER_NEAREST
    )
    stripes = np.array([0.82, 1.0, 0.9], np.float32)[np.arange(sw) % 3][None, :, None]
    shown = (shown.astype(np.float32) * stripes * 0.8 + 30).clip(0, 255).astype(np.uint8)
    room = np.full_like(image, 90)
    x, y, bezel = (w - sw) // 2, (h - sh) // 2, 12
    room[max(0, y - bezel) : y + sh + bezel, x - bezel : x + sw + bezel] = 10
    room[y : y + sh, x : x + sw] = shown
    return room


def photo_attacks(image: np.ndarray) -> list[np.ndarray]:
    """One photo shown as the presentation attacks seen to beat the nose-in-image-x measure:
    rolled 25–35° either way (alone and turned 30° too), turned 35–60° about its vertical axis
    either way, and bent."""
    return [
        *(turned_plane(image, 0, roll) for roll in (25, 30, 35, -25, -30, -35)),
        *(turned_plane(image, 30, roll) for roll in (35, -35)),
        *(turned_plane(image, deg) for deg in (35, 55, 60, -35, -55, -60)),
        *(bent(image, deg) for deg in (30, 45)),
    ]


SCREEN_MOVES = ((0, 20), (0, 25), (0, 30), (0, 35), (30, 25), (30, 35), (40, 0), (50, 0))


def screen_attacks(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The photo on a phone's screen: first held straight (the frontal frame the challenge
    counts from), then rolled 20–35°, turned 30° and rolled, or turned 40–50°, either way."""
    phone = on_screen(image)
    return [
        (phone, turned_plane(phone, deg * side, roll * side))
        for deg, roll in SCREEN_MOVES
        for side in (1, -1)
    ]
