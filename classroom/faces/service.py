"""The portal's face recogniser: the engine (loaded on first use, ~1 s) and the in-memory gallery,
reloaded from the database whenever an enrolment changes."""

from __future__ import annotations

import asyncio

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.faces.engine import FaceEngine
from classroom.faces.enrollment import gallery_rows
from classroom.faces.gallery import Gallery, Match
from classroom.faces.operating_point import MATCH_MARGIN, MATCH_THRESHOLD


class FaceService:
    def __init__(self, threshold: float = MATCH_THRESHOLD, margin: float = MATCH_MARGIN):
        self.gallery = Gallery(threshold, margin)
        self._engine: FaceEngine | None = None
        self._stale = True
        self._lock = asyncio.Lock()

    async def engine(self) -> FaceEngine:
        if self._engine is None:
            self._engine = await asyncio.to_thread(FaceEngine)
        return self._engine

    def changed(self) -> None:
        """An enrolment was added or removed: reload before the next match."""
        self._stale = True

    async def match(self, db: AsyncSession, embedding: np.ndarray) -> Match | None:
        async with self._lock:
            if self._stale:
                self.gallery.load(await gallery_rows(db))
                self._stale = False
        return self.gallery.best(embedding)
