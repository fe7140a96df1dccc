"""The classroom dashboard (each agent's heartbeat, alerts and preview; silent agents flagged),
and the classrooms' setup: classrooms, their agents and kiosks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from classroom.db.models import Classroom, Device, DeviceKind, Person
from web.api.classrooms import ClassroomIn, classroom_status, create_classroom
from web.api.devices import DeviceIn, add_device, revoke_by_id
from web.deps import DB, Admin, ManagerOrAdmin, Staff
from web.pages.common import render
from web.schemas import Id

router = APIRouter(include_in_schema=False)


@router.get("/classrooms", response_class=HTMLResponse)
async def dashboard(request: Request, db: DB, person: Staff) -> HTMLResponse:
    rooms = await classroom_status(request, db)
    return render(request, "classrooms.html", person, rooms=rooms, refresh=True)


async def _setup_page(
    request: Request,
    db: DB,
    person: Person,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    new_token: tuple[Device, str] | None = None,
) -> HTMLResponse:
    rooms = list(await db.scalars(select(Classroom).order_by(Classroom.name)))
    devices = list(await db.scalars(select(Device).order_by(Device.classroom_id, Device.id)))
    return render(
        request,
        "classrooms_setup.html",
        person,
        status_code=status_code,
        rooms=rooms,
        devices={r.id: [d for d in devices if d.classroom_id == r.id] for r in rooms},
        error=error,
        form=form or {},
        new_token=new_token,
    )


@router.get("/classrooms/setup", response_class=HTMLResponse)
async def setup_page(request: Request, db: DB, person: ManagerOrAdmin) -> HTMLResponse:
    """Classrooms and their devices: a classroom added by the training office, its agent and
    kiosk by an administrator (each token shown once), a lost device revoked."""
    return await _setup_page(request, db, person)


@router.post("/classrooms/setup", response_model=None)
async def add_classroom_form(
    request: Request,
    db: DB,
    person: ManagerOrAdmin,
    name: Annotated[str, Form(max_length=100)],
    location: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "location": location}
    try:
        body = ClassroomIn(name=name.strip(), location=location.strip())
        await create_classroom(body, db, person)
    except ValidationError:
        return await _setup_page(request, db, person, 422, "classroom_name", form)
    except HTTPException as exc:
        await db.rollback()
        await db.refresh(person)
        return await _setup_page(request, db, person, exc.status_code, "classroom_exists", form)
    return RedirectResponse("/classrooms/setup", status_code=303)


@router.post("/classrooms/{classroom_id}/devices", response_class=HTMLResponse)
async def add_device_form(
    classroom_id: Id,
    request: Request,
    db: DB,
    admin: Admin,
    kind: Annotated[DeviceKind, Form()],
    name: Annotated[str, Form(min_length=1, max_length=100)],
) -> HTMLResponse:
    """The token is on this page, once: the device's settings take it."""
    body = DeviceIn(classroom_id=classroom_id, kind=kind, name=name)
    device, token = await add_device(db, admin, body)
    return await _setup_page(request, db, admin, new_token=(device, token))


@router.post("/classrooms/devices/{device_id}/revoke")
async def revoke_device_form(device_id: Id, db: DB, admin: Admin) -> RedirectResponse:
    await revoke_by_id(db, admin, device_id)
    return RedirectResponse("/classrooms/setup", status_code=303)
