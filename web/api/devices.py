"""Devices, for admins: list and revoke."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from classroom.db.models import Device
from classroom.devices import revoke_device
from web.deps import DB, Admin
from web.schemas import DeviceOut, Id

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DeviceOut])
async def list_devices(db: DB, _: Admin) -> list[Device]:
    return list(await db.scalars(select(Device).order_by(Device.id)))


@router.post("/{device_id}/revoke", response_model=DeviceOut)
async def revoke(device_id: Id, db: DB, _: Admin) -> Device:
    device = await db.get(Device, device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id} not found")
    await revoke_device(db, device)
    await db.commit()
    return device
