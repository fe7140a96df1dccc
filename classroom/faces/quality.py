"""Is this frame good enough to enrol a face from, or to recognise one in? Each refusal says what
to change. A check-in frame must meet the same sharpness floor as an enrolment frame to say who
it is: a soft probe matches the wrong person more easily, and the next frame is a fifth of a
second away. The frames of the head turn that follows are read for the turn on a lower floor.

Sharpness is judged where the recogniser looks: on the face aligned to SFace's 112-pixel crop,
so a photo's resolution does not decide it (a large, smooth-skinned face measured on its own
pixels reads as blurred; a small one as sharp). The crop is smoothed at one pixel before the
Laplacian, so sensor noise and JPEG blocks, which live below that scale, do not pass for the
detail a blurred face has lost; and the measure is divided by the face's brightness squared, so
a dim face is not called blurred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from classroom.faces.engine import Face
from classroom.faces.liveness import yaw

MIN_FACE_PX = 80  # SFace works on 112×112 crops: smaller faces are upscaled noise
# Laplacian variance of the aligned crop smoothed at σ = 1 px, per (mean grey / 100)². The shipped
# photos measure 18–33 sharp at faces of 90–1,000 px, dim, noisy or JPEG'd or not; blurred by 2%
# of the face's size (about 2 px of the crop) 4–14, whatever noise or JPEG blocks are added.
MIN_SHARPNESS = 16.0
# Once a sharp frame has said who it is, the frames of the head turn that follows are read for
# the turn down to half that: a head turning blurs at a webcam's shutter (a real turn's frames at
# a 400×300 webcam measured 8.4–16 while his still frames measured 15–18), and a floor it cannot
# meet would ask the person to hold still while asking them to turn.
MIN_TURN_SHARPNESS = 8.0
MAX_ROLL_DEG = 15.0
MAX_YAW = 0.3  # nose offset from the eyes' midpoint, in eye distances

CROP = 112
# Where SFace's alignment puts the eyes, nose tip and mouth corners in its crop (OpenCV's
# FaceRecognizerSF), in YuNet's landmark order.
TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
MARGIN = 8  # crop pixels left out at each side: the warp's replicated border


@dataclass(frozen=True)
class Refusal:
    code: str  # no_face | several_faces | too_small | blurred | not_frontal
    message: str


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares rotation, uniform scale and shift taking points src to dst, as a 2×3
    matrix (Umeyama's, written with complex numbers)."""
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    ms, md = zs.mean(), zd.mean()
    a = np.sum(np.conj(zs - ms) * (zd - md)) / max(float(np.sum(np.abs(zs - ms) ** 2)), 1e-9)
    t = md - a * ms
    return np.array([[a.real, -a.imag, t.real], [a.imag, a.real, t.imag]])


def aligned_grey(image: np.ndarray, face: Face) -> np.ndarray:
    """The face in SFace's 112-pixel crop, grey, as float. A face larger than the crop is first
    averaged down (as a camera further away would see it), so its noise is averaged, not
    aliased into the crop."""
    points = np.asarray(face.landmarks, dtype=np.float64)
    eyes = float(np.linalg.norm(points[1] - points[0]))
    scale = float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0])) / max(eyes, 1.0)
    if scale < 1.0:
        h, w = image.shape[:2]
        x, y, fw, fh = face.box
        x0, y0 = max(0, int(x - fw / 2)), max(0, int(y - fh / 2))
        x1, y1 = min(w, int(x + 1.5 * fw) + 1), min(h, int(y + 1.5 * fh) + 1)
        region = image[y0:y1, x0:x1]
        size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        image = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        points = (points - (x0, y0)) * (size[0] / region.shape[1], size[1] / region.shape[0])
    crop = cv2.warpAffine(
        image,
        similarity(points, TEMPLATE),
        (CROP, CROP),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return grey.astype(np.float64)


def face_sharpness(image: np.ndarray, face: Face) -> float:
    """Detail at the recogniser's scale: see MIN_SHARPNESS."""
    smooth = cv2.GaussianBlur(aligned_grey(image, face), (0, 0), 1.0)
    inner = (slice(MARGIN, -MARGIN),) * 2
    detail = float(cv2.Laplacian(smooth, cv2.CV_64F)[inner].var())
    brightness = max(float(smooth[inner].mean()), 8.0) / 100.0
    return detail / brightness**2


def probe_refusal(
    image: np.ndarray, face: Face, min_px: float, turning: bool = False
) -> str | None:
    """Why not to decide on this check-in frame (``closer``, ``hold_still``), or None: wait for a
    better frame rather than judge a bad one. ``turning``: a head-turn challenge is under way,
    and the frame is read for the turn (MIN_TURN_SHARPNESS) — it must not start one."""
    if face.size < min_px:
        return "closer"
    if face_sharpness(image, face) < (MIN_TURN_SHARPNESS if turning else MIN_SHARPNESS):
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
        return Refusal(
            "blurred",
            f"the picture is blurred ({sharpness:.1f}, at least {MIN_SHARPNESS:.0f}): hold still",
        )
    (rx, ry), (lx, ly) = face.landmarks[:2]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    if abs(roll) > MAX_ROLL_DEG or abs(yaw(face)) > MAX_YAW:
        return Refusal("not_frontal", "the head is turned or tilted: face the camera straight")
    return None
