"""Watching a recording: a player opens a view, then reports every few seconds the stretches of
media time it played. The server keeps the union per person and recording, refuses reports that
are too fast for the wall time they cover, counts nothing while the page is hidden, lets only a
person's newest view count (two tabs at once are one), and turns a recording watched to the
plan's share into one credit event for the ledger (its 学时 and 学分 from the session)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    Attendance,
    CreditEvent,
    CreditSourceKind,
    Person,
    Recording,
    Role,
    WatchProgress,
    WatchView,
)
from classroom.db.types import utcnow
from classroom.plan.schema import Plan, Watch
from classroom.watch_rules import (
    Interval,
    ReportRejected,
    check_report,
    credit_for,
    length,
    merge,
    within_fetched,
)

__all__ = [
    "ReportRejected",
    "ViewGone",
    "WatchState",
    "Watcher",
    "open_view",
    "report",
    "served",
    "state_of",
    "watchers",
]

_RETRIES = 5


class ViewGone(LookupError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # no_view | superseded


@dataclass(frozen=True)
class WatchState:
    watched_s: float
    required_s: float
    duration_s: float
    credited: bool
    counted_s: float = 0.0  # what this report added
    creditable: bool = True  # False: not an officer, or attended (watching earns no more)
    attended: bool = False


def _required(rec: Recording, rules: Watch) -> float:
    return round((rec.duration_s or 0.0) * rules.min_share, 3)


async def _attended(db: AsyncSession, rec: Recording, person: Person) -> bool:
    return bool(
        await db.scalar(
            select(
                exists().where(
                    Attendance.session_id == rec.session_id, Attendance.person_id == person.id
                )
            )
        )
    )


async def state_of(db: AsyncSession, rec: Recording, person: Person, rules: Watch) -> WatchState:
    row = await db.scalar(
        select(WatchProgress).where(
            WatchProgress.recording_id == rec.id, WatchProgress.person_id == person.id
        )
    )
    attended = await _attended(db, rec, person)
    return WatchState(
        watched_s=row.watched_s if row else 0.0,
        required_s=_required(rec, rules),
        duration_s=rec.duration_s or 0.0,
        credited=bool(row and row.credit_event_id),
        creditable=person.has_role(Role.OFFICER) and not attended,
        attended=attended,
    )


async def open_view(db: AsyncSession, rec: Recording, person: Person) -> WatchView:
    """A new player for ``person``: their earlier views of this recording stop counting."""
    await db.execute(
        update(WatchView)
        .where(
            WatchView.recording_id == rec.id,
            WatchView.person_id == person.id,
            WatchView.superseded.is_(False),
        )
        .values(superseded=True)
    )
    now = utcnow()
    view = WatchView(
        id=str(uuid.uuid4()),
        recording_id=rec.id,
        person_id=person.id,
        created_at=now,
        last_report_at=now,
    )
    db.add(view)
    await db.flush()
    return view


async def report(
    db: AsyncSession,
    rec: Recording,
    person: Person,
    view_id: str,
    played: Sequence[Interval],
    rate: float,
    visible: bool,
    plan: Plan | None,
    today: date,
    now: datetime | None = None,
) -> WatchState:
    """Add what a view played since its last report; credit the recording (dated ``today``,
    by ``plan``; no plan for the year: progress only) once enough is watched. Commits."""
    rules = plan.watch if plan is not None else Watch()
    now = now or utcnow()
    view = await db.get(WatchView, view_id, with_for_update=True)
    if view is None or view.recording_id != rec.id or view.person_id != person.id:
        raise ViewGone("no_view", "no such view of this recording for you")
    if view.superseded:
        raise ViewGone("superseded", "this recording is playing in another window of yours")
    wall = (now - view.last_report_at).total_seconds()
    view.last_report_at = now
    try:
        check_report(played, rate, wall, rec.duration_s or 0.0, rules)
    except ReportRejected:
        await db.commit()  # what was played too fast is lost, and its wall time with it
        raise
    counted = 0.0
    if visible and played:
        counted = await _add(db, rec, person, now, played=merge(played))
    await db.commit()
    state = await state_of(db, rec, person, rules)
    if (
        plan is not None
        and state.creditable
        and not state.credited
        and state.watched_s >= state.required_s > 0
    ):
        await _credit(db, rec, person, plan, today)
        await db.commit()
        state = await state_of(db, rec, person, rules)
    return WatchState(**{**state.__dict__, "counted_s": counted})


async def _add(
    db: AsyncSession,
    rec: Recording,
    person: Person,
    now: datetime,
    played: Sequence[Interval] = (),
    fetched: Sequence[Interval] = (),
) -> float:
    """Merge what the portal served (``fetched``) and what was played of it (``played``) into
    the person's progress; returns the seconds newly counted as watched."""
    for _ in range(_RETRIES):
        row = await db.scalar(
            select(WatchProgress).where(
                WatchProgress.recording_id == rec.id, WatchProgress.person_id == person.id
            )
        )
        before = [(a, b) for a, b in row.intervals] if row else []
        served = merge([*((a, b) for a, b in (row.fetched if row else [])), *fetched])
        intervals = merge([*before, *within_fetched(played, served)])
        watched = round(length(intervals), 3)
        values = {
            "intervals": [list(i) for i in intervals],
            "fetched": [list(i) for i in served],
            "watched_s": watched,
            "updated_at": now,
        }
        if row is None:
            try:
                async with db.begin_nested():
                    db.add(WatchProgress(recording_id=rec.id, person_id=person.id, **values))
            except IntegrityError:  # the other tab's first report won: merge into it
                continue
            return watched
        done = await db.execute(
            update(WatchProgress)
            .where(WatchProgress.id == row.id, WatchProgress.version == row.version)
            .values(**values, version=row.version + 1)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            await db.refresh(row)
            return watched - length(before)
        db.expire(row)
    raise RuntimeError("watch progress kept changing under this report")


async def served(db: AsyncSession, rec: Recording, person: Person, span: Interval) -> None:
    """The portal sent ``person`` the media of ``span`` (seconds): what they play of it may count.
    Commits."""
    await _add(db, rec, person, utcnow(), fetched=[span])
    await db.commit()


async def _credit(
    db: AsyncSession, rec: Recording, person: Person, plan: Plan, today: date
) -> None:
    session = rec.session
    minutes = (session.planned_end - session.planned_start).total_seconds() / 60
    worth = credit_for(plan, session.kind, minutes)
    uid = f"watch:{rec.id}:{person.id}"
    if await db.scalar(select(CreditEvent.id).where(CreditEvent.event_uid == uid)):
        return
    event = CreditEvent(
        event_uid=uid,
        person_id=person.id,
        source=CreditSourceKind.RECORDING_WATCH,
        on_date=today,
        hours=worth.hours,
        credits=worth.credits,
        course=session.title[:200],
        note=f"recording {rec.id}",
    )
    try:
        async with db.begin_nested():
            db.add(event)
    except IntegrityError:  # credited by a concurrent report
        return
    await db.execute(
        update(WatchProgress)
        .where(WatchProgress.recording_id == rec.id, WatchProgress.person_id == person.id)
        .values(credit_event_id=event.id)
    )


@dataclass(frozen=True)
class Watcher:
    person_id: int
    name: str
    watched_s: float
    share: float
    enough: bool  # watched the plan's share
    credited: bool
    updated_at: datetime


async def watchers(db: AsyncSession, rec: Recording, rules: Watch) -> list[Watcher]:
    """Everyone who played some of ``rec``, most watched first."""
    duration = rec.duration_s or 0.0
    rows = (
        await db.execute(
            select(WatchProgress, Person)
            .join(Person, Person.id == WatchProgress.person_id)
            .where(WatchProgress.recording_id == rec.id)
            .order_by(WatchProgress.watched_s.desc(), Person.display_name)
        )
    ).all()
    out = []
    for wp, person in rows:
        share = round(wp.watched_s / duration, 4) if duration else 0.0
        out.append(
            Watcher(
                person_id=person.id,
                name=person.display_name,
                watched_s=wp.watched_s,
                share=share,
                enough=share >= rules.min_share,
                credited=wp.credit_event_id is not None,
                updated_at=wp.updated_at,
            )
        )
    return out
