"""Devices (agents, kiosks) and their revocable tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import Device, DeviceKind
from classroom.db.types import utcnow
from classroom.security import new_token, token_hash

# A device's last_seen_at is written at most this often: a busy kiosk or agent must not queue its
# requests on updates of its own row (the dashboard's threshold is tens of seconds).
LAST_SEEN_EVERY = timedelta(seconds=5)


def last_seen_due(last_seen_at: datetime | None, now: datetime) -> bool:
    return last_seen_at is None or now - last_seen_at > LAST_SEEN_EVERY


async def create_device(
    db: AsyncSession, classroom_id: int, kind: DeviceKind, name: str
) -> tuple[Device, str]:
    """Returns the device and its token; the token is not stored and cannot be shown again."""
    token = new_token(kind.value)
    device = Device(classroom_id=classroom_id, kind=kind, name=name, token_hash=token_hash(token))
    db.add(device)
    await db.flush()
    return device, token


async def device_for_token(db: AsyncSession, token: str) -> Device | None:
    device = await db.scalar(select(Device).where(Device.token_hash == token_hash(token)))
    if device is None or device.revoked_at is not None:
        return None
    return device


async def revoke_device(db: AsyncSession, device: Device) -> None:
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        await db.flush()


async def rotate_device_token(db: AsyncSession, device: Device) -> str:
    """A new token for the device; the old one stops working at once."""
    token = new_token(device.kind.value)
    device.token_hash = token_hash(token)
    device.revoked_at = None
    await db.flush()
    return token
