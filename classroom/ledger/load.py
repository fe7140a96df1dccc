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
    Cohort,
    CohortMember,
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
    CohortFact,
    CreditFact,
    Facts,
    FullyPresent,
    OfficerFact,
    PresenceFact,
    SessionFact,
    StudyTag,
    UnitFact,
)
from classroom.plan.schema import Presence


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
    rule: Presence | None = None,
) -> Facts:
    """The year's facts; with ``kinds`` (the plan's task kinds) only the sessions that can count:
    those of a task's kind or tagged with study items. The rest (briefings and the like) earn
    nothing and cover nothing, yet carry most of a year's attendance rows. With the plan's presence
    ``rule``, a whole year's check-ins that are plainly within its tolerances come as
    ``fully_present`` lists, not one measured row each."""
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
    fully: tuple[FullyPresent, ...] = ()
    if person_id is None and measure_in_sql:
        # A whole year: the database measures each single check-in against its session, so a
        # million rows arrive as numbers; only people with several check-ins at one session (a
        # break) come as rows, for the union of their spans.
        presence, fully, multi = await _measured(
            db, lo - timedelta(days=1), hi + timedelta(days=1), kinds, rule
        )
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
    return Facts(
        units, officers, sessions, attendance, credits, presence, fully, await _cohorts(db, year)
    )


async def _cohorts(db: AsyncSession, year: int) -> tuple[CohortFact, ...]:
    members: dict[int, set[int]] = defaultdict(set)
    for cid, pid in await db.execute(
        select(CohortMember.cohort_id, CohortMember.person_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(Cohort.year == year)
    ):
        members[cid].add(pid)
    return tuple(
        CohortFact(c.id, c.task, c.number, c.name, c.starts_on, c.ends_on, frozenset(members[c.id]))
        for c in await db.scalars(select(Cohort).where(Cohort.year == year).order_by(Cohort.id))
    )


# Seconds from one stored UTC time to another. PostgreSQL: the interval's own seconds
# (date_part gives float8 at once; EXTRACT goes through numeric, measured 2× slower on a year).
# SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' text, read exactly (whole seconds + the fraction),
# not through julianday(), whose floating-point days would put 10 minutes late a hair over 10.
_SQLITE_EPOCH = (
    "(CAST(strftime('%s', {0}) AS INTEGER) + COALESCE(CAST(substr({0}, 20) AS REAL), 0))"
)
_SECONDS = {
    "postgresql": "date_part('epoch', {1} - {0})",
    "sqlite": f"{_SQLITE_EPOCH.format('{1}')} - {_SQLITE_EPOCH.format('{0}')}",
}
_BOUNDS = {"postgresql": ("GREATEST", "LEAST"), "sqlite": ("max", "min")}
_LIST = {"postgresql": "string_agg(CAST({0} AS TEXT), ',')", "sqlite": "group_concat({0}, ',')"}
# "Plainly within the tolerances" leaves this much room at every boundary, so that the database's
# arithmetic and Python's (presence.judge_seconds) can never disagree on a row it decides: a
# check-in within a millisecond of a boundary comes as a measured row and is judged in Python.
_MARGIN_S = 0.001


async def _measured(
    db: AsyncSession,
    lo: datetime,
    hi: datetime,
    kinds: Collection[SessionKind] | None,
    rule: Presence | None = None,
) -> tuple[tuple[PresenceFact, ...], tuple[FullyPresent, ...], list[tuple[int, int]]]:
    dialect = db.get_bind().dialect.name
    between = _SECONDS[dialect].format
    greatest, least = _BOUNDS[dialect]
    st = "COALESCE(s.actual_start, s.planned_start)"
    en = "COALESCE(s.actual_end, s.planned_end)"
    lo_t = f"{greatest}(a.check_in, {st})"
    hi_t = f"{least}(COALESCE(a.check_out, {en}), {en})"
    measures = (
        f"SELECT a.session_id AS sid, a.person_id AS pid, {between(st, lo_t)} AS late, "
        f"{between(hi_t, en)} AS early, {between(lo_t, hi_t)} AS covered, "
        f"{between(st, en)} AS length "
        "FROM attendance a JOIN sessions s ON s.id = a.session_id "
        "WHERE s.planned_start >= :lo AND s.planned_start < :hi"
        + (
            " AND (s.kind IN :kinds OR EXISTS "
            "(SELECT 1 FROM session_study_items t WHERE t.session_id = s.id))"
            if kinds is not None
            else ""
        )
    )
    params: dict[str, object] = {}
    if rule is None:
        sql = text(f"SELECT sid, pid, NULL, late, early, covered FROM ({measures}) m")
    else:
        # presence._judge's rule: each tolerance the smaller of its minutes and a share of
        # the session's length (Presence.tolerances_s), and at least the plan's share present.
        late_max = f"{least}(:late_s, length * :tolerance_share)"
        early_max = f"{least}(:early_s, length * :tolerance_share)"
        full = (
            f"covered > {_MARGIN_S} AND length > {_MARGIN_S} "
            f"AND late <= {late_max} - {_MARGIN_S} AND early <= {early_max} - {_MARGIN_S} "
            f"AND length - covered <= {late_max} + {early_max} - {_MARGIN_S} "
            f"AND covered >= length * :min_share + {_MARGIN_S}"
        )
        sql = text(
            f"WITH m AS ({measures}) "
            f"SELECT sid, NULL, {_LIST[dialect].format('pid')}, NULL, NULL, NULL FROM m "
            f"WHERE {full} GROUP BY sid "
            f"UNION ALL SELECT sid, pid, NULL, late, early, covered FROM m WHERE NOT ({full})"
        )
        params = {
            "late_s": rule.late_tolerance_min * 60,
            "early_s": rule.early_leave_tolerance_min * 60,
            "tolerance_share": rule.tolerance_share,
            "min_share": rule.min_share,
        }
    if kinds is not None:
        sql = sql.bindparams(bindparam("kinds", [k.value for k in kinds], expanding=True))
    bounds: dict[str, object] = {"lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)}
    if dialect == "sqlite":  # stored as naive UTC text
        bounds = {
            k: lo_hi.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
            for k, lo_hi in (("lo", lo), ("hi", hi))
        }
    seen: dict[tuple[int, int], PresenceFact] = {}
    listed: dict[int, frozenset[int]] = {}
    multi: set[tuple[int, int]] = set()
    rows = (await (await db.connection()).execute(sql, {**bounds, **params})).all()
    for sid, pid, people, late, early, covered in rows:
        if people is not None:
            ids = [int(p) for p in people.split(",")]
            listed[sid] = frozenset(ids)
            if len(ids) != len(listed[sid]):  # a break: several check-ins, each plainly fine
                multi.update((sid, p) for p in listed[sid] if ids.count(p) > 1)
            continue
        key = (sid, pid)
        if key in seen:
            multi.add(key)
        seen[key] = PresenceFact(sid, pid, float(late), float(early), float(covered))
    multi.update(key for key in seen if key[1] in listed.get(key[0], ()))
    for key in multi:  # a person with several check-ins at a session comes as rows instead
        seen.pop(key, None)
    for sid in {sid for sid, _ in multi}:
        listed[sid] = listed.get(sid, frozenset()) - {p for s, p in multi if s == sid}
    fully = tuple(FullyPresent(sid, ids) for sid, ids in listed.items() if ids)
    return tuple(seen.values()), fully, sorted(multi)
