"""Liveness: how many presentation attacks pass the head-turn challenge, and how many real head
turns do.

Each attempt is counted three ways in the same run: the portal's challenge (the turn read on the
face's level cut-out and its mirror image, from the median of the person's frontal frames, on a
face still broad enough: classroom/faces/liveness.py), the same without the breadth check, and the
challenge before it (the landmarks of the frame as it came, from the latest frontal frame, 0.20
beyond it on a face 0.70 as broad). Each reads a frame only where it is sharp enough for it: the
portal's frames of a turn down to MIN_TURN_SHARPNESS, the previous one's to MIN_SHARPNESS.

Attacks, each shown after the frontal frame the challenge counts from, to a challenge asking for
either side or for any (the door camera), at the door camera's 640×480 and the kiosk's 480×360:
the frontal photo of the enrolled person rolled 20–40° either way, rolled 25–35° after being
turned 30°, turned 35–60° about its vertical axis either way, and bent 20–45°; the partial-face
photo of the same person turned 35–60° (its landmarks read a slant as a turn); the photo on a
phone's screen (fewer pixels, moiré, lower contrast, a bezel), held straight, then rolled or
turned; and the photo rolled or turned while moved fast (blurred along the motion). With
BENCH_FACES_DIR set to a folder of other people's frontal photos (docs/benchmarks.md names the one
used), each of those turned 35–60° too.

Genuine: a man's real head turns in two webcam recordings (tests/data/faces): each turn, with a
challenge started 1–3 s before it asking for the side he turned and for either side, in the
recording and in its mirror image (the same turn the other way).

Also the kiosk's cost per 640×480 frame with the checks a frame passes before it is judged
(sharpness on the aligned crop, the turn on the level cut-out and its mirror) against the same
frame without them (detect, embed, match against 10,000 enrolled), medians of 60 (goal ≤ 40 ms).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from bench.common import Result, median_of, timed
from classroom.faces.engine import FaceEngine
from classroom.faces.gallery import Gallery
from classroom.faces.liveness import (
    FRONTAL,
    WINDOW_S,
    HeadTurnChallenge,
    Pose,
    pose,
    seen_pose,
)
from classroom.faces.quality import (
    MIN_FACE_PX,
    MIN_SHARPNESS,
    MIN_TURN_SHARPNESS,
    face_sharpness,
    probe_refusal,
)
from tests.face_helpers import bent, clip, fit, photo, screen_attacks, turned_plane

FPS = 5.0  # the frames a second the kiosk sends and the door camera reads
# Each real turn in the test recordings: its first frame (of 25 a second) and its side in the
# image (+1: the nose to the image's right, the man turning to his left).
TURNS = {
    "cap12_edit": [(495, -1), (520, 1), (700, 1), (955, -1), (980, 1)],
    "cap13_edit2": [(505, 1), (560, 1)],
}
LEADS_S = (1.0, 1.4, 1.8, 2.2, 2.6, 3.0)  # how long before the turn the challenge starts
PREVIOUS_TURNED, PREVIOUS_BREADTH = 0.20, 0.70

# What a frame reads as: the portal's pose, the previous challenge's (None: not read).
Reading = tuple[Pose | None, Pose | None]


def read(engine: FaceEngine, frame: np.ndarray) -> Reading:
    found = engine.detect(frame)
    if not found:
        return None, None
    face, sharpness = found[0], face_sharpness(frame, found[0])
    now = seen_pose(engine, frame, face) if sharpness >= MIN_TURN_SHARPNESS else None
    return now, pose(face) if sharpness >= MIN_SHARPNESS else None


def portal_passes(readings: list[Reading], side: int, breadth: bool = True) -> bool:
    challenge = HeadTurnChallenge(1, 0.0, side=side)
    for i, (now, _) in enumerate(readings):
        if now is None:
            continue
        seen = now if breadth else Pose(now.yaw, (1.0, 1.0))
        if challenge.feed(seen, i / FPS) == "passed":
            return True
    return False


def previous_passes(readings: list[Reading], side: int) -> bool:
    frontal: Pose | None = None
    for i, (_, before) in enumerate(readings):
        if before is None or i / FPS > WINDOW_S:
            continue
        if abs(before.yaw) < FRONTAL:
            frontal = before
        elif frontal is not None:
            turn = before.yaw - frontal.yaw
            far_enough = (turn * side if side else abs(turn)) >= PREVIOUS_TURNED
            if far_enough and before.narrowing(frontal) >= PREVIOUS_BREADTH:
                return True
    return False


class Tally:
    """Attempts passed, per kind of attempt: the portal's, without breadth, the previous one."""

    def __init__(self) -> None:
        self.passed: dict[str, list[int]] = {}

    def add(self, name: str, readings: list[Reading], sides: Iterable[int]) -> None:
        row = self.passed.setdefault(name, [0, 0, 0, 0])
        for side in sides:
            row[0] += portal_passes(readings, side)
            row[1] += portal_passes(readings, side, breadth=False)
            row[2] += previous_passes(readings, side)
            row[3] += 1

    def results(self, genuine: Callable[[str], bool]) -> list[Result]:
        out = []
        for name, (now, no_breadth, before, attempts) in self.passed.items():
            unit, better = f"passed of {attempts}", genuine(name)
            out.append(
                Result(f"liveness: {name}", "the portal's", "previous", unit, now, before, better)
            )
            out.append(
                Result(
                    f"liveness: {name}", "the portal's", "no breadth", unit, now, no_breadth, better
                )
            )
        return out


def motion_blurred(image: np.ndarray, px: int = 9) -> np.ndarray:
    kernel = np.zeros((px, px), np.float32)
    kernel[px // 2, :] = 1.0 / px
    return cv2.filter2D(image, -1, kernel)


def attacks(
    front: np.ndarray, partial: np.ndarray
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Each attack as the frontal frame the challenge counts from and the attack's frame."""
    rolls = [r * s for r in (20, 22.5, 25, 27.5, 30, 32.5, 35, 37.5, 40) for s in (1, -1)]
    turns = [d * s for d in (35, 40, 45, 50, 55, 60) for s in (1, -1)]
    return {
        "rolled 20-40°": [(front, turned_plane(front, 0, r)) for r in rolls],
        "turned 30°, rolled 25-35°": [
            (front, turned_plane(front, 30, r)) for r in (25, 35, -25, -35)
        ],
        "turned 35-60°": [(front, turned_plane(front, d)) for d in turns],
        "turned 35-60°, the partial-face photo": [
            (partial, turned_plane(partial, d)) for d in turns
        ],
        "bent 20-45°": [(front, bent(front, d)) for d in (20, 30, 40, 45)],
        "on a phone, rolled 20-35° or turned 30-50°": screen_attacks(front),
        "moved fast (blurred), rolled 20-40° or turned 35-60°": [
            (front, motion_blurred(turned_plane(front, *move)))
            for move in [(0.0, r) for r in rolls[::2]] + [(d, 0.0) for d in turns[::2]]
        ],
    }


def others(
    engine: FaceEngine, folder: Path, sizes: list[Callable[[np.ndarray], np.ndarray]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Other people's frontal photos (as the portal reads them), each turned 35–60° either way."""
    pairs = []
    for path in sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png")):
        image = cv2.imread(str(path))
        if image is None:
            continue
        image = fit(image)
        now, _ = read(engine, image)
        if now is None or abs(now.yaw) >= FRONTAL:
            continue
        pairs += [
            (image, turned_plane(image, d * s)) for d in (35, 40, 45, 50, 55, 60) for s in (1, -1)
        ]
    return pairs


def _frame_costs(engine: FaceEngine) -> list[Result]:
    rng = np.random.default_rng(7)
    noise = rng.normal(size=(10_000, 128)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    gallery = Gallery()
    gallery.load([(i + 100, v) for i, v in enumerate(noise)])
    frames = [photo(name) for name in ("obama", "obama2", "biden", "obama_partial_face")]

    def judged(checks: bool) -> Callable[[], None]:
        turn = [0]

        def frame() -> None:
            image = frames[turn[0] % len(frames)]
            turn[0] += 1
            faces = engine.detect(image)
            if not faces:
                return
            if checks:
                if probe_refusal(image, faces[0], MIN_FACE_PX) is not None:
                    return
                seen_pose(engine, image, faces[0])  # what the challenge is fed
            gallery.best(engine.embed(image, faces[0]))

        return frame

    plain, checked = judged(False), judged(True)
    plain(), checked()  # warm
    return [
        Result(
            "kiosk frame, 640×480",
            "with sharpness and turn checks",
            "without them",
            "ms",
            median_of(60, lambda: timed(checked)) * 1000,
            median_of(60, lambda: timed(plain)) * 1000,
            False,
        )
    ]


def run(_tmp: Path) -> list[Result]:
    engine = FaceEngine()
    sizes: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda f: f,
        lambda f: cv2.resize(f, (480, 360), interpolation=cv2.INTER_AREA),
    ]
    tally = Tally()
    shown = attacks(photo("obama"), photo("obama_partial_face"))
    folder = os.environ.get("BENCH_FACES_DIR")
    if folder:
        shown["other people's photos turned 35-60°"] = others(engine, Path(folder), sizes)
    for size in sizes:
        for name, pairs in shown.items():
            for frontal, attack in pairs:
                first, second = read(engine, size(frontal)), read(engine, size(attack))
                tally.add(name, [first, first, second, second], (1, -1, 0))
        for recording, turns in TURNS.items():
            frames = [size(f) for f in clip(recording)]
            for mirrored in (False, True):
                readings = [read(engine, cv2.flip(f, 1) if mirrored else f) for f in frames]
                for first, side in turns:
                    side = -side if mirrored else side
                    name = f"genuine: a real turn to his {'left' if side > 0 else 'right'}"
                    for lead in LEADS_S:
                        start = round((first / 25 - lead) * FPS)
                        window = readings[start : start + round(WINDOW_S * FPS)]
                        tally.add(name, window, (side, 0))
    return _frame_costs(engine) + tally.results(lambda name: name.startswith("genuine"))
