"""Officers and their check-in enrolment, for staff: who has a face and cards on file, and the
enrolment page (frames from this browser's camera, or uploaded photos, with the consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from classroom.db.models import FaceEnrollment, IdCard, Person, PersonRole, Role
from classroom.faces.enrollment import revoke_card
from web.api.people import add_card_to
from web.deps import DB, ManagerOrAdmin, Staff
from web.pages.common import render
from web.schemas import Id

router = APIRouter(include_in_schema=False)


@router.get("/people", response_class=HTMLResponse)
async def people_page(request: Request, db: DB, person: Staff) -> HTMLResponse:
    officers = list(
        await db.scalars(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.OFFICER, Person.active.is_(True))
            .order_by(Person.display_name)
            .limit(500)
        )
    )
    ids = [p.id for p in officers]
    enrolled = set(
        await db.scalars(select(FaceEnrollment.person_id).where(FaceEnrollment.person_id.in_(ids)))
    )
    cards = dict(
        (
            await db.execute(
                select(IdCard.person_id, func.count())
                .where(IdCard.person_id.in_(ids))
                .group_by(IdCard.person_id)
            )
        ).all()
    )
    return render(request, "people.html", person, officers=officers, enrolled=enrolled, cards=cards)


@router.get("/roster", response_class=HTMLResponse)
async def roster_page(request: Request, person: ManagerOrAdmin) -> HTMLResponse:
    """The roster import: a preview of the file, then the same file applied (static/roster.js)."""
    return render(request, "roster.html", person)


@router.get("/people/{person_id}/enrol", response_class=HTMLResponse)
async def enrol_page(person_id: Id, request: Request, db: DB, person: Staff) -> HTMLResponse:
    officer = await db.get(Person, person_id)
    if officer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    if officer.id == person.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "nobody enrols their own face")
    found = await db.scalar(select(FaceEnrollment).where(FaceEnrollment.person_id == person_id))
    return render(request, "enrol.html", person, officer=officer, enrolled=found is not None)


async def _someone(db: DB, person_id: Id) -> Person:
    found = await db.get(Person, person_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    return found


@router.get("/people/{person_id}/cards", response_class=HTMLResponse)
async def cards_page(
    person_id: Id, request: Request, db: DB, person: ManagerOrAdmin
) -> HTMLResponse:
    """A person's ID cards: registered by typing or by a desk reader (which types the number
    into the focused field and presses Enter), and removed when lost or returned."""
    owner = await _someone(db, person_id)
    cards = list(
        await db.scalars(
            select(IdCard).where(IdCard.person_id == person_id).order_by(IdCard.created_at)
        )
    )
    return render(request, "cards.html", person, owner=owner, cards=cards)


@router.post("/people/{person_id}/cards")
async def add_card_form(
    person_id: Id,
    db: DB,
    person: ManagerOrAdmin,
    card_no: Annotated[str, Form(pattern=r"^\s*[0-9A-Za-z]{4,32}\s*$")],
) -> RedirectResponse:
    await add_card_to(db, await _someone(db, person_id), person, card_no)
    return RedirectResponse(f"/people/{person_id}/cards", status_code=303)


@router.post("/people/{person_id}/cards/{card_id}/delete")
async def remove_card_form(
    person_id: Id, card_id: Id, db: DB, person: ManagerOrAdmin
) -> RedirectResponse:
    card = await db.get(IdCard, card_id)
    if card is None or card.person_id != person_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"card {card_id} not found")
    await revoke_card(db, card, person)
    await db.commit()
    return RedirectResponse(f"/people/{person_id}/cards", status_code=303)
