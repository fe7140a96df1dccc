"""Liveness by an active challenge: the kiosk asks for a head turn to one side, chosen at random,
and the server follows the face's landmarks through the frames that come back.

A face is a solid: when the head turns, the nose moves sideways against the eyes (parallax). A
photo or a screen is flat: tilted, bent or moved, its nose stays where it is between its eyes, so
it cannot show the turn asked for.

The detector's five landmarks are what is measured, and they are not exact: on a face rolled in
the image they lean the way the detector was trained (a photo tilted 30° read as a turn), their
error depends on the face's size in pixels, and they are not mirror-symmetric (a photo of a man's
real turn read 0.28, its mirror image 0.13). So the turn is read on the face cut out level (the
eyes' line horizontal) at one size, and on the mirror image of that cut-out, and the two are
averaged (``seen_pose``): roll and scale move it by 0.06 at most, the detector's own left/right
lean cancels, and a turn to either side reads the same. A flat photo turned far (50–60°) about
its vertical axis can still give the landmarks a turn, but then the face looks much narrower than
a head turned that much, so the turn counts only where the face is at least MIN_BREADTH as broad
as when it looked straight.

What this stops: printed photos and still images on a phone or screen, held up, rolled, bent,
moved or turned (docs/benchmarks.md, "Liveness", counts each). What it does not stop: a video of
the person that happens to turn the right way within the window (the random side and the short
window make that a 50% guess per attempt, retried at most by the cool-down), two photos of the
person at two poses shown one after the other, a mask, or a deep-fake on a screen. The portal
records every check-in's method, and the trainer's attendance page shows them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import cv2
import numpy as np

from classroom.faces.engine import Face, FaceEngine

FRONTAL = 0.10  # |yaw| below this: looking at the camera
# The turn is counted from the person's own frontal yaw (a face is not symmetric, nor is every
# camera straight in front of it): TURNED beyond it, to the side asked for. Mild real turns of
# 10–15° (a man at his webcam, tests/data/faces) peak at 0.17–0.19 either way; of the
# presentation attacks in docs/benchmarks.md, none reads more than 0.11 on a face still broad
# enough.
TURNED = 0.13
# At the frame the turn is judged on, the face's breadth (below) against its frontal frames'. The
# real turns keep 0.91 and more; 44 of the slanted photos in bench liveness read as a turn
# without this check, none with it.
MIN_BREADTH = 0.80
WINDOW_S = 6.0
UPRIGHT = 224  # the side, in pixels, of the level cut-out the turn is read on
CONTEXT = 1.6  # the cut-out's side over the face box's longer side: the detector needs the head


def yaw(face: Face) -> float:
    """The nose's offset from the eyes' midpoint along the line through the eyes, in eye
    distances: 0 frontal; its sign is the side the head turned to, in the image's left/right.
    Along the eyes' line, not the image's x: the nose sits below the eyes, so a face or a photo
    rolled in its own plane moves the nose sideways in the image without any turn (a photo
    tilted 30° read as a turn of 0.2)."""
    (rx, ry), (lx, ly), (nx, ny) = face.landmarks[:3]
    ex, ey = lx - rx, ly - ry
    eyes2 = ex * ex + ey * ey
    return ((nx - (rx + lx) / 2) * ex + (ny - (ry + ly) / 2) * ey) / eyes2 if eyes2 else 0.0


@dataclass(frozen=True)
class Pose:
    """What the challenge reads of one frame's face: its turn (``yaw``), and its breadth — the
    eyes' distance over their height above the nose, and above the mouth. A head turning about
    its vertical axis narrows as the cosine of the turn; its height stays."""

    yaw: float
    breadth: tuple[float, float]

    def narrowing(self, frontal: Pose) -> float:
        """How broad this face looks against ``frontal``: 1 the same, less narrower."""
        return min(b / f for b, f in zip(self.breadth, frontal.breadth, strict=True))


def pose(face: Face) -> Pose:
    (rx, ry), (lx, ly), (nx, ny), (ax, ay), (bx, by) = face.landmarks[:5]
    eyes = math.hypot(lx - rx, ly - ry)
    if not eyes:
        return Pose(0.0, (1.0, 1.0))
    ux, uy = (lx - rx) / eyes, (ly - ry) / eyes
    mx, my = (rx + lx) / 2, (ry + ly) / 2

    def below_eyes(px: float, py: float) -> float:  # across the eyes' line, so roll-free
        return abs((py - my) * ux - (px - mx) * uy) or 1e-6

    mouth = below_eyes((ax + bx) / 2, (ay + by) / 2)
    return Pose(yaw(face), (eyes / below_eyes(nx, ny), eyes / mouth))


def upright(image: np.ndarray, face: Face) -> np.ndarray:
    """The face cut out of ``image`` level (rolled back so the eyes' line is horizontal) and at
    one size, UPRIGHT pixels a side."""
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    (rx, ry), (lx, ly) = face.landmarks[:2]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    m = cv2.getRotationMatrix2D((cx, cy), roll, UPRIGHT / (CONTEXT * max(w, h, 1.0)))
    m[0, 2] += UPRIGHT / 2 - cx
    m[1, 2] += UPRIGHT / 2 - cy
    return cv2.warpAffine(
        image, m, (UPRIGHT, UPRIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def seen_pose(engine: FaceEngine, image: np.ndarray, face: Face) -> Pose | None:
    """The face's turn and breadth as the challenge reads them: the mean of the level cut-out's
    pose and its mirror image's, the mirror's turn counted the other way (the module's docstring
    says why). None when the detector loses the face in either."""
    level = upright(image, face)
    found, mirrored = engine.detect(level), engine.detect(cv2.flip(level, 1))
    if not found or not mirrored:
        return None
    a, b = pose(found[0]), pose(mirrored[0])
    return Pose(
        (a.yaw - b.yaw) / 2,
        ((a.breadth[0] + b.breadth[0]) / 2, (a.breadth[1] + b.breadth[1]) / 2),
    )


@dataclass
class HeadTurnChallenge:
    person_id: int
    started: float
    # +1: the nose must move to the image's right, which is the person turning to THEIR left
    # (the camera faces them); -1 the other way; 0 either way (a door camera with no screen to
    # ask on: the turn is still parallax a photo cannot show, but a video replay passes more
    # easily than with the kiosk's random side).
    side: int = field(default_factory=lambda: random.choice((-1, 1)))
    frontals: list[Pose] = field(default_factory=list)  # the frames seen looking straight
    passed: bool = False

    @property
    def direction(self) -> str:
        """Which way to ask the person to turn, from their side."""
        return "left" if self.side > 0 else "right" if self.side < 0 else "either"

    def straight(self) -> Pose:
        """Where the person looks straight: the median of their frontal frames by turn. Not the
        latest: a slow turn passes through frames just under FRONTAL, and counting from those
        would ask a slow turner for nearly twice the turn."""
        return sorted(self.frontals, key=lambda p: p.yaw)[len(self.frontals) // 2]

    def feed(self, seen: Pose, now: float) -> str:
        """``pending``, ``passed`` or ``failed`` after this frame."""
        if self.passed:
            return "passed"
        if now - self.started > WINDOW_S:
            return "failed"
        if abs(seen.yaw) < FRONTAL:
            self.frontals.append(seen)
        elif self.frontals:
            frontal = self.straight()
            turn = seen.yaw - frontal.yaw
            far_enough = (turn * self.side if self.side else abs(turn)) >= TURNED
            if far_enough and seen.narrowing(frontal) >= MIN_BREADTH:
                self.passed = True
                return "passed"
        return "pending"
