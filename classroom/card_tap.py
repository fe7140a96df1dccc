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

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    TableValuedAlias,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.type_api import TypeEngine

from classroom.checkin import CheckinOutcome, judge
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

_open = aliased(Session, name="open_session")
_current = aliased(Session, name="current")
_latest = aliased(Attendance, name="latest")
_seen = aliased(Attendance, name="seen")
_seen_session = aliased(Session, name="seen_session")
_officer = exists().where(PersonRole.person_id == Person.id, PersonRole.role == Role.OFFICER)


def _tap_select(
    token_hash: ColumnElement[Any],
    card_no: ColumnElement[Any],
    event_uid: ColumnElement[Any],
    start_by: ColumnElement[Any],
    now: ColumnElement[Any],
) -> Select[*tuple[Any, ...]]:
    """What one tap depends on, for the tap's values given as parameters or as another table's
    columns (a batch of taps)."""
    # Same as classroom.checkin: open from open_before ahead of its start until its (actual) end;
    # of two open back to back, the later one.
    open_id = (
        select(_open.id)
        .where(
            _open.classroom_id == Device.classroom_id,
            _open.planned_start <= start_by,
            func.coalesce(_open.actual_end, _open.planned_end) > now,
        )
        .order_by(_open.planned_start.desc())
        .limit(1)
        .correlate_except(_open)
        .scalar_subquery()
    )
    latest_id = (
        select(Attendance.id)
        .where(Attendance.session_id == _current.id, Attendance.person_id == Person.id)
        .order_by(Attendance.check_in.desc())
        .limit(1)
        .correlate_except(Attendance)
        .scalar_subquery()
    )
    return (
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
        .outerjoin(IdCard, IdCard.card_no == card_no)
        .outerjoin(Person, Person.id == IdCard.person_id)
        .outerjoin(_current, _current.id == open_id)
        .outerjoin(_latest, _latest.id == latest_id)
        .outerjoin(_seen, _seen.event_uid == event_uid)
        .outerjoin(_seen_session, _seen_session.id == _seen.session_id)
        .where(Device.token_hash == token_hash)
    )


_TAP_FIELDS = ("token_hash", "card_no", "event_uid", "start_by", "now")
TAP = _tap_select(*(bindparam(name) for name in _TAP_FIELDS))

_TYPES: dict[str, TypeEngine[Any]] = {
    "token_hash": String(),
    "card_no": String(),
    "event_uid": String(),
    "start_by": DateTime(timezone=True),
    "now": DateTime(timezone=True),
    "session_id": Integer(),
    "person_id": Integer(),
}


def _unnest(*names: str, ordinal: str | None = None) -> TableValuedAlias:
    """A table of one row per tap from one array parameter per column (PostgreSQL)."""
    arrays = (bindparam(n, type_=ARRAY(_TYPES[n])) for n in names)
    table = func.unnest(*arrays).table_valued(*names, with_ordinality=ordinal)
    return table.render_derived(name="taps")


_taps = _unnest(*_TAP_FIELDS, ordinal="ord")
_found = _tap_select(*(_taps.c[name] for name in _TAP_FIELDS)).lateral("found")
# Many taps in one statement: their rows, numbered as given; a tap by no device has none.
TAP_MANY = select(_taps.c.ord, _found).select_from(_taps).join(_found, true())

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
_new = _unnest("event_uid", "session_id", "person_id", "now")
# The check-ins a batch of taps earned, in one statement (one commit). A retried event that
# another request stored meanwhile is the same check-in: kept once, not an error.
INSERT_MANY = (
    pg_insert(Attendance)
    .from_select(
        [
            "event_uid",
            "session_id",
            "person_id",
            "check_in",
            "check_out",
            "source",
            "recorded_by_id",
            "reason",
            "created_at",
        ],
        select(
            _new.c.event_uid,
            _new.c.session_id,
            _new.c.person_id,
            _new.c.now,  # check_in
            null(),  # check_out
            literal(AttendanceSource.KIOSK.value),
            null(),  # recorded_by_id
            literal("card"),
            _new.c.now,  # created_at
        ),
    )
    .on_conflict_do_nothing(index_elements=["event_uid"])
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
    result: CheckinOutcome
    person_id: int | None = None
    name: str = ""
    session_id: int | None = None
    session: str = ""
    at: datetime | None = None


def decide(found: Found, now: datetime) -> TapOutcome:
    """What the tap means, by the check-in rules (classroom.checkin.judge); ``checked_in`` is
    for the caller to write."""
    if found.seen_in is not None:  # this very tap, delivered again
        return TapOutcome(
            CheckinOutcome.ALREADY,
            found.person_id,
            found.display_name or "",
            found.seen_session_id,
            found.seen_session_title or "",
            found.seen_in,
        )
    is_open = found.latest_in is not None and found.latest_out is None
    outcome = judge(
        known=found.person_id is not None and bool(found.active),
        session_open=found.session_id is not None,
        officer=found.officer,
        in_already=is_open,
    )
    name = found.display_name or ""
    if outcome == CheckinOutcome.UNKNOWN_CARD:
        return TapOutcome(outcome)
    if outcome in (CheckinOutcome.NO_SESSION, CheckinOutcome.NOT_AN_OFFICER):
        return TapOutcome(outcome, found.person_id, name)
    return TapOutcome(
        outcome,
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


_PG: dict[ClauseElement, _Compiled] = {
    stmt: _Compiled(stmt) for stmt in (TAP, TAP_MANY, INSERT, INSERT_MANY, SEEN)
}


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


class TapRefused(Enum):
    """Why a device's tap checks nobody in, before anyone is looked at."""

    NOT_A_KIOSK = "not_a_kiosk"  # a token of another kind of device
    FACE_REQUIRED = "face_required"  # the classroom checks card and face together


def refusal(found: Found) -> TapRefused | None:
    if found.kind != DeviceKind.KIOSK:
        return TapRefused.NOT_A_KIOSK
    if found.two_factor:
        return TapRefused.FACE_REQUIRED
    return None


@dataclass(frozen=True)
class Tapped:
    kiosk: Found | None  # None: no such token, or revoked
    outcome: TapOutcome | None  # None with no kiosk, or refused
    refused: TapRefused | None = None


@dataclass(frozen=True)
class CardTap:
    """A card shown at a kiosk: the kiosk's token (hashed), the number as read, the tap's event id
    (a retry is the same event), when, and how long before its start a session opens."""

    token_hash: str
    card_no: str
    event_uid: str
    now: datetime
    open_before: timedelta

    def params(self) -> dict[str, Any]:
        """TAP's parameters."""
        try:
            card = normalise_card(self.card_no)
        except ValueError:
            card = ""  # matches no card: an unknown card
        return {
            "token_hash": self.token_hash,
            "card_no": card,
            "event_uid": self.event_uid,
            "start_by": self.now + self.open_before,
            "now": self.now,
        }


async def tap(db: Statements, card: CardTap) -> Tapped:
    """Read what the tap depends on; refused where this device may not check in (another kind, a
    two-factor classroom); else write the check-in it earns; and the device's last-seen time
    when it is due."""
    now = card.now
    found = await db.read(card.params())
    if found is None or found.revoked_at is not None:
        return Tapped(None, None)
    if last_seen_due(found.last_seen_at, now):
        await db.write(SEEN, {"device_id": found.device_id, "now": now})
    if (refused := refusal(found)) is not None:
        return Tapped(found, None, refused)
    outcome = decide(found, now)
    if outcome.result == CheckinOutcome.CHECKED_IN:
        await db.write(INSERT, _check_in_row(outcome, card))
    return Tapped(found, outcome)


# What a connection the database dropped raises at its next use.
DROPPED = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # seen when the server's goodbye arrives on an idle connection
    OSError,
)


@dataclass
class _Waiting:
    """One tap waiting for its batch."""

    card: CardTap
    params: dict[str, Any]  # card.params(), once
    done: asyncio.Future[Tapped]

    def settle(self, result: Tapped | BaseException) -> None:
        if self.done.done():  # its request was given up meanwhile; the check-in stands
            return
        if isinstance(result, BaseException):
            self.done.set_exception(result)
        else:
            self.done.set_result(result)


class TapBatcher:
    """Card taps on PostgreSQL, read and written together: the taps that arrive while a batch is
    at the database wait and go as the next batch — one read (TAP_MANY) and one insert
    (INSERT_MANY, one commit) for all of them, instead of two round trips and a commit each.
    At the hour every classroom's door is busy at once, and a commit per tap was what the
    database spent most on (docs/benchmarks.md, checkin). Each tap is answered only after its
    batch is committed; the rules are those of :func:`tap`, and a batch that the
    database refuses is run again tap by tap so that one bad tap fails alone."""

    def __init__(self, pool: asyncpg.Pool, most: int = 64) -> None:
        self.pool = pool
        self.most = most
        self._queue: list[_Waiting] = []
        self._worker: asyncio.Task[None] | None = None
        self.taps = 0  # answered, since start-up
        self.batches = 0

    async def tap(self, card: CardTap) -> Tapped:
        """As :func:`tap`."""
        done = asyncio.get_running_loop().create_future()
        waiting = _Waiting(card, card.params(), done)
        self._queue.append(waiting)
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain(), name="card taps")
        return await waiting.done

    async def close(self) -> None:
        """Let the batches under way finish."""
        if self._worker is not None:
            await asyncio.shield(self._worker)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
                try:
                    results = await self._run_connected(batch)
                except asyncpg.PostgresError:
                    results = [await self._alone(w) for w in batch]
                except Exception as exc:  # every waiter hears it
                    results = [exc] * len(batch)
                for w, result in zip(batch, results, strict=True):
                    w.settle(result)
                self.taps += len(batch)
                self.batches += 1
        finally:
            self._worker = None

    async def _run_connected(self, batch: list[_Waiting]) -> list[Tapped | BaseException]:
        try:
            async with self.pool.acquire() as conn:
                return await self._run(conn, batch)
        except DROPPED:
            # The database dropped the pooled connections (a restart): once more, on new ones;
            # the taps keep their event ids, so one written before the drop is not written twice.
            await self.pool.expire_connections()
            async with self.pool.acquire() as conn:
                return await self._run(conn, batch)

    async def _alone(self, w: _Waiting) -> Tapped | BaseException:
        try:
            async with self.pool.acquire() as conn:
                return await tap(PgStatements(conn), w.card)
        except Exception as exc:  # this tap's own failure, for its request
            return exc

    @staticmethod
    async def _run(conn: asyncpg.Connection, batch: list[_Waiting]) -> list[Tapped | BaseException]:
        read = _PG[TAP_MANY]
        arrays = {name: [w.params[name] for w in batch] for name in _TAP_FIELDS}
        found = {
            row["ord"]: Found.of({k: v for k, v in row.items() if k != "ord"})
            for row in await conn.fetch(read.sql, *read.args(arrays))
        }
        results: list[Tapped | BaseException] = []
        seen: dict[int, datetime] = {}
        new: list[dict[str, Any]] = []
        earlier: dict[object, TapOutcome] = {}  # by event id and by (session, person)
        for number, w in enumerate(batch, start=1):
            f = found.get(number)
            if f is None or f.revoked_at is not None:
                results.append(Tapped(None, None))
                continue
            now = w.card.now
            if last_seen_due(f.last_seen_at, now):
                seen[f.device_id] = now
            if (refused := refusal(f)) is not None:
                results.append(Tapped(f, None, refused))
                continue
            outcome = decide(f, now)
            event = w.card.event_uid
            same = earlier.get(event) or earlier.get((outcome.session_id, outcome.person_id))
            if same is not None and outcome.result in (
                CheckinOutcome.CHECKED_IN,
                CheckinOutcome.ALREADY,
            ):
                # An earlier tap of this batch checked them in (or is this very event).
                outcome = replace(same, result=CheckinOutcome.ALREADY)
            elif outcome.result == CheckinOutcome.CHECKED_IN:
                earlier[event] = earlier[(outcome.session_id, outcome.person_id)] = outcome
                new.append(_check_in_row(outcome, w.card))
            results.append(Tapped(f, outcome))
        for device_id, now in seen.items():
            c = _PG[SEEN]
            await conn.execute(c.sql, *c.args({"device_id": device_id, "now": now}))
        if new:
            c = _PG[INSERT_MANY]
            columns = ("event_uid", "session_id", "person_id", "now")
            await conn.execute(c.sql, *c.args({n: [row[n] for row in new] for n in columns}))
        return results


def _check_in_row(outcome: TapOutcome, card: CardTap) -> dict[str, Any]:
    """INSERT's parameters (INSERT_MANY's, one per row) for a tap that earned a check-in."""
    return {
        "session_id": outcome.session_id,
        "person_id": outcome.person_id,
        "event_uid": card.event_uid,
        "now": card.now,
    }
