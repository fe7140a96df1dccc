"""Enrolling a person's face (consent first; 3–5 frames, each quality-checked; embeddings kept,
photos only if the deployment says so), deleting it (audited), and ID cards."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from classroom.audit import audit
from classroom.db.models import FaceEmbedding, FaceEnrollment, IdCard, Person
from classroom.db.types import utcnow
from classroom.faces.engine import MODEL_ID, FaceEngine
from classroom.faces.operating_point import MATCH_THRESHOLD
from classroom.faces.quality import check_frame
from classroom.images import ENROLMENT_PHOTO, ImageRefused, decode_bounded
from storage.object_store import ObjectStore

MIN_FRAMES, MAX_FRAMES = 3, 5
# Two frames this alike are one picture (a copy, re-encoded, scaled or shifted: 0.92–0.96 on the
# shipped photos), not two looks at a face (distinct photos of one person: 0.74–0.83): they would
# count one picture several times towards the 3–5 frames.
SAME_PICTURE = 0.9
MAX_FRAME_BYTES = 2 * 1024 * 1024
CARD_NO = re.compile(r"[0-9A-Za-z]{4,32}")


class EnrollmentRefused(ValueError):
    """Why the enrolment was refused; ``frame`` is 1-based, None for the whole request."""

    def __init__(self, code: str, message: str, frame: int | None = None, **more: object) -> None:
        super().__init__(message)
        self.code, self.frame, self.more = code, frame, more


@dataclass(frozen=True)
class FrameOk:
    embedding: np.ndarray
    jpeg: bytes


def _frame(engine: FaceEngine, data: bytes, n: int) -> FrameOk:
    if len(data) > MAX_FRAME_BYTES:
        raise EnrollmentRefused("too_large", "a frame is at most 2 MiB", n)
    try:
        image = decode_bounded(data, ENROLMENT_PHOTO)
    except ImageRefused as exc:
        raise EnrollmentRefused(exc.code, str(exc), n) from None
    faces = engine.detect(image)
    refusal = check_frame(image, faces)
    if refusal is not None:
        raise EnrollmentRefused(refusal.code, refusal.message, n)
    return FrameOk(engine.embed(image, faces[0]), data)


async def _check_not_someone_else(
    db: AsyncSession, person: Person, embeddings: list[np.ndarray]
) -> None:
    """A face that already matches another enrolled person is refused: enrolled for both, the
    kiosk could tell neither (it answers "unknown" for both). An administrator resolves it —
    deleting the wrong enrolment — before this one is taken."""
    others = [(pid, v) for pid, v in await gallery_rows(db) if pid != person.id]
    if not others:
        return
    matrix = np.stack([v for _, v in others])
    scores = np.stack(embeddings) @ matrix.T  # frames × others' embeddings
    best = int(np.argmax(scores.max(axis=0)))
    if float(scores.max()) >= MATCH_THRESHOLD:
        other = await db.get(Person, others[best][0])
        name = other.display_name if other else str(others[best][0])
        raise EnrollmentRefused(
            "matches_another",
            f"this face already matches {name}'s enrolment: an administrator must resolve "
            "which is right (delete the wrong one) before it is enrolled again",
            person_id=others[best][0],
        )


def vector_bytes(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype="<f4").tobytes()


def vector_of(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


async def enroll_face(
    db: AsyncSession,
    engine: FaceEngine,
    store: ObjectStore,
    person: Person,
    actor: Person,
    frames: list[bytes],
    consent: bool,
    keep_photos: bool = False,
) -> FaceEnrollment:
    if not consent:
        raise EnrollmentRefused("no_consent", "the person's consent must be recorded first")
    if not MIN_FRAMES <= len(frames) <= MAX_FRAMES:
        raise EnrollmentRefused(
            "frame_count", f"{MIN_FRAMES} to {MAX_FRAMES} frames, not {len(frames)}"
        )
    ok = [await asyncio.to_thread(_frame, engine, data, n) for n, data in enumerate(frames, 1)]
    for (i, a), (j, b) in itertools.combinations(enumerate(ok, 1), 2):
        similarity = float(a.embedding @ b.embedding)
        if similarity < MATCH_THRESHOLD:
            raise EnrollmentRefused(
                "different_people", f"frames {i} and {j} do not show the same person"
            )
        if similarity >= SAME_PICTURE:
            raise EnrollmentRefused(
                "same_picture",
                f"frames {i} and {j} are the same picture: take each at another moment, the "
                "head a little turned or the light changed",
                j,
            )
    await _check_not_someone_else(db, person, [f.embedding for f in ok])
    await delete_face(db, store, person, actor, "re-enrolled", quiet=True)
    keys = []
    if keep_photos:
        for f in ok:
            key = f"faces/person-{person.id}/{uuid.uuid4().hex}.jpg"
            await asyncio.to_thread(store.put_bytes, key, f.jpeg, "image/jpeg")
            keys.append(key)
    enrollment = FaceEnrollment(
        person_id=person.id,
        model=MODEL_ID,
        consent_at=utcnow(),
        enrolled_by_id=actor.id,
        photo_keys=keys,
        embeddings=[FaceEmbedding(vector=vector_bytes(f.embedding)) for f in ok],
    )
    db.add(enrollment)
    await db.flush()
    await audit(
        db, actor, "face.enroll", f"person:{person.id}", frames=len(ok), photos_kept=len(keys)
    )
    return enrollment


async def delete_face(
    db: AsyncSession,
    store: ObjectStore,
    person: Person,
    actor: Person,
    reason: str,
    quiet: bool = False,
) -> bool:
    """Remove the person's embeddings (and any kept photos); True if there was an enrolment."""
    found = await db.scalar(select(FaceEnrollment).where(FaceEnrollment.person_id == person.id))
    if found is None:
        return False
    for key in found.photo_keys:
        await asyncio.to_thread(store.delete, key)
    await db.delete(found)
    await db.flush()
    if not quiet:
        await audit(db, actor, "face.delete", f"person:{person.id}", reason)
    return True


async def gallery_rows(db: AsyncSession) -> list[tuple[int, np.ndarray]]:
    rows = await db.execute(
        select(FaceEnrollment.person_id, FaceEmbedding.vector)
        .join(FaceEmbedding, FaceEmbedding.enrollment_id == FaceEnrollment.id)
        .join(Person, Person.id == FaceEnrollment.person_id)
        .where(FaceEnrollment.model == MODEL_ID, Person.active.is_(True))
    )
    return [(pid, vector_of(v)) for pid, v in rows]


def _gallery(column: InstrumentedAttribute[Any]) -> Select[tuple[int, str, Any]]:
    return (
        select(Person.id, Person.display_name, column)
        .join(FaceEnrollment, FaceEnrollment.person_id == Person.id)
        .join(FaceEmbedding, FaceEmbedding.enrollment_id == FaceEnrollment.id)
        .where(FaceEnrollment.model == MODEL_ID, Person.active.is_(True))
        .order_by(Person.id, FaceEmbedding.id)
    )


async def gallery_export(db: AsyncSession) -> list[tuple[int, str, list[bytes]]]:
    """The enrolled active people, their names and embeddings (little-endian float32): what an
    agent's door camera needs to recognise them without the portal."""
    people: dict[int, tuple[int, str, list[bytes]]] = {}
    for pid, name, vector in await db.execute(_gallery(FaceEmbedding.vector)):
        people.setdefault(pid, (pid, name, []))[2].append(vector)
    return list(people.values())


async def gallery_version(db: AsyncSession, *settings: object) -> str:
    """Changes whenever gallery_export would (or ``settings`` do), without reading the vectors:
    an embedding is written once, with its enrolment, so its id stands for its content. Every
    agent asks every few minutes, and mostly nothing has changed."""
    digest = hashlib.sha256(":".join(map(str, settings)).encode())
    for pid, name, embedding_id in await db.execute(_gallery(FaceEmbedding.id)):
        digest.update(f"|{pid}:{name}:{embedding_id}".encode())
    return digest.hexdigest()


async def is_enrolled(db: AsyncSession, person_id: int) -> bool:
    found = await db.scalar(
        select(FaceEnrollment.id).where(
            FaceEnrollment.person_id == person_id, FaceEnrollment.model == MODEL_ID
        )
    )
    return found is not None


def normalise_card(card_no: str) -> str:
    card = card_no.strip().upper()
    if not CARD_NO.fullmatch(card):
        raise ValueError("a card number is 4–32 letters and digits")
    return card


async def register_card(db: AsyncSession, person: Person, actor: Person, card_no: str) -> IdCard:
    card = normalise_card(card_no)
    taken = await db.scalar(select(IdCard).where(IdCard.card_no == card))
    if taken is not None:
        if taken.person_id == person.id:
            return taken
        raise ValueError(f"card {card} is registered to someone else")
    row = IdCard(card_no=card, person_id=person.id, registered_by_id=actor.id)
    db.add(row)
    await db.flush()
    await audit(db, actor, "card.register", f"person:{person.id}", card=card)
    return row


async def revoke_card(db: AsyncSession, card: IdCard, actor: Person) -> None:
    """A lost or returned card stops checking anyone in; the audit keeps whose it was."""
    await db.delete(card)
    await db.flush()
    await audit(db, actor, "card.revoke", f"person:{card.person_id}", card=card.card_no)


async def person_for_card(db: AsyncSession, card_no: str) -> Person | None:
    try:
        card = normalise_card(card_no)
    except ValueError:
        return None
    found: Person | None = await db.scalar(
        select(Person).join(IdCard, IdCard.person_id == Person.id).where(IdCard.card_no == card)
    )
    return found
