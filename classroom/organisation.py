"""The bureau's organisation as the training office keeps it: units and people, changed only by
those whose role allows it, every change audited, nothing deleted (deactivated instead: history
keeps its references), passwords reset by an administrator and changed by their owner."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.db.models import (
    Classroom,
    LoginSession,
    Person,
    PersonRole,
    Role,
    SquadType,
    Unit,
    UnitKind,
    UnitLeader,
)
from classroom.people import MIN_PASSWORD_LEN
from classroom.security import hash_password_off_loop, verify_password_off_loop

# Who may give which roles (and so change the people who hold them): a manager runs the
# training office's people, never someone who could then manage them.
GRANTS: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.MANAGER: frozenset({Role.TRAINER, Role.OFFICER}),
}


class OrgError(ValueError):
    """A change refused: ``status`` is the HTTP status that fits (403, 404, 409, 422)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def grantable(actor: Person) -> frozenset[Role]:
    return frozenset().union(*(GRANTS.get(r, frozenset()) for r in actor.roles))


def check_may_change(actor: Person, roles: set[Role] | frozenset[Role]) -> None:
    """Refused unless ``actor`` may give every one of ``roles`` (a person's roles before and
    after a change both count: a manager may neither make nor unmake an administrator)."""
    beyond = set(roles) - grantable(actor)
    if beyond:
        raise OrgError(
            403,
            "role_not_grantable",
            f"only an administrator may change people with the role "
            f"{', '.join(sorted(r.value for r in beyond))}",
        )


@dataclass(frozen=True)
class UnitFields:
    name: str | None = None
    kind: UnitKind | None = None
    squad_type: SquadType | None = None
    adjacent_district: bool | None = None
    parent_id: int | None = None
    active: bool | None = None


def unit_json(unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "kind": unit.kind.value,
        "squad_type": unit.squad_type.value if unit.squad_type else None,
        "adjacent_district": unit.adjacent_district,
        "parent_id": unit.parent_id,
        "active": unit.active,
    }


async def _check_parent(db: AsyncSession, unit: Unit, parent_id: int | None) -> None:
    seen = {unit.id} if unit.id is not None else set()
    at = parent_id
    while at is not None:
        if at in seen:
            raise OrgError(422, "unit_cycle", f"unit {parent_id} lies under this unit")
        seen.add(at)
        parent = await db.get(Unit, at)
        if parent is None:
            raise OrgError(422, "no_such_unit", f"no unit {at}")
        at = parent.parent_id


async def save_unit(db: AsyncSession, actor: Person, unit: Unit | None, f: UnitFields) -> Unit:
    """Create (``unit`` None) or change a unit; audited with before and after."""
    before = unit_json(unit) if unit is not None else None
    if unit is None:
        if f.name is None or f.kind is None:
            raise OrgError(422, "unit_incomplete", "a new unit needs a name and a kind")
        unit = Unit(name=f.name, kind=f.kind, adjacent_district=False, active=True)
        db.add(unit)
    for name in ("name", "kind", "squad_type", "adjacent_district"):
        if (value := getattr(f, name)) is not None:
            setattr(unit, name, value)
    if f.parent_id is not None:
        await _check_parent(db, unit, f.parent_id)
        unit.parent_id = f.parent_id
    if unit.kind != UnitKind.SQUAD:
        unit.squad_type = None
    if f.active is False and unit.active and unit.id is not None:
        members = await db.scalar(
            select(func.count(Person.id)).where(Person.unit_id == unit.id, Person.active)
        )
        if members:
            raise OrgError(
                409,
                "unit_has_people",
                f"{members} active people are in this unit: move them or mark them left first",
            )
    if f.active is not None:
        unit.active = f.active
    try:
        await db.flush()
    except IntegrityError:
        raise OrgError(409, "unit_exists", f"a unit named {unit.name!r} exists") from None
    action = "unit.create" if before is None else "unit.update"
    await audit(db, actor, action, f"unit:{unit.id}", before=before, after=unit_json(unit))
    return unit


@dataclass(frozen=True)
class PersonFields:
    username: str | None = None
    display_name: str | None = None
    badge_no: str | None = None
    unit_id: int | None = None
    roles: frozenset[Role] | None = None
    hired_on: date | None = None
    enforcement_staff: bool | None = None
    phone: str | None = None
    email: str | None = None
    active: bool | None = None
    leads_unit_ids: frozenset[int] | None = None  # the units this person leads (科队负责人)


def person_json(p: Person) -> dict[str, Any]:
    return {
        "username": p.username,
        "display_name": p.display_name,
        "badge_no": p.badge_no,
        "unit_id": p.unit_id,
        "roles": sorted(r.value for r in p.roles),
        "hired_on": p.hired_on.isoformat() if p.hired_on else None,
        "enforcement_staff": p.enforcement_staff,
        "phone": p.phone,
        "email": p.email,
        "active": p.active,
        "leads_unit_ids": sorted(p.led_unit_ids),
    }


async def save_person(
    db: AsyncSession, actor: Person, person: Person | None, f: PersonFields
) -> Person:
    """Create (``person`` None) or change a person; roles only within what ``actor`` may give;
    marked left (``active`` false), their login sessions end. Audited with before and after."""
    before = person_json(person) if person is not None else None
    check_may_change(actor, (person.roles if person else frozenset()) | (f.roles or frozenset()))
    if f.unit_id is not None:
        unit = await db.get(Unit, f.unit_id)
        if unit is None or not unit.active:
            raise OrgError(422, "no_such_unit", f"no active unit {f.unit_id}")
    for unit_id in sorted(f.leads_unit_ids or ()):
        led = await db.get(Unit, unit_id)
        if led is None or not led.active:
            raise OrgError(422, "no_such_unit", f"no active unit {unit_id} to lead")
    if person is None:
        if not f.username or not f.display_name or not f.roles:
            raise OrgError(
                422, "person_incomplete", "a new person needs a username, a name and a role"
            )
        person = Person(username=f.username, display_name=f.display_name, active=True)
        db.add(person)
    for name in (
        "display_name",
        "badge_no",
        "unit_id",
        "hired_on",
        "enforcement_staff",
        "phone",
        "email",
        "active",
    ):
        if (value := getattr(f, name)) is not None:
            setattr(person, name, value)
    if f.roles is not None:
        person.role_rows = [PersonRole(role=r) for r in sorted(f.roles)]
    if f.leads_unit_ids is not None:
        person.lead_rows = [UnitLeader(unit_id=u) for u in sorted(f.leads_unit_ids)]
    try:
        await db.flush()
    except IntegrityError:
        raise OrgError(
            409, "person_exists", "the username or the badge number belongs to someone else"
        ) from None
    if f.active is False:
        await db.execute(delete(LoginSession).where(LoginSession.person_id == person.id))
    action = "person.create" if before is None else "person.update"
    await audit(db, actor, action, f"person:{person.id}", before=before, after=person_json(person))
    return person


async def reset_password(db: AsyncSession, actor: Person, person: Person) -> str:
    """An administrator's reset: a one-time password to hand over, changed at the next login;
    the person's open sessions end."""
    if not actor.has_role(Role.ADMIN):
        raise OrgError(403, "admin_only", "only an administrator resets passwords")
    temporary = secrets.token_urlsafe(9)
    person.password_hash = await hash_password_off_loop(temporary)
    person.must_change_password = True
    await db.execute(delete(LoginSession).where(LoginSession.person_id == person.id))
    await audit(db, actor, "person.password_reset", f"person:{person.id}")
    return temporary


async def change_own_password(db: AsyncSession, person: Person, current: str, new: str) -> None:
    if not await verify_password_off_loop(person.password_hash, current):
        raise OrgError(422, "wrong_password", "the current password is not right")
    if len(new) < MIN_PASSWORD_LEN:
        raise OrgError(
            422, "password_short", f"a password needs at least {MIN_PASSWORD_LEN} characters"
        )
    if new == current:
        raise OrgError(422, "password_same", "the new password must differ from the current one")
    person.password_hash = await hash_password_off_loop(new)
    person.must_change_password = False
    await audit(db, person, "person.password_change", f"person:{person.id}")


async def add_classroom(db: AsyncSession, actor: Person, name: str, location: str) -> Classroom:
    """A classroom and where it is (audited); its agent and kiosk are devices added to it."""
    room = Classroom(name=name, location=location)
    db.add(room)
    try:
        await db.flush()
    except IntegrityError:
        raise OrgError(409, "classroom_exists", f"a classroom named {name!r} exists") from None
    await audit(db, actor, "classroom.create", f"classroom:{room.id}", name=name, location=location)
    return room
