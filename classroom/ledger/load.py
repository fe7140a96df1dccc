"""Read the ledger's facts for one year (or one officer's year) from the database.

Core selects, not ORM objects: a bureau's year is a million attendance rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, false, func, literal_column, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from classroom.db.models import (
    Attendance,
    CreditEvent,
    Person,
    PersonRole,
    Role,
    Session,
    SessionKind,
    SessionStudyItem,
    Unit,
)
from classroom.ledger.facts import (
    AttendanceFact,
    CreditFact,
    Facts,
    OfficerFact,
    PresenceFact,
    SessionFact,
    StudyTag,
    UnitFact,
)


def _utc(value: datetime | str) -> datetime:
    """A UTC datetime from what the driver returns: asyncpg gives datetimes, SQLite text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _raw(column: Any) -> Any:
    # Skip the per-value TypeDecorator: a year is a million rows, and _utc() does the same work
    # several times faster.
    return literal_column(f"{column.table.name}.{column.name}", String())


def year_window(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


async def load_facts(
    db: AsyncSession,
    year: int,
    tz: ZoneInfo,
    person_id: int | None = None,
    measure_in_sql: bool = True,
    kinds: Collection[SessionKind] | None = None,
) -> Facts:
    """The year's facts; with ``kinds`` (the plan's task kinds) only the sessions that can count:
    those of a task's kind or tagged with study items. The rest (briefings and the like) earn
    nothing and cover nothing, yet carry most of a year's attendance rows."""
    lo, hi = year_window(year, tz)
    # A session's time is what happened, else what was planned.
    start = func.coalesce(Session.actual_start, Session.planned_start)
    in_year = and_(
        Session.planned_start >= lo - timedelta(days=1),
        Session.planned_start < hi + timedelta(days=1),
    )
    if kinds is not None:
        tagged = Session.id.in_(select(SessionStudyItem.session_id).scalar_subquery())
        in_year = and_(in_year, or_(Session.kind.in_(list(kinds)), tagged))

    units = tuple(
        UnitFact(r.id, r.name, r.kind, r.adjacent_district)
        for r in (await db.execute(select(Unit.id, Unit.name, Unit.kind, Unit.adjacent_district)))
    )
    officer_q = (
        select(
            Person.id,
            Person.display_name,
            Person.unit_id,
            Person.badge_no,
            Person.hired_on,
            Person.enforcement_staff,
        )
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == Role.OFFICER, Person.active.is_(True))
    )
    if person_id is not None:
        officer_q = officer_q.where(Person.id == person_id)
    officers = tuple(
        OfficerFact(r.id, r.display_name, r.unit_id, r.badge_no, r.hired_on, r.enforcement_staff)
        for r in await db.execute(officer_q)
    )

    session_q = select(
        Session.id,
        Session.kind,
        Session.title,
        start.label("start"),
        func.coalesce(Session.actual_end, Session.planned_end).label("end"),
        Session.unit_id,
    ).where(in_year)
    attendance_q = (
        select(
            Attendance.event_uid,
            Attendance.session_id,
            Attendance.person_id,
            _raw(Attendance.check_in).label("check_in"),
            _raw(Attendance.check_out).label("check_out"),
        )
        .join(Session, Session.id == Attendance.session_id)
        .where(in_year)
    )
    if person_id is not None:
        mine = select(Attendance.session_id).where(Attendance.person_id == person_id)
        session_q = session_q.where(Session.id.in_(mine))
        attendance_q = attendance_q.where(Attendance.person_id == person_id)
    session_rows = list(await db.execute(session_q))
    tags: dict[int, list[StudyTag]] = defaultdict(list)
    tag_q = (
        select(SessionStudyItem.session_id, SessionStudyItem.item_no, SessionStudyItem.articles)
        .join(Session)
        .where(in_year)
    )
    if person_id is not None:
        tag_q = tag_q.where(Session.id.in_(mine))
    for t in await db.execute(tag_q):
        tags[t.session_id].append(StudyTag(t.item_no, t.articles))
    sessions = tuple(
        SessionFact(
            r.id, r.kind, r.title, _utc(r.start), _utc(r.end), r.unit_id, tuple(tags.get(r.id, ()))
        )
        for r in session_rows
    )
    presence: tuple[PresenceFact, ...] = ()
    if person_id is None and measure_in_sql:
        # A whole year: the database measures each single check-in against its session, so a
        # million rows arrive as numbers; only people with several check-ins at one session (a
        # break) come as rows, for the union of their spans.
        presence, multi = await _measured(db, lo - timedelta(days=1), hi + timedelta(days=1), kinds)
        attendance_q = attendance_q.where(
            tuple_(Attendance.session_id, Attendance.person_id).in_(multi) if multi else false()
        )
    attendance = tuple(
        AttendanceFact(
            r.event_uid,
            r.session_id,
            r.person_id,
            _utc(r.check_in),
            _utc(r.check_out) if r.check_out else None,
        )
        # On the connection: Core rows, without the ORM's per-row loading machinery.
        for r in await (await db.connection()).execute(attendance_q)
    )

    credit_q = select(
        CreditEvent.event_uid,
        CreditEvent.person_id,
        CreditEvent.source,
        CreditEvent.on_date,
        CreditEvent.hours,
        CreditEvent.credits,
        CreditEvent.part,
        CreditEvent.note,
    ).where(CreditEvent.on_date >= date(year, 1, 1), CreditEvent.on_date < date(year + 1, 1, 1))
    if person_id is not None:
        credit_q = credit_q.where(CreditEvent.person_id == person_id)
    credits = tuple(
        CreditFact(
            r.event_uid, r.person_id, r.source.value, r.on_date, r.hours, r.credits, r.part, r.note
        )
        for r in await db.execute(credit_q)
    )
    return Facts(units, officers, sessions, attendance, credits, presence)


# Seconds since the epoch of a stored UTC time: PostgreSQL natively; SQLite keeps
# 'YYYY-MM-DD HH:MM:SS.ffffff' text, read exactly (whole seconds + the fraction), not through
# julianday(), whose floating-point days would put 10 minutes late a hair over 10 minutes.
_EPOCH = {
    "postgresql": "EXTRACT(EPOCH FROM {0})::float8",
    "sqlite": "(CAST(strftime('%s', {0}) AS INTEGER) + COALESCE(CAST(substr({0}, 20) AS REAL), 0))",
}
_BOUNDS = {"postgresql": ("GREATEST", "LEAST"), "sqlite": ("max", "min")}


async def _measured(
    db: AsyncSession, lo: datetime, hi: datetime, kinds: Collection[SessionKind] | None
) -> tuple[tuple[PresenceFact, ...], list[tuple[int, int]]]:
    dialect = db.get_bind().dialect.name
    ep = _EPOCH[dialect].format
    greatest, least = _BOUNDS[dialect]
    st = "COALESCE(s.actual_start, s.planned_start)"
    en = "COALESCE(s.actual_end, s.planned_end)"
    lo_t = f"{greatest}(a.check_in, {st})"
    hi_t = f"{least}(COALESCE(a.check_out, {en}), {en})"
    sql = text(
        f"SELECT a.session_id, a.person_id, {ep(lo_t)} - {ep(st)}, {ep(en)} - {ep(hi_t)}, "
        f"{ep(hi_t)} - {ep(lo_t)} FROM attendance a JOIN sessions s ON s.id = a.session_id "
        "WHERE s.planned_start >= :lo AND s.planned_start < :hi"
        + (
            " AND (s.kind IN :kinds OR EXISTS "
            "(SELECT 1 FROM session_study_items t WHERE t.session_id = s.id))"
            if kinds is not None
            else ""
        )
    )
    if kinds is not None:
        sql = sql.bindparams(bindparam("kinds", [k.value for k in kinds], expanding=True))
    bounds: dict[str, object] = {"lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)}
    if dialect == "sqlite":  # stored as naive UTC text
        bounds = {
            k: lo_hi.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
            for k, lo_hi in (("lo", lo), ("hi", hi))
        }
    seen: dict[tuple[int, int], PresenceFact] = {}
    multi: set[tuple[int, int]] = set()
    rows = (await (await db.connection()).execute(sql, bounds)).all()
    for sid, pid, late, early, covered in rows:
        key = (sid, pid)
        if key in seen:
            multi.add(key)
        seen[key] = PresenceFact(sid, pid, float(late), float(early), float(covered))
    for key in multi:
        del seen[key]
    return tuple(seen.values()), sorted(multi)
