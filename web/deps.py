"""Request dependencies: database session, the logged-in person, role checks, device tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import Device, DeviceKind, Person, Role
from classroom.db.types import utcnow
from classroom.devices import device_for_token, last_seen_due
from classroom.people import person_for_login_token
from classroom.runtime import Services

SESSION_COOKIE = "classroom_session"


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with services(request).sessionmaker() as db:
        yield db


DB = Annotated[AsyncSession, Depends(db_session)]


# What a person whose password was reset may still do before choosing a new one.
PASSWORD_CHANGE_PATHS = frozenset(
    {"/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout", "/account/password", "/logout"}
)


@dataclass(frozen=True)
class Viewer:
    """Who is looking, as the page's header needs it: kept on the request so that a refusal's
    page still has its navigation once the database session is gone."""

    display_name: str
    roles: frozenset[Role]
    led_unit_ids: frozenset[int]

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


async def current_person(request: Request, db: DB) -> Person:
    token = request.cookies.get(SESSION_COOKIE)
    person = await person_for_login_token(db, token) if token else None
    if person is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "login required")
    request.state.viewer = Viewer(person.display_name, frozenset(person.roles), person.led_unit_ids)
    if person.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        if request.url.path.startswith("/api/"):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                {
                    "code": "password_change_required",
                    "message": "your password was reset: choose a new one first "
                    "(POST /api/v1/me/password)",
                },
            )
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": "/account/password"})
    return person


CurrentPerson = Annotated[Person, Depends(current_person)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Person]]:
    async def check(person: CurrentPerson) -> Person:
        if not person.has_role(*roles):
            need = " or ".join(r.value for r in roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {need}")
        return person

    return check


ManagerOrAdmin = Annotated[Person, Depends(require_role(Role.MANAGER, Role.ADMIN))]
Admin = Annotated[Person, Depends(require_role(Role.ADMIN))]
Staff = Annotated[Person, Depends(require_role(Role.TRAINER, Role.MANAGER, Role.ADMIN))]

_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _device_token(creds: Bearer) -> str:  # async: a plain def would go to a thread
    if creds is None:
        check_device_kind(None, DeviceKind.KIOSK)  # 401, before the body is looked at
    assert creds is not None
    return creds.credentials


# A bearer token is there; whether it is a device's, and which, is for the caller to find out.
DeviceToken = Annotated[str, Depends(_device_token)]


def check_device_kind(found: DeviceKind | None, kind: DeviceKind) -> None:
    """401 for a token that is missing, unknown or revoked (``found`` None), 403 for a device of
    another kind."""
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing, unknown or revoked device token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if found != kind:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this needs a device token of kind {kind.value}"
        )


def require_device(kind: DeviceKind) -> Callable[..., Coroutine[Any, Any, Device]]:
    """A device's bearer token, of the given kind (agent or kiosk), not revoked."""

    async def check(db: DB, creds: Bearer) -> Device:
        device = await device_for_token(db, creds.credentials) if creds else None
        check_device_kind(device.kind if device else None, kind)
        assert device is not None
        now = utcnow()
        if last_seen_due(device.last_seen_at, now):
            device.last_seen_at = now
        return device

    return check


CurrentAgent = Annotated[Device, Depends(require_device(DeviceKind.AGENT))]
CurrentKiosk = Annotated[Device, Depends(require_device(DeviceKind.KIOSK))]
