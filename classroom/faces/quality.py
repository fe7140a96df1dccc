"""Is this frame good enough to enrol a face from, or to recognise one in? Each refusal says what
to change. A check-in frame must meet the same sharpness floor as an enrolment frame: a soft
probe matches the wrong person more easily, and the next frame is a fifth of a second away."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from classroom.faces.engine import Face

MIN_FACE_PX = 80  # SFace works on 112×112 crops: smaller faces are upscaled noise
MIN_SHARPNESS = 40.0  # variance of the Laplacian on the face, grey levels²
MAX_ROLL_DEG = 15.0
MAX_YAW = 0.3  # nose offset from the eyes' midpoint, in eye distances


@dataclass(frozen=True)
class Refusal:
    code: str  # no_face | several_faces | too_small | blurred | not_frontal
    message: str


def face_sharpness(image: np.ndarray, face: Face) -> float:
    """Variance of the Laplacian over the face's box, in grey levels²."""
    x, y, w, h = (round(v) for v in face.box)
    crop = image[max(0, y) : y + h, max(0, x) : x + w]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()) if grey.size else 0.0


def probe_refusal(image: np.ndarray, face: Face, min_px: float) -> str | None:
    """Why not to decide on this check-in frame (``closer``, ``hold_still``), or None: wait for a
    better frame rather than judge a bad one."""
    if face.size < min_px:
        return "closer"
    if face_sharpness(image, face) < MIN_SHARPNESS:
        return "hold_still"
    return None


def check_frame(image: np.ndarray, faces: list[Face]) -> Refusal | None:
    if not faces:
        return Refusal("no_face", "no face found: look at the camera, with your face lit")
    if len(faces) > 1:
        return Refusal("several_faces", f"{len(faces)} faces found: only the person enrolling")
    face = faces[0]
    if face.size < MIN_FACE_PX:
        return Refusal(
            "too_small", f"the face is {face.size:.0f} px, at least {MIN_FACE_PX}: come closer"
        )
    sharpness = face_sharpness(image, face)
    if sharpness < MIN_SHARPNESS:
        return Refusal("blurred", f"the picture is blurred ({sharpness:.0f}): hold still")
    (rx, ry), (lx, ly), (nx, _ny) = face.landmarks[:3]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    eyes = math.hypot(lx - rx, ly - ry)
    yaw = abs(nx - (rx + lx) / 2) / eyes if eyes else 1.0
    if abs(roll) > MAX_ROLL_DEG or yaw > MAX_YAW:
        return Refusal("not_frontal", "the head is turned or tilted: face the camera straight")
    return None
