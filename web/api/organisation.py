"""The organisation, kept by the training office without SQL: units and people (created, changed,
deactivated — never deleted), an administrator's password reset, everyone's own password change.
Managers change trainers and officers; only administrators make or change managers and admins.
Every change is audited with its before and after (classroom/organisation.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from classroom.db.models import Person, Role, SquadType, Unit, UnitKind
from classroom.organisation import (
    OrgError,
    PersonFields,
    UnitFields,
    change_own_password,
    reset_password,
    save_person,
    save_unit,
)
from classroom.scope import sees_unit, unit_scope
from web.deps import DB, Admin, CurrentPerson, ManagerOrAdmin
from web.schemas import Id, Strict

router = APIRouter(tags=["organisation"])

Name = Annotated[str, Field(min_length=1, max_length=100)]
Badge = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 -]{5,32}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")]


def _refused(exc: OrgError) -> NoReturn:
    raise HTTPException(exc.status, {"code": exc.code, "message": str(exc)}) from None


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: UnitKind
    squad_type: SquadType | None
    adjacent_district: bool
    parent_id: int | None
    active: bool


class UnitIn(Strict):
    name: Name
    kind: UnitKind
    squad_type: SquadType | None = None
    adjacent_district: bool = False
    parent_id: Id | None = None


class UnitPatch(Strict):
    name: Name | None = None
    kind: UnitKind | None = None
    squad_type: SquadType | None = None
    adjacent_district: bool | None = None
    parent_id: Id | None = None
    active: bool | None = None


@router.get("/units", response_model=list[UnitOut])
async def list_units(db: DB, _: CurrentPerson, active: bool | None = None) -> list[Unit]:
    q = select(Unit).order_by(Unit.name)
    if active is not None:
        q = q.where(Unit.active.is_(active))
    return list(await db.scalars(q))


@router.post("/units", response_model=UnitOut, status_code=status.HTTP_201_CREATED)
async def create_unit(body: UnitIn, db: DB, actor: ManagerOrAdmin) -> Unit:
    try:
        unit = await save_unit(db, actor, None, UnitFields(**body.model_dump()))
    except OrgError as exc:
        _refused(exc)
    await db.commit()
    return unit


@router.patch("/units/{unit_id}", response_model=UnitOut)
async def update_unit(unit_id: Id, body: UnitPatch, db: DB, actor: ManagerOrAdmin) -> Unit:
    """What is left out stays as it was; ``active: false`` deactivates a unit nobody active is
    in any more."""
    unit = await db.get(Unit, unit_id)
    if unit is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unit {unit_id} not found")
    try:
        await save_unit(db, actor, unit, UnitFields(**body.model_dump()))
    except OrgError as exc:
        _refused(exc)
    await db.commit()
    return unit


class PersonDetailOut(BaseModel):
    id: int
    username: str
    display_name: str
    badge_no: str | None
    unit_id: int | None
    roles: list[Role]
    hired_on: date | None
    enforcement_staff: bool
    phone: str | None
    email: str | None
    active: bool
    must_change_password: bool
    leads_unit_ids: list[int]  # 科队负责人 of these units

    @classmethod
    def of(cls, p: Person) -> PersonDetailOut:
        return cls(
            id=p.id,
            username=p.username,
            display_name=p.display_name,
            badge_no=p.badge_no,
            unit_id=p.unit_id,
            roles=sorted(p.roles),
            hired_on=p.hired_on,
            enforcement_staff=p.enforcement_staff,
            phone=p.phone,
            email=p.email,
            active=p.active,
            must_change_password=p.must_change_password,
            leads_unit_ids=sorted(p.led_unit_ids),
        )


class PersonIn(Strict):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{2,64}$")
    display_name: Name
    roles: list[Role] = Field(min_length=1, max_length=4)
    badge_no: Badge | None = None
    unit_id: Id | None = None
    hired_on: date | None = None
    enforcement_staff: bool = True
    phone: Phone | None = None
    email: Email | None = None
    leads_unit_ids: list[Id] = Field(default_factory=list, max_length=50)


class PersonPatch(Strict):
    display_name: Name | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    badge_no: Badge | None = None
    unit_id: Id | None = None
    hired_on: date | None = None
    enforcement_staff: bool | None = None
    phone: Phone | None = None
    email: Email | None = None
    active: bool | None = None  # false: left (their login sessions end), never deleted
    leads_unit_ids: list[Id] | None = Field(default=None, max_length=50)  # [] : leads none


def _fields(body: PersonIn | PersonPatch) -> PersonFields:
    data = body.model_dump()
    roles, leads = data.pop("roles"), data.pop("leads_unit_ids")
    return PersonFields(
        **data,
        roles=frozenset(roles) if roles is not None else None,
        leads_unit_ids=frozenset(leads) if leads is not None else None,
    )


async def _person(db: DB, person_id: Id) -> Person:
    person = await db.get(Person, person_id)
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    return person


@router.get("/people", response_model=list[PersonDetailOut])
async def list_people(
    db: DB,
    viewer: CurrentPerson,
    unit: Id | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PersonDetailOut]:
    """By unit, active or left, and a name, username or badge number containing ``q``. A unit
    leader lists the people of the units they lead."""
    scope = unit_scope(viewer)
    if scope is not None and not scope:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the role manager or admin")
    query = select(Person).order_by(Person.display_name, Person.id).limit(limit).offset(offset)
    if scope is not None:
        query = query.where(Person.unit_id.in_(scope))
    if unit is not None:
        query = query.where(Person.unit_id == unit)
    if active is not None:
        query = query.where(Person.active.is_(active))
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(
                Person.display_name.ilike(like),
                Person.username.ilike(like),
                Person.badge_no.ilike(like),
            )
        )
    return [PersonDetailOut.of(p) for p in await db.scalars(query)]


@router.post("/people", response_model=PersonDetailOut, status_code=status.HTTP_201_CREATED)
async def create_person(body: PersonIn, db: DB, actor: ManagerOrAdmin) -> PersonDetailOut:
    """Without a password: an officer who never logs in needs none; an administrator's reset
    gives one when it is wanted."""
    try:
        person = await save_person(db, actor, None, _fields(body))
    except OrgError as exc:
        _refused(exc)
    await db.commit()
    return PersonDetailOut.of(await _person(db, person.id))


@router.get("/people/{person_id}", response_model=PersonDetailOut)
async def get_person(person_id: Id, db: DB, viewer: CurrentPerson) -> PersonDetailOut:
    person = await _person(db, person_id)
    if viewer.id != person_id and not sees_unit(viewer, person.unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {person_id} not found")
    return PersonDetailOut.of(person)


@router.patch("/people/{person_id}", response_model=PersonDetailOut)
async def update_person(
    person_id: Id, body: PersonPatch, db: DB, actor: ManagerOrAdmin
) -> PersonDetailOut:
    person = await _person(db, person_id)
    try:
        await save_person(db, actor, person, _fields(body))
    except OrgError as exc:
        _refused(exc)
    await db.commit()
    return PersonDetailOut.of(await _person(db, person_id))


class TemporaryPassword(BaseModel):
    temporary_password: str  # shown once; it must be changed at the next login


@router.post("/people/{person_id}/password-reset", response_model=TemporaryPassword)
async def password_reset(person_id: Id, db: DB, actor: Admin) -> TemporaryPassword:
    person = await _person(db, person_id)
    try:
        temporary = await reset_password(db, actor, person)
    except OrgError as exc:
        _refused(exc)
    await db.commit()
    return TemporaryPassword(temporary_password=temporary)


class PasswordChangeIn(Strict):
    current: str = Field(min_length=1, max_length=200)
    new: str = Field(min_length=1, max_length=200)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChangeIn, db: DB, person: CurrentPerson) -> None:
    try:
        await change_own_password(db, person, body.current, body.new)
    except OrgError as exc:
        _refused(exc)
    await db.commit()
