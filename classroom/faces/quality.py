"""Is this frame good enough to enrol a face from? Each refusal says what to change."""

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
    x, y, w, h = (round(v) for v in face.box)
    crop = image[max(0, y) : y + h, max(0, x) : x + w]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var()) if grey.size else 0.0
    if sharpness < MIN_SHARPNESS:
        return Refusal("blurred", f"the picture is blurred ({sharpness:.0f}): hold still")
    (rx, ry), (lx, ly), (nx, _ny) = face.landmarks[:3]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    eyes = math.hypot(lx - rx, ly - ry)
    yaw = abs(nx - (rx + lx) / 2) / eyes if eyes else 1.0
    if abs(roll) > MAX_ROLL_DEG or yaw > MAX_YAW:
        return Refusal("not_frontal", "the head is turned or tilted: face the camera straight")
    return None
