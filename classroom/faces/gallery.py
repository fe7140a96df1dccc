"""1:N search over the enrolled: one matrix, one product.

A face is someone when it reaches the threshold (classroom/faces/operating_point.py) and stands
clear of the second-best person by the margin, so two similar-looking officers are never
confused: an unclear case is refused and the officer uses their card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classroom.faces.engine import EMBEDDING_DIM
from classroom.faces.operating_point import MATCH_MARGIN, MATCH_THRESHOLD


@dataclass(frozen=True)
class Match:
    person_id: int
    score: float


class Gallery:
    def __init__(self, threshold: float = MATCH_THRESHOLD, margin: float = MATCH_MARGIN):
        self.threshold = threshold
        self.margin = margin
        self._matrix = np.zeros((0, EMBEDDING_DIM), np.float32)
        self._people = np.zeros(0, np.int64)

    def load(self, rows: list[tuple[int, np.ndarray]]) -> None:
        """Replace the gallery (several embeddings per person are fine)."""
        if rows:
            self._matrix = np.stack([v for _, v in rows]).astype(np.float32)
            self._people = np.array([p for p, _ in rows], np.int64)
        else:
            self._matrix = np.zeros((0, EMBEDDING_DIM), np.float32)
            self._people = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._people)

    def best(self, embedding: np.ndarray) -> Match | None:
        """The enrolled person this face is, or None when nobody is clearly it."""
        if not len(self._people):
            return None
        # einsum, not @: BLAS would wake its thread pool, whose spinning threads then slow the
        # face networks on the same cores by ~20 ms a frame (measured: bench/faces.py).
        scores = np.einsum("ij,j->i", self._matrix, embedding.astype(np.float32))
        # The best few, not a full sort: a person's other embeddings are among them, and so,
        # almost always, is the runner-up; if not, one masked max finds it.
        k = min(16, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        pid = int(self._people[top[0]])
        score = float(scores[top[0]])
        if score < self.threshold:
            return None
        others = top[self._people[top] != pid]
        if len(others):
            second = float(scores[others[0]])
        else:
            rest = scores[self._people != pid]
            second = float(rest.max()) if len(rest) else -1.0
        if score - second < self.margin:
            return None
        return Match(pid, score)
