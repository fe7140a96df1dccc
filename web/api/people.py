"""A person's biometric enrolment and ID cards.

Enrolling is for managers, trainers and admins, never for oneself; deleting a face is for
managers and admins, and for the person (their data, their right); cards are registered by
managers and admins. Every change is audited; no endpoint ever returns a face or an embedding.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from classroom.db.models import FaceEnrollment, IdCard, Person, Role
from classroom.faces.enrollment import (
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    EnrollmentRefused,
    delete_face,
    enroll_face,
    register_card,
    revoke_card,
)
from web.deps import DB, CurrentPerson, ManagerOrAdmin, services
from web.schemas import Id, Strict

router = APIRouter(prefix="/people", tags=["people"])


class FaceOut(BaseModel):
    person_id: Id
    enrolled: bool
    frames: int = 0
    consent_at: datetime | None = None
    photos_kept: int = 0


class CardIn(Strict):
    card_no: str = Field(pattern=r"^\s*[0-9A-Za-z]{4,32}\s*$")


class CardOut(BaseModel):
    card_no: str
    person_id: Id
    created_at: datetime


async def _person(db: DB, person_id: Id) -> Person:
    person = await db.get(Person, person_id)
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    return person


def _face_out(person_id: Id, e: FaceEnrollment | None) -> FaceOut:
    if e is None:
        return FaceOut(person_id=person_id, enrolled=False)
    return FaceOut(
        person_id=person_id,
        enrolled=True,
        frames=len(e.embeddings),
        consent_at=e.consent_at,
        photos_kept=len(e.photo_keys),
    )


@router.get("/{person_id}/face", response_model=FaceOut)
async def face_status(person_id: Id, db: DB, actor: CurrentPerson) -> FaceOut:
    if actor.id != person_id and not actor.has_role(Role.MANAGER, Role.TRAINER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your enrolment")
    await _person(db, person_id)
    found = await db.scalar(select(FaceEnrollment).where(FaceEnrollment.person_id == person_id))
    return _face_out(person_id, found)


@router.post("/{person_id}/face", response_model=FaceOut, status_code=status.HTTP_201_CREATED)
async def enroll(
    person_id: Id,
    request: Request,
    db: DB,
    actor: CurrentPerson,
    frames: list[UploadFile],
    consent: bool = Form(description="the person has consented to face check-in"),
) -> FaceOut:
    """3–5 frames (JPEG or PNG), each checked (one face, large, sharp, frontal); a refusal
    names the frame and the reason (422)."""
    if not actor.has_role(Role.MANAGER, Role.TRAINER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "enrolment is done by staff")
    if actor.id == person_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "nobody enrols their own face")
    person = await _person(db, person_id)
    if len(frames) > MAX_FRAMES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"at most {MAX_FRAMES} frames")
    data = [await f.read(MAX_FRAME_BYTES + 1) for f in frames]
    svc = services(request)
    try:
        enrollment = await enroll_face(
            db,
            await svc.faces.engine(),
            svc.store,
            person,
            actor,
            data,
            consent,
            svc.settings.faces.keep_photos,
        )
    except EnrollmentRefused as exc:
        detail = {"code": exc.code, "frame": exc.frame, "message": str(exc), **exc.more}
        code = 409 if exc.code == "matches_another" else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, detail) from None
    await db.commit()
    svc.faces.changed()
    return _face_out(person_id, enrollment)


@router.delete("/{person_id}/face", status_code=status.HTTP_204_NO_CONTENT)
async def delete(person_id: Id, request: Request, db: DB, actor: CurrentPerson) -> None:
    if actor.id != person_id and not actor.has_role(Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the person, managers and admins")
    person = await _person(db, person_id)
    svc = services(request)
    if not await delete_face(db, svc.store, person, actor, "deleted on request"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no face enrolled")
    await db.commit()
    svc.faces.changed()


@router.post("/{person_id}/cards", response_model=CardOut, status_code=status.HTTP_201_CREATED)
async def add_card(person_id: Id, body: CardIn, db: DB, actor: CurrentPerson) -> IdCard:
    if not actor.has_role(Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cards are registered by managers")
    person = await _person(db, person_id)
    return await add_card_to(db, person, actor, body.card_no)


async def add_card_to(db: DB, person: Person, actor: Person, card_no: str) -> IdCard:
    """Register a card (already another's: 409, said for the card-number field)."""
    try:
        card = await register_card(db, person, actor, card_no)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "code": "card_taken",
                "message": str(exc),
                "field": "card_no",
                "card": card_no.strip().upper(),
            },
        ) from None
    await db.commit()
    return card


@router.delete("/{person_id}/cards/{card_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_card(person_id: Id, card_id: Id, db: DB, actor: ManagerOrAdmin) -> None:
    card = await db.get(IdCard, card_id)
    if card is None or card.person_id != person_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"card {card_id} not found")
    await revoke_card(db, card, actor)
    await db.commit()


@router.get("/{person_id}/cards", response_model=list[CardOut])
async def list_cards(person_id: Id, db: DB, actor: CurrentPerson) -> list[IdCard]:
    if actor.id != person_id and not actor.has_role(Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the person, managers and admins")
    rows = await db.scalars(select(IdCard).where(IdCard.person_id == person_id))
    return list(rows)
