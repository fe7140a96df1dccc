"""Liveness by an active challenge: the kiosk asks for a head turn to one side, chosen at random,
and the server follows the face's landmarks through the frames that come back.

A face is a solid: when the head turns, the nose moves sideways against the eyes (parallax). A
photo or a screen is flat: tilted, bent or moved, its nose stays where it is between its eyes, so
it cannot show the turn asked for. What this stops: printed photos and still images on a phone or
screen, held up or moved. What it does not stop: a video of the person that happens to turn the
right way within the window (the random side and the short window make that a 50% guess per
attempt, retried at most by the cool-down), a mask, or a deep-fake on a screen. The portal records
every check-in's method, and the trainer's attendance page shows them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from classroom.faces.engine import Face

FRONTAL = 0.10  # |yaw| below this: looking at the camera
TURNED = 0.20  # yaw beyond this, to the side asked for: turned (a real turn reaches 0.3–0.5)
WINDOW_S = 6.0


def yaw(face: Face) -> float:
    """The nose's offset from the eyes' midpoint, in eye distances: 0 frontal; its sign is the
    side the head turned to, in the image's left/right."""
    (rx, ry), (lx, ly), (nx, _ny) = face.landmarks[:3]
    eyes = math.hypot(lx - rx, ly - ry)
    return (nx - (rx + lx) / 2) / eyes if eyes else 0.0


@dataclass
class HeadTurnChallenge:
    person_id: int
    started: float
    # +1: the nose must move to the image's right, which is the person turning to THEIR left
    # (the camera faces them); -1 the other way; 0 either way (a door camera with no screen to
    # ask on: the turn is still parallax a photo cannot show, but a video replay passes more
    # easily than with the kiosk's random side).
    side: int = field(default_factory=lambda: random.choice((-1, 1)))
    frontal_seen: bool = False
    passed: bool = False

    @property
    def direction(self) -> str:
        """Which way to ask the person to turn, from their side."""
        return "left" if self.side > 0 else "right" if self.side < 0 else "either"

    def feed(self, face_yaw: float, now: float) -> str:
        """``pending``, ``passed`` or ``failed`` after this frame."""
        if self.passed:
            return "passed"
        if now - self.started > WINDOW_S:
            return "failed"
        if abs(face_yaw) < FRONTAL:
            self.frontal_seen = True
        elif self.frontal_seen and (face_yaw * self.side if self.side else abs(face_yaw)) >= TURNED:
            self.passed = True
            return "passed"
        return "pending"
