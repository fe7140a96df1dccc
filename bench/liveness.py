"""Liveness: how many presentation attacks pass the head-turn challenge, and how many genuine
turns do.

Also the kiosk's cost per 640×480 frame with the checks a frame now passes before it is judged
(sharpness on the aligned crop, the turn along the eyes' line) against the same frame without
them (detect, embed, match against 10,000 enrolled), medians of 60 (goal ≤ 40 ms).

Attacks: the frontal photo of the enrolled person rolled 20–40° either way, rolled 25–35° after
being turned 30°, turned 35–60° about its vertical axis either way, and bent 20–45° — each shown
after the frontal photo, to a challenge asking for either side or for any (the door camera), at
the door camera's 640×480 and the kiosk's 480×360; the partial-face photo of the same person
turned 35–60° (its landmarks read a slant as a turn); and the photo on a phone's screen (fewer
pixels, moiré, lower contrast, a bezel), held straight, then rolled or turned. Genuine: the
shipped photo of the same person turned (and its mirror image, nearer), after each of the two
frontal ones, to the side asked and to any. Each is counted three ways: the portal's challenge
(the turn along the eyes' line from the person's own frontal yaw, on a face still broad enough),
the same without the breadth check, and the measure first used (the nose in the image's x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.common import Result, median_of, timed
from classroom.faces.engine import Face, FaceEngine
from classroom.faces.gallery import Gallery
from classroom.faces.liveness import FRONTAL, TURNED, HeadTurnChallenge, Pose, pose, yaw
from classroom.faces.quality import MIN_FACE_PX, probe_refusal
from tests.face_helpers import bent, photo, screen_attacks, turned_plane


def image_x_yaw(face: Face) -> float:
    (rx, ry), (lx, ly), (nx, _ny) = face.landmarks[:3]
    eyes = math.hypot(lx - rx, ly - ry)
    return (nx - (rx + lx) / 2) / eyes if eyes else 0.0


def passes_now(
    engine: FaceEngine, frames: list[np.ndarray], side: int, breadth: bool = True
) -> bool:
    """The portal's challenge; without ``breadth``, the turn along the eyes' line alone."""
    challenge = HeadTurnChallenge(1, 0.0, side=side)
    for i, frame in enumerate(frames):
        found = engine.detect(frame)
        if not found:
            continue
        seen = pose(found[0]) if breadth else Pose(yaw(found[0]), (1.0, 1.0))
        if challenge.feed(seen, 0.2 * i) == "passed":
            return True
    return False


def passed_before(engine: FaceEngine, frames: list[np.ndarray], side: int) -> bool:
    frontal = False
    for frame in frames:
        found = engine.detect(frame)
        if not found:
            continue
        y = image_x_yaw(found[0])
        if abs(y) < FRONTAL:
            frontal = True
        elif frontal and (y * side if side else abs(y)) >= TURNED:
            return True
    return False


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
    }


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
                pose(faces[0])  # what the challenge is fed
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
    front, partial, turned = photo("obama"), photo("obama_partial_face"), photo("obama2")
    mirrored = cv2.warpAffine(
        cv2.flip(turned, 1), cv2.getRotationMatrix2D((320, 240), 0, 1.7), (640, 480)
    )
    sizes: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda f: f,
        lambda f: cv2.resize(f, (480, 360), interpolation=cv2.INTER_AREA),
    ]
    shown = attacks(front, partial)
    genuine = [
        (frontal, posed, side)
        for frontal in (front, partial)
        for posed, side in ((turned, -1), (mirrored, 1))
    ]
    # now, the eyes' line alone (no breadth check), the image's x, attempts
    passed = {name: [0, 0, 0, 0] for name in [*shown, "genuine"]}

    def tally(name: str, frames: list[np.ndarray], side: int) -> None:
        passed[name][0] += passes_now(engine, frames, side)
        passed[name][1] += passes_now(engine, frames, side, breadth=False)
        passed[name][2] += passed_before(engine, frames, side)
        passed[name][3] += 1

    for size in sizes:
        for name, frames_of in shown.items():
            for frontal, attack in frames_of:
                for side in (1, -1, 0):
                    tally(name, [size(frontal)] * 2 + [size(attack)] * 2, side)
        for frontal, posed, side in genuine:
            for asked in (side, 0):
                tally("genuine", [size(frontal)] * 2 + [size(posed)] * 2, asked)
    results = []
    for name, (now, eyes_line, before, attempts) in passed.items():
        unit, better = f"passed of {attempts}", name == "genuine"
        results.append(
            Result(f"liveness: {name}", "the portal's", "image x", unit, now, before, better)
        )
        results.append(
            Result(f"liveness: {name}", "the portal's", "no breadth", unit, now, eyes_line, better)
        )
    return _frame_costs(engine) + results
