"""Recurring sessions: a unit's study on the last Friday of each month, a squad's drills on the
1st and 3rd Tuesday — one request books them all (RFC 5545 rule, classroom/recurrence.py), each
occurrence checked against the classroom's other bookings and every clash named; the series is
changed from a date on; an occurrence cancelled is an exception the series keeps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from classroom.audit import audit
from classroom.booking import RoomBooked, SessionHeld, cancel_session, check_room_free
from classroom.db.models import Course, Person, Session, SessionKind, SessionSeries
from classroom.recurrence import RuleError, occurrences
from web.api.sessions import check_booking, check_course_fits, check_may_schedule, may_lead
from web.deps import DB, CurrentPerson, Staff, services
from web.schemas import Id, SessionIn, Strict

router = APIRouter(prefix="/sessions/series", tags=["sessions"])

TEMPLATE = (
    "title",
    "kind",
    "course_id",
    "classroom_id",
    "place",
    "trainer_id",
    "unit_id",
    "auto_record",
    "ptz_preset",
)


class SeriesIn(SessionIn):
    """The first session (its times give every session's time of day and length), and how it
    repeats: an RFC 5545 RRULE; ``exdates``: dates left out."""

    rrule: str = Field(min_length=8, max_length=500)
    exdates: list[date] = Field(default_factory=list, max_length=400)


class SeriesPatch(Strict):
    """From ``since`` on, the sessions not yet held are booked again with what is given here
    (what is left out stays); those before it, and any held, stay as they are."""

    since: date
    rrule: str | None = Field(default=None, min_length=8, max_length=500)
    start_time: time | None = None  # time of day, in the bureau's zone
    minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    trainer_id: Id | None = None


class OccurrenceOut(BaseModel):
    session_id: int
    planned_start: datetime
    planned_end: datetime


class SeriesOut(BaseModel):
    id: int
    rrule: str
    minutes: int
    template: dict[str, Any]
    exdates: list[str]
    sessions: list[OccurrenceOut]


def _rule_refused(exc: RuleError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": "bad_rrule", "message": str(exc)}
    )


async def _out(db: DB, series: SessionSeries) -> SeriesOut:
    rows = await db.scalars(
        select(Session).where(Session.series_id == series.id).order_by(Session.planned_start)
    )
    return SeriesOut(
        id=series.id,
        rrule=series.rrule,
        minutes=series.minutes,
        template=series.template,
        exdates=series.exdates,
        sessions=[
            OccurrenceOut(session_id=s.id, planned_start=s.planned_start, planned_end=s.planned_end)
            for s in rows
        ],
    )


async def _book(request: Request, db: DB, series: SessionSeries, starts: list[datetime]) -> None:
    """A session for each start, each checked against the classroom's bookings (one at a place
    clashes with nothing); every clash is named, and then nothing is booked (the caller's
    transaction is rolled back)."""
    tz = services(request).tz
    clashes = []
    for start in starts:
        end = start + timedelta(minutes=series.minutes)
        try:
            await check_room_free(db, series.template.get("classroom_id"), start, end)
        except RoomBooked as exc:
            clashes.append(exc.described(tz))
            continue
        db.add(
            Session(
                **({"place": ""} | series.template),
                planned_start=start,
                planned_end=end,
                series_id=series.id,
                occurrence=start,
            )
        )
        await db.flush()  # the next occurrence is checked against this one too
    if clashes:
        await db.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "code": "series_room_booked",
                "message": f"{len(clashes)} of the series' sessions clash with other bookings "
                "of the classroom",
                "clashes": clashes,
            },
        )


@router.post("", response_model=SeriesOut, status_code=status.HTTP_201_CREATED)
async def create_series(
    body: SeriesIn, request: Request, db: DB, person: CurrentPerson
) -> SeriesOut:
    """Who may book the first session books the series; it covers up to a year."""
    trainer_id = await check_booking(db, person, body)
    tz = services(request).tz
    first = body.planned_start.astimezone(tz)
    try:
        starts = occurrences(body.rrule, first, set(body.exdates))
    except RuleError as exc:
        raise _rule_refused(exc) from None
    template = body.model_dump(include=set(TEMPLATE), mode="json") | {"trainer_id": trainer_id}
    series = SessionSeries(
        rrule=body.rrule.strip(),
        first_start=body.planned_start,
        minutes=int((body.planned_end - body.planned_start).total_seconds() // 60),
        template=template,
        exdates=[d.isoformat() for d in body.exdates],
        created_by_id=person.id,
    )
    db.add(series)
    await db.flush()
    await _book(request, db, series, starts)
    await audit(
        db, person, "series.create", f"series:{series.id}", rrule=series.rrule, sessions=len(starts)
    )
    await db.commit()
    return await _out(db, series)


async def _series(db: DB, series_id: int) -> SessionSeries:
    series = await db.get(SessionSeries, series_id)
    if series is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"series {series_id} not found")
    return series


@router.get("/{series_id}", response_model=SeriesOut)
async def get_series(series_id: Id, db: DB, _: Staff) -> SeriesOut:
    return await _out(db, await _series(db, series_id))


@router.patch("/{series_id}", response_model=SeriesOut)
async def change_series(
    series_id: Id, body: SeriesPatch, request: Request, db: DB, person: CurrentPerson
) -> SeriesOut:
    series = await _series(db, series_id)
    template = dict(series.template)
    kind, unit_id = SessionKind(template["kind"]), template["unit_id"]
    check_may_schedule(person, template["trainer_id"], kind, unit_id)
    tz = services(request).tz
    if body.title is not None:
        template["title"] = body.title
    if body.trainer_id is not None:
        template["trainer_id"] = body.trainer_id
        check_may_schedule(person, body.trainer_id, kind, unit_id)
        trainer = await db.get(Person, body.trainer_id)
        course = await db.get(Course, template["course_id"])
        if course is None or not may_lead(trainer, kind, unit_id):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such trainer")
        assert trainer is not None
        check_course_fits(course, trainer, kind, unit_id)
    first = series.first_start.astimezone(tz)
    if body.start_time is not None:
        first = first.replace(hour=body.start_time.hour, minute=body.start_time.minute)
    rule = body.rrule.strip() if body.rrule is not None else series.rrule
    skip = {date.fromisoformat(d) for d in series.exdates}
    try:
        starts = occurrences(rule, first, skip, since=body.since)
    except RuleError as exc:
        raise _rule_refused(exc) from None
    later = await db.scalars(
        select(Session).where(Session.series_id == series.id, Session.occurrence.is_not(None))
    )
    kept = 0
    for session in list(later):
        assert session.occurrence is not None
        if session.occurrence.astimezone(tz).date() < body.since:
            continue
        try:
            await cancel_session(db, session)
        except SessionHeld:
            kept += 1  # held: it stays on the record, and its date is not booked again
            skip.add(session.occurrence.astimezone(tz).date())
    starts = [s for s in starts if s.date() not in skip]
    series.rrule, series.template, series.first_start = rule, template, first
    if body.minutes is not None:
        series.minutes = body.minutes
    await db.flush()
    await _book(request, db, series, starts)
    await audit(
        db,
        person,
        "series.update",
        f"series:{series.id}",
        since=body.since.isoformat(),
        changed=body.model_dump(mode="json", exclude_none=True),
        kept_held=kept,
    )
    await db.commit()
    return await _out(db, series)
