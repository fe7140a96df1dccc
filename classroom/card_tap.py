"""A card tapped at a kiosk, in two statements: one read that learns everything the tap depends on
(the kiosk by its token, the card's holder and whether they are an officer, the session open in the
kiosk's classroom, the holder's latest check-in there, an earlier delivery of the same event), then
one insert — no ORM objects and no transaction around them.

This is the kiosk's busiest call (a class of forty at the door in a minute, every classroom at the
hour), so it is built once as SQL Core and runs in autocommit; the rules are those of
``classroom.checkin`` (the ORM path the face check-in and the agent use), and the kiosk tests hold
it to them on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy import ClauseElement, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update

from classroom.db.models import (
    Attendance,
    AttendanceSource,
    Classroom,
    Device,
    DeviceKind,
    IdCard,
    Person,
    PersonRole,
    Role,
    Session,
)
from classroom.devices import last_seen_due
from classroom.faces.enrollment import normalise_card

# Same as classroom.checkin: open from open_before ahead of its start until its (actual) end.
_open = aliased(Session, name="open_session")
_latest = aliased(Attendance, name="latest")
_seen = aliased(Attendance, name="seen")
_seen_session = aliased(Session, name="seen_session")

_open_id = (
    select(_open.id)
    .where(
        _open.classroom_id == Device.classroom_id,
        _open.planned_start <= bindparam("start_by"),
        func.coalesce(_open.actual_end, _open.planned_end) > bindparam("now"),
    )
    .order_by(_open.planned_start)
    .limit(1)
    .scalar_subquery()
)
_current = aliased(Session, name="current")
_latest_id = (
    select(Attendance.id)
    .where(Attendance.session_id == _current.id, Attendance.person_id == Person.id)
    .order_by(Attendance.check_in.desc())
    .limit(1)
    .scalar_subquery()
)
_officer = exists().where(PersonRole.person_id == Person.id, PersonRole.role == Role.OFFICER)

TAP = (
    select(
        Device.id.label("device_id"),
        Device.kind,
        Device.revoked_at,
        Device.last_seen_at,
        Device.classroom_id,
        Classroom.two_factor,
        Person.id.label("person_id"),
        Person.display_name,
        Person.active,
        _officer.label("officer"),
        _current.id.label("session_id"),
        _current.title.label("session_title"),
        _latest.check_in.label("latest_in"),
        _latest.check_out.label("latest_out"),
        _seen.check_in.label("seen_in"),
        _seen_session.id.label("seen_session_id"),
        _seen_session.title.label("seen_session_title"),
    )
    .select_from(Device)
    .join(Classroom, Classroom.id == Device.classroom_id)
    .outerjoin(IdCard, IdCard.card_no == bindparam("card_no"))
    .outerjoin(Person, Person.id == IdCard.person_id)
    .outerjoin(_current, _current.id == _open_id)
    .outerjoin(_latest, _latest.id == _latest_id)
    .outerjoin(_seen, _seen.event_uid == bindparam("event_uid"))
    .outerjoin(_seen_session, _seen_session.id == _seen.session_id)
    .where(Device.token_hash == bindparam("token_hash"))
)


INSERT = insert(Attendance).values(
    event_uid=bindparam("event_uid"),
    session_id=bindparam("session_id"),
    person_id=bindparam("person_id"),
    check_in=bindparam("now"),  # early is fine: presence is measured from the session's start
    check_out=None,
    source=AttendanceSource.KIOSK,
    recorded_by_id=None,
    reason="card",
    created_at=bindparam("now"),
)
SEEN = (
    update(Device).where(Device.id == bindparam("device_id")).values(last_seen_at=bindparam("now"))
)


@dataclass(frozen=True)
class Found:
    """The columns of TAP."""

    device_id: int
    kind: DeviceKind
    revoked_at: datetime | None
    last_seen_at: datetime | None
    classroom_id: int
    two_factor: bool
    person_id: int | None
    display_name: str | None
    active: bool | None
    officer: bool
    session_id: int | None
    session_title: str | None
    latest_in: datetime | None
    latest_out: datetime | None
    seen_in: datetime | None
    seen_session_id: int | None
    seen_session_title: str | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Found:
        return cls(**{**row, "kind": DeviceKind(row["kind"])})  # a plain string from asyncpg


@dataclass(frozen=True)
class TapOutcome:
    """``result``: checked_in | already | unknown_card | no_session | not_an_officer."""

    result: str
    person_id: int | None = None
    name: str = ""
    session_id: int | None = None
    session: str = ""
    at: datetime | None = None


def decide(found: Found, now: datetime) -> TapOutcome:
    """What the tap means; ``checked_in`` is for the caller to write."""
    if found.seen_in is not None:  # this very tap, delivered again
        return TapOutcome(
            "already",
            found.person_id,
            found.display_name or "",
            found.seen_session_id,
            found.seen_session_title or "",
            found.seen_in,
        )
    if found.person_id is None or not found.active:
        return TapOutcome("unknown_card")
    name = found.display_name or ""
    if found.session_id is None:
        return TapOutcome("no_session", found.person_id, name)
    if not found.officer:
        return TapOutcome("not_an_officer", found.person_id, name)
    is_open = found.latest_in is not None and found.latest_out is None
    return TapOutcome(
        "already" if is_open else "checked_in",
        found.person_id,
        name,
        found.session_id,
        found.session_title or "",
        found.latest_in if is_open else now,
    )


class Statements(Protocol):
    """Runs the three statements above, with their named parameters."""

    async def read(self, params: dict[str, Any]) -> Found | None: ...

    async def write(self, stmt: Insert | Update, params: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CoreStatements:
    """Through SQLAlchemy, in autocommit: any database (the embedded SQLite)."""

    conn: AsyncConnection

    async def read(self, params: dict[str, Any]) -> Found | None:
        row = (await self.conn.execute(TAP, params)).one_or_none()
        return Found.of(dict(row._mapping)) if row is not None else None

    async def write(self, stmt: Insert | Update, params: dict[str, Any]) -> None:
        await self.conn.execute(stmt, params)


class _Compiled:
    def __init__(self, stmt: ClauseElement) -> None:
        compiled = cast(SQLCompiler, stmt.compile(dialect=asyncpg_dialect()))  # type: ignore[no-untyped-call]
        self.sql = compiled.string
        self.names = list(compiled.positiontup or ())
        self.fixed = dict(compiled.params)  # literals; the named ones come with each call

    def args(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.fixed, **params}
        return [v.value if isinstance(v, Enum) else v for v in (values[n] for n in self.names)]


_PG: dict[ClauseElement, _Compiled] = {stmt: _Compiled(stmt) for stmt in (TAP, INSERT, SEEN)}


@dataclass(frozen=True)
class PgStatements:
    """Straight on an asyncpg connection, the same statements compiled once: on PostgreSQL the
    SQLAlchemy layers (pool checkout with its ping, compiled-cache lookups, the greenlet bridge)
    cost several times the two round trips themselves (docs/benchmarks.md, checkin)."""

    conn: asyncpg.Connection

    async def read(self, params: dict[str, Any]) -> Found | None:
        c = _PG[TAP]
        row = await self.conn.fetchrow(c.sql, *c.args(params))
        return Found.of(row) if row is not None else None

    async def write(self, stmt: Insert | Update, params: dict[str, Any]) -> None:
        c = _PG[stmt]
        await self.conn.execute(c.sql, *c.args(params))


@dataclass(frozen=True)
class Tapped:
    kiosk: Found | None  # None: no such token, or revoked
    outcome: TapOutcome | None  # None with no kiosk


async def tap(
    db: Statements,
    token_hash: str,
    card_no: str,
    event_uid: str,
    now: datetime,
    open_before: timedelta,
    may_check_in: Callable[[Found], None],
) -> Tapped:
    """Read what the tap depends on; ``may_check_in`` raises where this device may not (another
    kind, a two-factor classroom); then write the check-in it earns, and the device's last-seen
    time when it is due."""
    try:
        card = normalise_card(card_no)
    except ValueError:
        card = ""  # matches no card: an unknown card
    found = await db.read(
        {
            "token_hash": token_hash,
            "card_no": card,
            "event_uid": event_uid,
            "start_by": now + open_before,
            "now": now,
        }
    )
    if found is None or found.revoked_at is not None:
        return Tapped(None, None)
    if last_seen_due(found.last_seen_at, now):
        await db.write(SEEN, {"device_id": found.device_id, "now": now})
    may_check_in(found)
    outcome = decide(found, now)
    if outcome.result == "checked_in":
        params = {"session_id": outcome.session_id, "person_id": outcome.person_id}
        await db.write(INSERT, {**params, "event_uid": event_uid, "now": now})
    return Tapped(found, outcome)
