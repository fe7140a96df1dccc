"""Sessions list and detail, with the trainer's Start/Stop buttons."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from classroom.attendance import AttendanceError, record_attendance, session_attendance
from classroom.booking import was_held
from classroom.courseware import course_open_to, may_upload
from classroom.db.models import (
    Classroom,
    Course,
    Person,
    PersonRole,
    Role,
    Session,
    SessionKind,
    SessionSeries,
    Unit,
)
from classroom.db.types import utcnow
from classroom.library import RecordingFilter, find_recordings
from classroom.recordings import live_now
from classroom.recurrence import PRESETS, Preset, RuleError, preset_rule
from classroom.roll_call import (
    MAX_ROSTER,
    CardRefused,
    Mark,
    RollLine,
    mark_by_card,
    roll_of,
    save_roll,
)
from classroom.scope import UNIT_SESSION_KINDS, bureau_wide, runs_session
from classroom.session_window import ControlWindow, control_window
from web.api.attendance import check_writes
from web.api.courseware import course_files, upload_courseware
from web.api.series import SeriesIn, SeriesPatch, change_series, create_series
from web.api.sessions import (
    SessionPatch,
    StudyItemIn,
    cancel,
    change_session,
    check_may_control,
    create_session,
    extend,
    get_session_or_404,
    may_schedule,
    pause_recording,
    replace_study_items,
    session_plan,
    start_recording,
    stop_recording,
)
from web.deps import DB, CurrentPerson, services
from web.pages.common import render
from web.schemas import PAGE_SIZE, ExtendIn, Id, PageNo, SessionIn

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(
    request: Request,
    db: DB,
    person: CurrentPerson,
    when: Literal["upcoming", "past"] = "upcoming",
    page: PageNo = 1,
) -> HTMLResponse:
    """Today's sessions and those to come, soonest first; or the earlier ones, latest first."""
    today = datetime.now(services(request).tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if when == "upcoming":
        q = select(Session).where(Session.planned_end >= today)
        q = q.order_by(Session.planned_start, Session.id)
    else:
        q = select(Session).where(Session.planned_end < today)
        q = q.order_by(Session.planned_start.desc(), Session.id.desc())
    rows = list(await db.scalars(q.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
    return render(
        request,
        "sessions.html",
        person,
        sessions=rows[:PAGE_SIZE],
        live=await live_now(db, [s.id for s in rows[:PAGE_SIZE]]),
        form=await _schedule_choices(request, db, person),
        when=when,
        page=page,
        more=len(rows) > PAGE_SIZE,
        pager_query=f"when={when}&",
    )


async def _schedule_choices(request: Request, db: DB, person: Person) -> dict[str, object]:
    """What the scheduling form offers: nothing to officers; the trainer to managers and admins
    only (a trainer schedules their own sessions); to a unit leader, their units' studies and
    drills; an hour and a half from the next full hour."""
    office, teaches = bureau_wide(person), person.has_role(Role.TRAINER)
    led = person.led_unit_ids
    if not (office or teaches or led):
        return {}
    trainers: list[Person] = []
    if office:
        q = (
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.TRAINER, Person.active.is_(True))
        )
        trainers = list(await db.scalars(q.order_by(Person.display_name)))
    start = (utcnow() + timedelta(hours=1)).astimezone(services(request).tz)
    start = start.replace(minute=0, second=0, microsecond=0)
    courses = list(await db.scalars(select(Course).order_by(Course.code)))
    if not office:  # a trainer books the courses they teach; a leader those open to their units
        courses = [
            c
            for c in courses
            if (teaches and person.id in c.trainer_ids)
            or (led and (not c.audience_unit_ids or led & set(c.audience_unit_ids)))
        ]
    units = select(Unit).where(Unit.active.is_(True)).order_by(Unit.name)
    if not (office or teaches):
        units = units.where(Unit.id.in_(led))
    return {
        "courses": courses,
        "classrooms": list(await db.scalars(select(Classroom).order_by(Classroom.name))),
        "units": list(await db.scalars(units)),
        "unit_required": not (office or teaches),
        "trainers": trainers,
        "kinds": [k for k in SessionKind if office or teaches or k in UNIT_SESSION_KINDS],
        "repeats": PRESETS,
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M"),
    }


@router.post("/sessions")
async def schedule_form(
    request: Request,
    db: DB,
    person: CurrentPerson,
    title: Annotated[str, Form(max_length=200)],
    kind: Annotated[SessionKind, Form()],
    course_id: Annotated[Id, Form()],
    planned_start: Annotated[str, Form(max_length=40)],
    planned_end: Annotated[str, Form(max_length=40)],
    classroom_id: Annotated[Id | None, Form()] = None,
    place: Annotated[str, Form(max_length=200)] = "",
    trainer_id: Annotated[Id | None, Form()] = None,
    unit_id: Annotated[Id | None, Form()] = None,
    auto_record: Annotated[bool, Form()] = False,
    ptz_preset: Annotated[int | None, Form(ge=0, le=127)] = None,
    repeat: Annotated[Preset | Literal[""], Form()] = "",
    until: Annotated[date | None, Form()] = None,
) -> RedirectResponse:
    """The sessions page's form: the same rules as the API (who may, a free classroom); with a
    repeat, a series (to ``until``, else a year)."""
    start, end = _local(request, planned_start), _local(request, planned_end)
    fields = {
        "title": title,
        "kind": kind,
        "course_id": course_id,
        "classroom_id": classroom_id,
        "place": "" if classroom_id is not None else place,
        "trainer_id": trainer_id,
        "unit_id": unit_id,
        "planned_start": start,
        "planned_end": end,
        "auto_record": auto_record,
        "ptz_preset": ptz_preset,
    }
    try:
        if repeat and start is not None:
            try:
                rule = preset_rule(repeat, start, until)
            except RuleError as exc:
                raise HTTPException(422, str(exc)) from None
            series = await create_series(SeriesIn(**fields, rrule=rule), request, db, person)
            return RedirectResponse(f"/sessions/series/{series.id}", status_code=303)
        body = SessionIn(**fields)
    except ValidationError as exc:  # shown like any other form's: the field and what is wrong
        raise RequestValidationError(exc.errors()) from None
    session = await create_session(body, request, db, person)
    return RedirectResponse(f"/sessions/{session.id}", status_code=303)


def start_guard(session: Session, window: ControlWindow, now: datetime) -> str:
    """What Start asks before it acts: nothing in the planned time; whether to start early
    within the window's lead; outside the window only an override may start, and says so."""
    if not window.holds(now):
        return "outside"
    return "early" if now < session.planned_start else "open"


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
async def session_page(
    session_id: Id, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    session = await get_session_or_404(db, session_id)
    recordings = await find_recordings(
        db, person, RecordingFilter(session_id=session_id), services(request).tz
    )
    may_record = session.classroom_id is not None and (
        person.has_role(Role.ADMIN)
        or (person.has_role(Role.TRAINER) and session.trainer_id == person.id)
    )
    busy = any(r.state.active or r.state.value == "processing" for r in recordings)
    may_take = runs_session(person, session)
    may_read = may_take or person.has_role(Role.MANAGER)
    try:
        plan = session_plan(request, session) if may_read else None
    except HTTPException:
        plan = None  # no plan for that year: nothing to tag
    attendance = await session_attendance(db, session_id) if may_read else []
    open_course = await course_open_to(db, person, session.course_id)
    files = await course_files(db, person, session.course_id) if open_course else []
    names = {p.id: p.display_name for p in await officers_for(db, session)} if may_read else {}
    live_now = open_course and any(r.state.value == "recording" for r in recordings)
    settings = services(request).settings
    window = control_window(
        session, settings.kiosk.open_before, timedelta(seconds=settings.agent.postroll_s)
    )
    return render(
        request,
        "session.html",
        person,
        session=session,
        recordings=recordings,
        may_record=may_record,
        may_cancel=may_schedule(person, session.trainer_id, session.kind, session.unit_id)
        and not await was_held(db, session),
        recording_now=any(r.state.active for r in recordings),
        recording_started=any(r.state.value == "recording" for r in recordings),
        live_now=live_now and services(request).settings.live.enabled,
        paused=any(r.state.active and r.paused for r in recordings),
        refresh=busy,
        may_read_attendance=may_read,
        may_take=may_take,
        plan=plan,
        # Until the trainer says what the session covered, the course's own items are offered.
        tagged={t.item_no: t.articles for t in session.study_items}
        or dict.fromkeys(session.course.study_items, 0),
        suggested=not session.study_items and bool(session.course.study_items),
        attendance=attendance,
        names=names,
        courseware=files,
        may_upload=await may_upload(db, person, session.course_id),
        window=window,
        start_guard=start_guard(session, window, utcnow()),
        may_override=person.has_role(Role.MANAGER, Role.ADMIN),
        local_input=lambda d: d.astimezone(services(request).tz).strftime("%Y-%m-%dT%H:%M"),
        classrooms=list(await db.scalars(select(Classroom).order_by(Classroom.name))),
    )


@router.post("/sessions/{session_id}/edit")
async def edit_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    title: Annotated[str, Form(max_length=200)],
    planned_start: Annotated[str, Form(max_length=40)],
    planned_end: Annotated[str, Form(max_length=40)],
    classroom_id: Annotated[Id | None, Form()] = None,
    place: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """One session moved or renamed (one of a series becomes its exception): the API's rules."""
    where: dict[str, object] = (
        {"classroom_id": classroom_id} if classroom_id is not None else {"place": place}
    )
    try:
        body = SessionPatch(
            title=title,
            planned_start=_local(request, planned_start),
            planned_end=_local(request, planned_end),
            **where,
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    await change_session(session_id, body, request, db, person)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.get("/sessions/{session_id}/live", response_class=HTMLResponse)
async def live_page(
    session_id: Id, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    """The session live: WebRTC from the classroom's agent, HLS when WebRTC cannot connect."""
    session = await get_session_or_404(db, session_id)
    if not await course_open_to(db, person, session.course_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this session's course is not open to you")
    return render(request, "live.html", person, session=session)


@router.get("/sessions/{session_id}/console", response_class=HTMLResponse)
async def console_page(
    session_id: Id, request: Request, db: DB, person: CurrentPerson, override: bool = False
) -> HTMLResponse:
    """The trainer's console: the picture being sent, viewers, audio, PTZ, start/stop, Q&A."""
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, "console", override)
    return render(request, "console.html", person, session=session, override=override)


async def officers_for(db: DB, session: Session) -> list[Person]:
    """The officers who may attend: the organising unit's, or everyone's for district sessions."""
    q = (
        select(Person)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == Role.OFFICER, Person.active.is_(True))
        .order_by(Person.display_name)
    )
    if session.unit_id is not None:
        q = q.where(Person.unit_id == session.unit_id)
    return list(await db.scalars(q))


def _local(request: Request, value: str) -> datetime | None:
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{value!r} is not a date and time") from None
    return naive.replace(tzinfo=services(request).tz) if naive.tzinfo is None else naive


@router.post("/sessions/{session_id}/attendance")
async def attendance_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    person_id: Annotated[Id, Form()],
    check_in: Annotated[str, Form(max_length=40)],
    check_out: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    who = await db.get(Person, person_id)
    start = _local(request, check_in)
    if who is None or start is None:
        raise HTTPException(422, "choose an officer and a check-in time")
    try:
        await record_attendance(db, session, who, start, _local(request, check_out), person, reason)
    except AttendanceError as exc:
        raise HTTPException(422, str(exc)) from None
    await db.commit()
    return RedirectResponse(f"/sessions/{session_id}#attendance", status_code=303)


@router.post("/sessions/{session_id}/start")
async def start_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    override: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    await start_recording(request, db, person, session_id, override=override)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/stop")
async def stop_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    override: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    try:
        await stop_recording(request, db, person, session_id, override=override)
    except HTTPException as exc:
        if exc.status_code != 409:  # already stopped: the page shows the state anyway
            raise
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/pause")
async def pause_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    override: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    await pause_recording(request, db, person, session_id, paused=True, override=override)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/resume")
async def resume_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    override: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    await pause_recording(request, db, person, session_id, paused=False, override=override)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/extend")
async def extend_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    minutes: Annotated[int, Form(ge=1, le=240)],
    override: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    await extend(session_id, ExtendIn(minutes=minutes), request, db, person, override)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/cancel")
async def cancel_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    confirm: Annotated[Literal["yes"], Form()],
) -> RedirectResponse:
    """The session page's Cancel, behind a box to tick: it deletes the session."""
    await cancel(db, person, session_id, services(request).tz)
    return RedirectResponse("/sessions", status_code=303)


@router.post("/sessions/{session_id}/courseware")
async def courseware_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    file: UploadFile,
) -> RedirectResponse:
    """The session page's upload form; refusals show on the error page with their reason."""
    session = await get_session_or_404(db, session_id)
    await upload_courseware(request, db, person, session.course_id, file, session.id)
    return RedirectResponse(f"/sessions/{session_id}#courseware", status_code=303)


def _form_number(value: object, field: str) -> int:
    """A small whole number typed in ASCII digits (``isdigit`` also takes "²", which int()
    does not)."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise HTTPException(422, f"{field}: {text[:20]!r} is not a whole number")
    return int(text)


@router.post("/sessions/{session_id}/study-items")
async def study_items_form(
    session_id: Id, request: Request, db: DB, person: CurrentPerson
) -> RedirectResponse:
    form = await request.form()
    items = []
    for value in form.getlist("item"):
        no = _form_number(value, "item")
        articles = form.get(f"articles_{no}") or "0"
        try:
            items.append(StudyItemIn(item_no=no, articles=_form_number(articles, "articles")))
        except ValidationError as exc:
            raise HTTPException(422, f"study item {no}: {exc.errors()[0]['msg']}") from None
    await replace_study_items(request, db, person, session_id, items)
    return RedirectResponse(f"/sessions/{session_id}#study", status_code=303)


# --- the roll (点名): who was there, ticked on a phone ------------------------------------------


def _hhmm(value: datetime | None, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M") if value else ""


def _roll_rows(lines: list[RollLine], session: Session, tz: tzinfo) -> list[dict[str, object]]:
    return [
        {
            "id": x.person.id,
            "name": x.person.display_name,
            "badge": x.person.badge_no or "",
            "present": x.present,
            "from_roll": x.from_roll or not x.present,
            "in": _hhmm(x.attendance.check_in if x.attendance else session.planned_start, tz),
            "out": _hhmm(x.attendance.check_out if x.attendance else session.planned_end, tz),
        }
        for x in lines
    ]


async def _roll_page(
    request: Request,
    db: DB,
    person: Person,
    session: Session,
    rows: list[dict[str, object]] | None = None,
    errors: dict[int, str] | None = None,
    status_code: int = 200,
    card_error: str | None = None,
) -> HTMLResponse:
    tz = services(request).tz
    if rows is None:
        rows = _roll_rows(await roll_of(db, session), session, tz)
    return render(
        request,
        "roll.html",
        person,
        status_code=status_code,
        session=session,
        rows=rows,
        errors=errors or {},
        card_error=card_error,
        present=sum(bool(r["present"]) for r in rows),
    )


@router.get("/sessions/{session_id}/roll", response_class=HTMLResponse)
async def roll_page(
    session_id: Id, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    """The session's roster to tick, check-in and check-out at the session's times unless
    corrected: for the trainer and the unit's leader, on a phone at the parade ground."""
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    return await _roll_page(request, db, person, session)


@router.post("/sessions/{session_id}/roll/card", response_model=None)
async def roll_card_form(
    session_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    card: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A card read into the roll's card field: its holder ticked; the field is ready for the
    next. A card nobody has, or someone off the roster, is said beside the field."""
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    try:
        who, new = await mark_by_card(db, session, person, card, utcnow())
    except CardRefused as exc:
        return await _roll_page(
            request, db, person, session, card_error=f"roll.card.{exc.code}", status_code=422
        )
    await db.commit()
    said = "marked" if new else "already"
    return RedirectResponse(
        f"/sessions/{session_id}/roll?card={said}&who={quote(who.display_name)}#card",
        status_code=303,
    )


@router.post("/sessions/{session_id}/roll", response_model=None)
async def roll_form(session_id: Id, request: Request, db: DB, person: CurrentPerson) -> Response:
    """Saves the ticks (classroom/roll_call.py); a time that is not one, or a check-out before
    the check-in, is shown beside its person and nothing is saved."""
    session = await get_session_or_404(db, session_id)
    check_writes(person, session)
    tz = services(request).tz
    form = await request.form(max_fields=3 * MAX_ROSTER + 10)
    present = {v for v in form.getlist("present") if isinstance(v, str)}
    lines = await roll_of(db, session)
    day = session.planned_start.astimezone(tz).date()
    marks, errors = [], {}
    rows = _roll_rows(lines, session, tz)
    for row, line in zip(rows, lines, strict=True):
        pid = line.person.id
        if not row["from_roll"]:
            continue  # a kiosk's or an import's record: the roll leaves it be
        ticked = str(pid) in present
        given = {k: str(form.get(f"{k}_{pid}", "") or "")[:5] for k in ("in", "out")}
        row.update(present=ticked, **given)
        times: dict[str, datetime] = {}
        for k, text in given.items():
            try:
                times[k] = datetime.combine(day, time.fromisoformat(text), tz)
            except ValueError:
                errors[pid] = "roll.bad_time"
        if ticked and not errors.get(pid) and times["out"] <= times["in"]:
            errors[pid] = "roll.out_before_in"
        if ticked and pid not in errors:
            marks.append(Mark(pid, True, times["in"], times["out"]))
        elif not ticked:
            marks.append(Mark(pid, False))
    if errors:
        return await _roll_page(request, db, person, session, rows, errors, 422)
    try:
        result = await save_roll(db, session, person, marks)
    except AttendanceError:
        await db.rollback()
        return await _roll_page(
            request, db, person, session, rows, {0: "roll.far_from_session"}, 422
        )
    await db.commit()
    query = f"added={result.added}&changed={result.changed}&withdrawn={result.withdrawn}"
    return RedirectResponse(f"/sessions/{session_id}/roll?{query}", status_code=303)


@router.get("/sessions/series/{series_id}", response_class=HTMLResponse)
async def series_page(
    series_id: Id, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    """A series' sessions, each linked to its page (where it is changed, its roll taken), and
    the dates taken out of it: for whoever may schedule it, and the training office."""
    series = await db.get(SessionSeries, series_id)
    if series is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"series {series_id} not found")
    kind, unit_id = SessionKind(series.template["kind"]), series.template.get("unit_id")
    if not may_schedule(person, series.template["trainer_id"], kind, unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this series is not yours to see")
    sessions = await db.scalars(
        select(Session).where(Session.series_id == series.id).order_by(Session.planned_start)
    )
    tz = services(request).tz
    first = series.first_start.astimezone(tz)
    return render(
        request,
        "series.html",
        person,
        series=series,
        sessions=list(sessions),
        kind=kind,
        today=datetime.now(tz).date().isoformat(),
        start_time=first.strftime("%H:%M"),
    )


@router.post("/sessions/series/{series_id}/change")
async def series_change_form(
    series_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    since: Annotated[date, Form()],
    start_time: Annotated[str, Form(max_length=5)] = "",
    minutes: Annotated[int | None, Form(ge=1, le=24 * 60)] = None,
    title: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """The series from a date on: its sessions not yet held booked again with the new time,
    length or title (those before, and any held, stay)."""
    try:
        body = SeriesPatch(
            since=since,
            start_time=time.fromisoformat(start_time) if start_time else None,
            minutes=minutes,
            title=title.strip() or None,
        )
    except (ValueError, ValidationError):
        raise HTTPException(422, "give a date, and a time as hh:mm") from None
    await change_series(series_id, body, request, db, person)
    return RedirectResponse(f"/sessions/series/{series_id}", status_code=303)
