"""The organisation's pages for the training office: units (list, add, change, deactivate) and a
person's record (add, change, mark left; an administrator's password reset). Forms post here and
go through classroom/organisation.py like the API; a refusal is shown on the form, beside what
caused it, with what was typed kept."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from classroom.db.models import Person, Role, SquadType, Unit, UnitKind
from classroom.organisation import (
    OrgError,
    PersonFields,
    UnitFields,
    grantable,
    reset_password,
    save_person,
    save_unit,
)
from web.deps import DB, ManagerOrAdmin
from web.pages.common import render
from web.schemas import Id

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=200)]


async def _undo(db: DB, viewer: Person) -> None:
    """Roll a refused change back, and read the viewer again for the page (a rollback expires
    what the session had loaded)."""
    await db.rollback()
    await db.refresh(viewer)


async def _units(db: DB) -> list[Unit]:
    return list(await db.scalars(select(Unit).order_by(Unit.active.desc(), Unit.name)))


@router.get("/units", response_class=HTMLResponse)
async def units_page(request: Request, db: DB, person: ManagerOrAdmin) -> HTMLResponse:
    return render(request, "units.html", person, units=await _units(db), form={}, error=None)


def _unit_fields(
    name: str, kind: str, squad_type: str, adjacent: str, parent_id: str, active: str | None
) -> UnitFields:
    try:
        return UnitFields(
            name=name.strip() or None,
            kind=UnitKind(kind) if kind else None,
            squad_type=SquadType(squad_type) if squad_type else None,
            adjacent_district=adjacent == "yes",
            parent_id=int(parent_id) if parent_id else None,
            active=None if active is None else active == "yes",
        )
    except ValueError:
        raise OrgError(422, "unit_incomplete", "choose the unit's kind from the list") from None


@router.post("/units", response_model=None)
async def unit_form(
    request: Request,
    db: DB,
    person: ManagerOrAdmin,
    name: Text,
    kind: Annotated[str, Form(max_length=20)] = "",
    squad_type: Annotated[str, Form(max_length=20)] = "",
    adjacent: Annotated[str, Form(max_length=3)] = "",
    parent_id: Annotated[str, Form(max_length=12)] = "",
    unit_id: Annotated[str, Form(max_length=12)] = "",
    active: Annotated[str | None, Form(max_length=3)] = None,
) -> Response:
    """Add a unit (no ``unit_id``) or change one."""
    form = {"name": name, "kind": kind, "squad_type": squad_type, "unit_id": unit_id}
    try:
        unit = await db.get(Unit, int(unit_id)) if unit_id.isdigit() else None
        if unit_id and unit is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unit {unit_id} not found")
        fields = _unit_fields(name, kind, squad_type, adjacent, parent_id, active)
        await save_unit(db, person, unit, fields)
    except OrgError as exc:
        await _undo(db, person)
        return render(
            request,
            "units.html",
            person,
            status_code=exc.status,
            units=await _units(db),
            form=form,
            error=exc.code,
        )
    await db.commit()
    return RedirectResponse("/units", status_code=303)


def _person_form(p: Person | None) -> dict[str, Any]:
    if p is None:
        return {"roles": ["officer"], "enforcement_staff": True, "active": True, "leads": []}
    return {
        "username": p.username,
        "display_name": p.display_name,
        "badge_no": p.badge_no or "",
        "unit_id": p.unit_id,
        "roles": sorted(r.value for r in p.roles),
        "hired_on": p.hired_on.isoformat() if p.hired_on else "",
        "enforcement_staff": p.enforcement_staff,
        "phone": p.phone or "",
        "email": p.email or "",
        "active": p.active,
        "leads": sorted(p.led_unit_ids),
    }


async def _person_page(
    request: Request,
    db: DB,
    viewer: Person,
    target: Person | None,
    form: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
    temporary: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "person_edit.html",
        viewer,
        status_code=status_code,
        target=target,
        form=form,
        error=error,
        units=[u for u in await _units(db) if u.active],
        roles=[r for r in Role if r in grantable(viewer)],
        temporary=temporary,
    )


@router.get("/people/new", response_class=HTMLResponse)
async def new_person_page(request: Request, db: DB, person: ManagerOrAdmin) -> HTMLResponse:
    return await _person_page(request, db, person, None, _person_form(None))


@router.get("/people/{person_id}/edit", response_class=HTMLResponse)
async def edit_person_page(
    person_id: Id, request: Request, db: DB, person: ManagerOrAdmin
) -> HTMLResponse:
    target = await db.get(Person, person_id)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    return await _person_page(request, db, person, target, _person_form(target))


@router.post("/people/save", response_model=None)
async def person_form(
    request: Request,
    db: DB,
    person: ManagerOrAdmin,
    display_name: Text,
    person_id: Annotated[str, Form(max_length=12)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    badge_no: Annotated[str, Form(max_length=32)] = "",
    unit_id: Annotated[str, Form(max_length=12)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    hired_on: Annotated[str, Form(max_length=10)] = "",
    enforcement_staff: Annotated[str, Form(max_length=3)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    active: Annotated[str, Form(max_length=3)] = "",
    leads: Annotated[list[str] | None, Form(max_length=50)] = None,
) -> Response:
    """Add a person (no ``person_id``) or change one; a refusal keeps what was typed."""
    target = await db.get(Person, int(person_id)) if person_id.isdigit() else None
    if person_id and target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    form: dict[str, Any] = {
        "username": username if target is None else target.username,
        "display_name": display_name,
        "badge_no": badge_no,
        "unit_id": int(unit_id) if unit_id.isdigit() else None,
        "roles": roles or [],
        "hired_on": hired_on,
        "enforcement_staff": enforcement_staff == "yes",
        "phone": phone,
        "email": email,
        "active": active == "yes" if target is not None else True,
        "leads": [int(u) for u in leads or [] if u.isdigit()],
    }
    try:
        try:
            hired = date.fromisoformat(hired_on) if hired_on else None
            chosen = frozenset(Role(r) for r in roles or [])
        except ValueError:
            raise OrgError(422, "person_incomplete", "a date or a role is not valid") from None
        if not chosen:
            raise OrgError(422, "person_incomplete", "choose at least one role")
        fields = PersonFields(
            username=username.strip() or None,
            display_name=display_name.strip() or None,
            badge_no=badge_no.strip() or None,
            unit_id=form["unit_id"],
            roles=chosen,
            hired_on=hired,
            enforcement_staff=form["enforcement_staff"],
            phone=phone.strip() or None,
            email=email.strip() or None,
            active=form["active"] if target is not None else None,
            leads_unit_ids=frozenset(form["leads"]),
        )
        saved = await save_person(db, person, target, fields)
    except OrgError as exc:
        await _undo(db, person)
        target = await db.get(Person, int(person_id)) if person_id.isdigit() else None
        return await _person_page(
            request, db, person, target, form, error=exc.code, status_code=exc.status
        )
    await db.commit()
    return RedirectResponse(f"/people/{saved.id}/edit?saved=1", status_code=303)


@router.post("/people/{person_id}/password-reset", response_class=HTMLResponse)
async def password_reset_form(
    person_id: Id, request: Request, db: DB, person: ManagerOrAdmin
) -> HTMLResponse:
    """An administrator's reset: the one-time password is shown on this page, once."""
    target = await db.get(Person, person_id)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    try:
        temporary = await reset_password(db, person, target)
    except OrgError as exc:
        raise HTTPException(exc.status, {"code": exc.code, "message": str(exc)}) from None
    await db.commit()
    return await _person_page(
        request, db, person, target, _person_form(target), temporary=temporary
    )
