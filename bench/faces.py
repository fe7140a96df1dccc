"""Faces: the kiosk's per-frame cost, 1:N search, and identification on the shipped photos.

Candidate: OpenCV YuNet + SFace (what the portal runs). Baseline, in the same run: dlib's HOG
detector + 5-point landmarks + ResNet descriptor through face_recognition_models — the usual
choice (the `bench` extra installs it; the portal never needs it).

Per frame: detect + embed + match against 10,000 enrolled, on 640×480 frames made from the
shipped photos, median of 60. 1:N: the gallery's best() over 10,000 enrolled, median of 2,000.
Accuracy: each person enrolled from one photo; probes are the other photos and variants of all
(mirror, ±8° roll, brighter, darker, JPEG at quality 30); top-1 over probes of enrolled people,
false-match rate over probes of people not enrolled.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.common import Result
from classroom.faces.engine import FaceEngine
from classroom.faces.gallery import Gallery

FACES = Path(__file__).resolve().parent.parent / "tests" / "data" / "faces"
ENROLLED = 10_000


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def _fit(image: np.ndarray, w: int = 640, h: int = 480) -> np.ndarray:
    if image.shape[0] > 2 * image.shape[1]:
        image = image[: image.shape[1]]
    scale = min(w / image.shape[1], h / image.shape[0])
    small = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    out = np.full((h, w, 3), 40, np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def _variants(image: np.ndarray) -> list[np.ndarray]:
    h, w = image.shape[:2]
    out = [image, cv2.flip(image, 1)]
    for angle in (-8, 8):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out.append(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    out.append(cv2.convertScaleAbs(image, alpha=1.0, beta=40))
    out.append(cv2.convertScaleAbs(image, alpha=0.6, beta=0))
    _ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])
    lossy = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert lossy is not None
    out.append(lossy)
    return out


class _Dlib:
    """The baseline pipeline, embeddings compared by Euclidean distance (its threshold 0.6)."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as models

        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self.net = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes = self.detector(rgb, 1)
        if not boxes:
            return None
        shape = self.shape(rgb, boxes[0])
        return np.array(self.net.compute_face_descriptor(rgb, shape), np.float32)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _accuracy(
    embed: Callable[[np.ndarray], np.ndarray | None], same: Callable[[np.ndarray, np.ndarray], bool]
) -> tuple[float, float]:
    photos = {
        n: _fit(_read(FACES / f"{n}.jpg"))
        for n in ("obama", "obama2", "obama_partial_face", "biden")
    }
    person = {"obama": "A", "obama2": "A", "obama_partial_face": "A", "biden": "B"}
    hits = total = false = strangers = 0
    for enrolled_name in ("obama", "biden"):  # one photo per person enrolled, the other left out
        gallery = embed(photos[enrolled_name])
        assert gallery is not None
        who = person[enrolled_name]
        for name, image in photos.items():
            for probe in _variants(image):
                e = embed(probe)
                matched = e is not None and same(gallery, e)
                if person[name] == who and name != enrolled_name:
                    total += 1
                    hits += matched
                elif person[name] != who:
                    strangers += 1
                    false += matched
    return hits / total, false / strangers


def run(workdir: Path) -> list[Result]:
    rng = np.random.default_rng(7)
    noise = rng.normal(size=(ENROLLED, 128)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    frames = [_fit(_read(p)) for p in sorted(FACES.glob("*.jpg"))]

    engine = FaceEngine()
    gallery = Gallery()
    gallery.load([(i + 100, v) for i, v in enumerate(noise)])

    def sface_frame(i: list[int] = [0]) -> None:  # noqa: B006 - a counter across calls
        image = frames[i[0] % len(frames)]
        i[0] += 1
        faces = engine.detect(image)
        if faces:
            gallery.best(engine.embed(image, faces[0]))

    sface_frame()
    sface_ms = _median_ms(sface_frame, 60)
    probe = noise[5] + 0.01
    probe /= np.linalg.norm(probe)
    search_ms = _median_ms(lambda: gallery.best(probe), 2000)

    # The same search done the plain way: scores for everyone, then a Python pass per person.
    def naive() -> None:
        scores = np.einsum("ij,j->i", gallery._matrix, probe)
        best: dict[int, float] = {}
        for pid, s in zip(gallery._people.tolist(), scores.tolist(), strict=True):
            best[pid] = max(s, best.get(pid, -1.0))

    naive_ms = _median_ms(naive, 200)

    dlib = _Dlib()
    dlib_gallery = noise * 0  # distance search over the same number of 128-D descriptors

    def dlib_frame(i: list[int] = [0]) -> None:  # noqa: B006
        image = frames[i[0] % len(frames)]
        i[0] += 1
        e = dlib.embed(image)
        if e is not None:
            np.argmin(np.linalg.norm(dlib_gallery - e, axis=1))

    dlib_frame()
    dlib_ms = _median_ms(dlib_frame, 20)

    def sface_embed(image: np.ndarray) -> np.ndarray | None:
        faces = engine.detect(image)
        return engine.embed(image, faces[0]) if faces else None

    s_top1, s_false = _accuracy(sface_embed, lambda a, b: float(a @ b) >= gallery.threshold)
    d_top1, d_false = _accuracy(dlib.embed, lambda a, b: float(np.linalg.norm(a - b)) <= 0.6)
    return [
        Result(
            "faces",
            "YuNet+SFace: detect+embed+match (10k)",
            "dlib HOG+ResNet",
            "ms per 640x480 frame",
            sface_ms,
            dlib_ms,
            higher_is_better=False,
        ),
        Result(
            "faces",
            "1:N search, 10,000 enrolled",
            "score everyone, per-person pass in Python",
            "ms",
            search_ms,
            naive_ms,
            higher_is_better=False,
        ),
        Result(
            "faces",
            "YuNet+SFace top-1 (shipped set + variants)",
            "dlib top-1",
            "rate",
            s_top1,
            d_top1,
            higher_is_better=True,
        ),
        Result(
            "faces",
            f"YuNet+SFace: strangers rejected at {gallery.threshold}",
            "dlib: strangers rejected at 0.6",
            "rate",
            1 - s_false,
            1 - d_false,
            higher_is_better=True,
        ),
    ]
