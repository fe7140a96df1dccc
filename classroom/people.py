"""People: creation, password login, and browser login sessions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import LoginSession, Person, PersonRole, Role
from classroom.db.types import utcnow
from classroom.security import hash_password, new_token, token_hash, verify_password_off_loop

MIN_PASSWORD_LEN = 8


class PersonError(ValueError):
    pass


async def create_person(
    db: AsyncSession,
    username: str,
    display_name: str,
    roles: Iterable[Role],
    password: str | None = None,
    unit_id: int | None = None,
    badge_no: str | None = None,
) -> Person:
    if await db.scalar(select(Person.id).where(Person.username == username)) is not None:
        raise PersonError(f"username {username!r} is taken")
    if password is not None and len(password) < MIN_PASSWORD_LEN:
        raise PersonError(f"password must have at least {MIN_PASSWORD_LEN} characters")
    person = Person(
        username=username,
        display_name=display_name,
        unit_id=unit_id,
        badge_no=badge_no,
        password_hash=hash_password(password) if password else None,
        role_rows=[PersonRole(role=r) for r in sorted(set(roles))],
    )
    db.add(person)
    await db.flush()
    return person


async def authenticate(db: AsyncSession, username: str, password: str) -> Person | None:
    person = await db.scalar(select(Person).where(Person.username == username))
    ok = await verify_password_off_loop(person.password_hash if person else None, password)
    if person is None or not ok or not person.active:
        return None
    return person


async def open_login_session(db: AsyncSession, person: Person, ttl: timedelta) -> str:
    token = new_token("sess")
    db.add(
        LoginSession(token_hash=token_hash(token), person_id=person.id, expires_at=utcnow() + ttl)
    )
    await db.flush()
    return token


async def person_for_login_token(db: AsyncSession, token: str) -> Person | None:
    row = await db.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    if row is None or row.expires_at <= utcnow() or not row.person.active:
        return None
    return row.person


async def close_login_session(db: AsyncSession, token: str) -> None:
    await db.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))
