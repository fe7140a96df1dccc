"""Devices, for admins: add one to a classroom (its token shown once), list, revoke. Audited."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from classroom.audit import audit
from classroom.db.models import Classroom, Device, DeviceKind, Person
from classroom.devices import create_device, revoke_device
from web.deps import DB, Admin
from web.schemas import DeviceOut, Id, Strict

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceIn(Strict):
    classroom_id: Id
    kind: DeviceKind
    name: str = Field(min_length=1, max_length=100)


class NewDeviceOut(BaseModel):
    device: DeviceOut
    token: str  # shown once: the device's configuration takes it; only its hash is kept


async def add_device(db: DB, admin: Person, body: DeviceIn) -> tuple[Device, str]:
    if await db.get(Classroom, body.classroom_id) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"no classroom {body.classroom_id}"
        )
    device, token = await create_device(db, body.classroom_id, body.kind, body.name.strip())
    await audit(db, admin, "device.create", f"device:{device.id}", **body.model_dump(mode="json"))
    await db.commit()
    return device, token


@router.post("", response_model=NewDeviceOut, status_code=status.HTTP_201_CREATED)
async def create(body: DeviceIn, db: DB, admin: Admin) -> NewDeviceOut:
    """A classroom's agent or kiosk, and its token — shown this once."""
    device, token = await add_device(db, admin, body)
    return NewDeviceOut(device=DeviceOut.model_validate(device), token=token)


@router.get("", response_model=list[DeviceOut])
async def list_devices(db: DB, _: Admin) -> list[Device]:
    return list(await db.scalars(select(Device).order_by(Device.id)))


async def revoke_by_id(db: DB, admin: Person, device_id: int) -> Device:
    device = await db.get(Device, device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id} not found")
    await revoke_device(db, device)
    await audit(db, admin, "device.revoke", f"device:{device.id}")
    await db.commit()
    return device


@router.post("/{device_id}/revoke", response_model=DeviceOut)
async def revoke(device_id: Id, db: DB, admin: Admin) -> Device:
    return await revoke_by_id(db, admin, device_id)
