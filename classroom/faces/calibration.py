"""Calibrating the match threshold and margin on labelled photos: a bureau's own, or a public set.

The input is a list of pairs of photos said to be the same person or not (``file_x,file_y,
Decision`` with Yes/No, the layout of common verification lists). Identities follow from the
"same" pairs taken together (A is B and B is C: A is C); two identities are different when any
pair between them says so, and then every pair of their photos is an impostor pair. Each photo's
largest face is embedded with the shipped model, as at enrolment.

Two measures come out. Verification: of the genuine pairs, the share scoring below the threshold
(false non-match rate), and of the impostor pairs, the share at or above it (false match rate).
Identification, as the kiosk decides: each identity enrolled from its first photo, every other
photo shown to the gallery — found, taken for someone else, or refused (under the threshold, or
not clear of the next person by the margin) — and each identity's photos shown to a gallery
without it, where any match is a stranger taken for an enrolled person.

With no false match among N impostor pairs the false match rate is below 3/N at 95% confidence
(the rule of three), so a target of one in a thousand needs some 3,000 impostor pairs.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from classroom.faces.engine import Face, FaceEngine
from classroom.faces.gallery import Gallery
from classroom.images import COURSEWARE_IMAGE, decode_bounded

# Photos a bureau has on file, read on an administrator's machine: a camera's full size is fine
# (the detector looks at them scaled down), but the header is still checked before decoding.
PHOTO_BOUND = COURSEWARE_IMAGE
KIOSK_JPEG_QUALITY = 85  # what web/static/kiosk.js sends its frames at
SAME = frozenset({"yes", "same", "1", "true"})
DIFFERENT = frozenset({"no", "different", "0", "false"})


class CalibrationError(ValueError):
    """The pairs list or a photo cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Labels:
    identity: dict[str, int]  # photo → identity number
    different: frozenset[frozenset[int]]  # identities said to be different people


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    """``file_x,file_y,Decision`` rows (a header line; Decision Yes/No, Same/Different, 1/0)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise CalibrationError(f"{path}: empty")
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3:
            raise CalibrationError(f"{path}:{line}: expected file_x,file_y,decision")
        decision = row[2].strip().lower()
        if decision not in SAME | DIFFERENT:
            raise CalibrationError(f"{path}:{line}: decision {row[2]!r} is neither Yes nor No")
        pairs.append((row[0].strip(), row[1].strip(), decision in SAME))
    return pairs


def labels(pairs: Iterable[tuple[str, str, bool]]) -> Labels:
    pairs = list(pairs)
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, same in pairs:
        ra, rb = root(a), root(b)
        if same:
            parent[ra] = rb
    numbers: dict[str, int] = {}
    identity = {f: numbers.setdefault(root(f), len(numbers)) for f in sorted(parent)}
    different = set()
    for a, b, same in pairs:
        if not same:
            if identity[a] == identity[b]:
                raise CalibrationError(f"{a} and {b} are said to differ, yet linked as the same")
            different.add(frozenset((identity[a], identity[b])))
    return Labels(identity, frozenset(different))


@dataclass(frozen=True)
class Scores:
    genuine: np.ndarray  # cosine similarities of same-person pairs
    impostor: np.ndarray  # of different-person pairs


def pair_scores(
    embeddings: dict[str, np.ndarray], lab: Labels, probes: dict[str, np.ndarray] | None = None
) -> Scores:
    """Every pair of photos once; with ``probes`` (the photos as the kiosk's camera sends them),
    every enrolled photo against every other photo's probe."""
    genuine, impostor = [], []
    names = sorted(embeddings)
    ordered = itertools.permutations(names, 2) if probes else itertools.combinations(names, 2)
    for a, b in ordered:
        ia, ib = lab.identity[a], lab.identity[b]
        score = float(embeddings[a] @ (probes or embeddings)[b])
        if ia == ib:
            genuine.append(score)
        elif frozenset((ia, ib)) in lab.different:
            impostor.append(score)
    return Scores(np.array(genuine), np.array(impostor))


@dataclass(frozen=True)
class Rates:
    threshold: float
    false_match: float
    false_non_match: float


def rates(scores: Scores, threshold: float) -> Rates:
    fmr = float((scores.impostor >= threshold).mean()) if len(scores.impostor) else 0.0
    fnmr = float((scores.genuine < threshold).mean()) if len(scores.genuine) else 0.0
    return Rates(threshold, fmr, fnmr)


def threshold_for(scores: Scores, target_fmr: float) -> float:
    """The lowest threshold (to 0.001) whose false match rate on these pairs is within target."""
    if not len(scores.impostor):
        raise CalibrationError("no impostor pairs: nothing to calibrate against")
    # Impostor pairs that may score at or above it (all but one at most: one must stay below).
    allowed = min(int(target_fmr * len(scores.impostor)), len(scores.impostor) - 1)
    ranked = np.sort(scores.impostor)[::-1]
    return round(float(np.floor(ranked[allowed] * 1000) + 1) / 1000, 3)


@dataclass(frozen=True)
class Identification:
    shown: int  # photos of enrolled people shown
    found: int
    wrong_person: int
    refused: int
    strangers_shown: int  # photos of someone not enrolled
    strangers_taken: int


def identification(
    embeddings: dict[str, np.ndarray],
    lab: Labels,
    threshold: float,
    margin: float,
    probes: dict[str, np.ndarray] | None = None,
) -> Identification:
    by_identity: dict[int, list[str]] = {}
    for photo in sorted(embeddings):
        by_identity.setdefault(lab.identity[photo], []).append(photo)
    enrolled = {i: photos[0] for i, photos in by_identity.items()}

    def gallery(without: int | None = None) -> Gallery:
        g = Gallery(threshold, margin)
        g.load([(i, embeddings[p]) for i, p in enrolled.items() if i != without])
        return g

    shown_as = probes or embeddings
    everyone = gallery()
    shown = found = wrong = refused = strangers = taken = 0
    for i, photos in by_identity.items():
        for photo in photos[1:]:
            shown += 1
            match = everyone.best(shown_as[photo])
            if match is None:
                refused += 1
            elif match.person_id == i:
                found += 1
            else:
                wrong += 1
        if len(by_identity) > 1:
            others = gallery(without=i)
            for photo in photos:
                strangers += 1
                taken += others.best(shown_as[photo]) is not None
    return Identification(shown, found, wrong, refused, strangers, taken)


def as_kiosk_sends(image: np.ndarray, face: Face, face_px: int) -> np.ndarray:
    """The photo as a kiosk's camera would send it: scaled so that the face is ``face_px``
    across, and JPEG-compressed as the kiosk page does."""
    scale = face_px / face.size
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, KIOSK_JPEG_QUALITY])
    sent = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert sent is not None  # what imencode just wrote
    return sent


def embed_photos(
    engine: FaceEngine, folder: Path, names: Iterable[str], probe_face_px: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Each photo's largest face, embedded as at enrolment, and with ``probe_face_px`` also as
    the kiosk would see it (each photo read and detected once); a photo without a face is an
    error."""
    root = folder.resolve()
    enrolled, probes = {}, {}
    for name in sorted(set(names)):
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise CalibrationError(f"{name}: outside {folder}")
        try:
            image = decode_bounded(path.read_bytes(), PHOTO_BOUND)
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"{name}: {exc}") from None
        faces = engine.detect(image)  # largest first
        if not faces:
            raise CalibrationError(f"{name}: no face found")
        enrolled[name] = engine.embed(image, faces[0])
        if probe_face_px is not None:
            sent = as_kiosk_sends(image, faces[0], probe_face_px)
            seen = engine.detect(sent)
            if not seen:
                raise CalibrationError(f"{name}: no face found at {probe_face_px} px")
            probes[name] = engine.embed(sent, seen[0])
    return enrolled, probes if probe_face_px is not None else None
