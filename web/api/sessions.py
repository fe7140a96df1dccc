"""Sessions and the trainer's Start/Stop recording."""

from __future__ import annotations

from datetime import timedelta, tzinfo

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from classroom.audit import audit
from classroom.booking import (
    RoomBooked,
    SessionHeld,
    cancel_session,
    check_room_free,
    take_out_of_series,
    was_held,
)
from classroom.compliance import NoPlan
from classroom.db.models import (
    Classroom,
    Course,
    Person,
    Role,
    Session,
    SessionKind,
    SessionStudyItem,
    Unit,
)
from classroom.db.types import utcnow
from classroom.plan.schema import Plan, Requirement
from classroom.recordings import (
    extend_session,
    request_pause,
    request_start,
    request_stop,
)
from classroom.scope import bureau_wide, leads_session, runs_session
from classroom.session_window import OutsideWindow, control_window
from web.deps import DB, CurrentPerson, services
from web.schemas import (
    Count,
    ExtendIn,
    Id,
    Limit,
    RecordingOut,
    SessionIn,
    SessionOut,
    Strict,
)

router = APIRouter(prefix="/sessions", tags=["sessions"])


async def get_session_or_404(db: DB, session_id: Id) -> Session:
    session = await db.get(Session, session_id)
    if session is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"session {session_id} not found")
    return session


def check_may_record(person: Person, session: Session) -> None:
    """The session's own trainer, or an admin; nobody else runs a classroom's cameras."""
    if person.has_role(Role.ADMIN):
        return
    if person.has_role(Role.TRAINER) and session.trainer_id == person.id:
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, "only the session's trainer or an admin may record it"
    )


def classroom_of(session: Session) -> int:
    """The classroom whose cameras, kiosk and live stream a session uses; a 409 for a session
    held at a place without one."""
    if session.classroom_id is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "code": "no_classroom",
                "message": f"session {session.id} is held at {session.place}, "
                "without a classroom: nothing records, streams or turns there",
            },
        )
    return session.classroom_id


_READS = {"console"}  # looking at a classroom out of its window changes nothing: not audited


async def check_may_control(
    request: Request, db: DB, person: Person, session: Session, what: str, override: bool
) -> None:
    """Recording, PTZ and the console: the session's trainer or an admin, within the session's
    window (classroom.session_window). Outside it a 409 naming the window, unless a manager or an
    admin overrides it, which is audited."""
    svc = services(request)
    classroom_of(session)
    window = control_window(
        session, svc.settings.kiosk.open_before, timedelta(seconds=svc.settings.agent.postroll_s)
    )
    if override:
        if not person.has_role(Role.MANAGER, Role.ADMIN):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "only managers and admins override a session's window"
            )
        if what in _READS:
            return
        await audit(
            db,
            person,
            "session.override",
            f"session:{session.id}",
            control=what,
            opens=window.opens.isoformat(),
            closes=window.closes.isoformat(),
            outside=not window.holds(utcnow()),
        )
        return
    check_may_record(person, session)
    if not window.holds(utcnow()):
        raise HTTPException(
            status.HTTP_409_CONFLICT, OutsideWindow(session, window).described(svc.tz)
        )


async def start_recording(
    request: Request, db: DB, person: Person, session_id: Id, override: bool = False
) -> RecordingOut:
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, "start", override)
    rec = await request_start(db, session, person)
    await db.commit()
    services(request).commands.notify(classroom_of(session))
    return RecordingOut.model_validate(rec)


async def stop_recording(
    request: Request, db: DB, person: Person, session_id: Id, override: bool = False
) -> RecordingOut:
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, "stop", override)
    rec = await request_stop(db, session)
    await db.commit()
    services(request).commands.notify(classroom_of(session))
    return RecordingOut.model_validate(rec)


async def pause_recording(
    request: Request, db: DB, person: Person, session_id: Id, paused: bool, override: bool = False
) -> RecordingOut:
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, "pause" if paused else "resume", override)
    rec = await request_pause(db, session, paused)
    await db.commit()
    services(request).commands.notify(classroom_of(session))
    return RecordingOut.model_validate(rec)


def room_booked(request: Request, exc: RoomBooked) -> HTTPException:
    """The other session's times in the bureau's time zone, as the pages show them."""
    return HTTPException(status.HTTP_409_CONFLICT, exc.described(services(request).tz))


def may_schedule(person: Person, trainer_id: int, kind: SessionKind, unit_id: int | None) -> bool:
    """Managers and admins schedule (and cancel) any session; a trainer their own; a unit
    leader their units' studies and drills."""
    own = person.has_role(Role.TRAINER) and trainer_id == person.id
    return own or bureau_wide(person) or leads_session(person, kind, unit_id)


def check_may_schedule(
    person: Person, trainer_id: int, kind: SessionKind, unit_id: int | None
) -> None:
    if not may_schedule(person, trainer_id, kind, unit_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only managers and admins schedule sessions, trainers their own, "
            "unit leaders their units' studies and drills",
        )


def check_course_fits(
    course: Course, trainer: Person, kind: SessionKind, unit_id: int | None
) -> None:
    """A session is taught by one of its course's trainers (or, for a unit's study or drill, led
    by the unit's leader), and its unit is one the course is open to: a booking never widens a
    course's audience, nor makes its booker a trainer of it."""
    if trainer.id not in course.trainer_ids and not leads_session(trainer, kind, unit_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            {
                "code": "not_course_trainer",
                "field": "trainer_id",
                "course": course.code,
                "message": f"{trainer.display_name} does not teach course {course.code}",
            },
        )
    if course.kind is not None and kind != course.kind:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "course_kind",
                "field": "kind",
                "course": course.code,
                "message": f"course {course.code} is for {course.kind.value} sessions",
            },
        )
    audience = course.audience_unit_ids
    if audience and unit_id not in audience:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "unit_not_in_audience",
                "field": "unit_id",
                "course": course.code,
                "message": f"course {course.code} is open only to its own units; "
                "the session's unit must be one of them",
            },
        )


def may_lead(trainer: Person | None, kind: SessionKind, unit_id: int | None) -> bool:
    """Who may be a session's trainer: an active trainer, or the leader of the unit whose study
    or drill it is."""
    if trainer is None or not trainer.active:
        return False
    return trainer.has_role(Role.TRAINER) or leads_session(trainer, kind, unit_id)


async def check_booking(db: DB, person: Person, body: SessionIn) -> int:
    """Who may book it, and that its course, classroom, trainer and unit exist and fit; the
    trainer's id. (The classroom's time is checked by the caller, once per session.)"""
    trainer_id = body.trainer_id if body.trainer_id is not None else person.id
    check_may_schedule(person, trainer_id, body.kind, body.unit_id)
    trainer = await db.get(Person, trainer_id)
    course = await db.get(Course, body.course_id)
    room = await db.get(Classroom, body.classroom_id) if body.classroom_id is not None else True
    for label, found in (
        ("course", course),
        ("classroom", room),
        ("trainer", trainer if may_lead(trainer, body.kind, body.unit_id) else None),
        ("unit", await db.get(Unit, body.unit_id) if body.unit_id is not None else True),
    ):
        if found is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no such {label}")
    assert course is not None and trainer is not None
    check_course_fits(course, trainer, body.kind, body.unit_id)
    return trainer_id


@router.post("", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def create_session(
    body: SessionIn, request: Request, db: DB, person: CurrentPerson
) -> Session:
    """Managers and admins schedule any session; a trainer schedules their own. A classroom
    holds one session at a time: a booking over another session of it is a 409 naming that one."""
    trainer_id = await check_booking(db, person, body)
    try:
        await check_room_free(db, body.classroom_id, body.planned_start, body.planned_end)
    except RoomBooked as exc:
        raise room_booked(request, exc) from None
    session = Session(**body.model_dump(exclude={"trainer_id"}), trainer_id=trainer_id)
    db.add(session)
    await db.flush()
    await audit(db, person, "session.create", f"session:{session.id}", title=body.title)
    await db.commit()
    return await get_session_or_404(db, session.id)


async def cancel(db: DB, person: Person, session_id: Id, tz: tzinfo) -> None:
    session = await get_session_or_404(db, session_id)
    check_may_schedule(person, session.trainer_id, session.kind, session.unit_id)
    try:
        await take_out_of_series(db, session, tz)
        await cancel_session(db, session)
    except SessionHeld as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await audit(db, person, "session.cancel", f"session:{session_id}", title=session.title)
    await db.commit()  # its agent drops it from its cache at its next schedule refresh


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_session_api(
    session_id: Id, request: Request, db: DB, person: CurrentPerson
) -> None:
    """Cancel a session not yet held, which gives its classroom time back: whoever may schedule
    it. One that was held (started, recorded, attended) is a 409: it stays on the record. One of
    a series is an exception of it from then on."""
    await cancel(db, person, session_id, services(request).tz)


async def newest_sessions(
    db: DB, limit: int, offset: int, classroom_id: int | None = None
) -> list[Session]:
    """Latest planned start first; ties by id, so pages neither skip nor repeat a session."""
    q = select(Session).order_by(Session.planned_start.desc(), Session.id.desc())
    if classroom_id is not None:
        q = q.where(Session.classroom_id == classroom_id)
    return list(await db.scalars(q.limit(limit).offset(offset)))


class SessionPatch(Strict):
    """What changes in one session (what is left out stays): a session moved to a place clears
    its classroom, and a session moved to a classroom clears its place."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    classroom_id: Id | None = None
    place: str | None = Field(default=None, max_length=200)
    trainer_id: Id | None = None


def _patched(session: Session, body: SessionPatch) -> SessionIn:
    now = {
        "title": session.title,
        "kind": session.kind,
        "course_id": session.course_id,
        "classroom_id": session.classroom_id,
        "place": session.place,
        "trainer_id": session.trainer_id,
        "unit_id": session.unit_id,
        "planned_start": session.planned_start,
        "planned_end": session.planned_end,
        "auto_record": session.auto_record,
        "ptz_preset": session.ptz_preset,
    }
    change = body.model_dump(exclude_none=True)
    if change.get("place", "").strip():
        now |= {"classroom_id": None, "auto_record": False, "ptz_preset": None}
    if "classroom_id" in change:
        now["place"] = ""
    try:
        return SessionIn.model_validate(now | change)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


@router.patch("/{session_id}", response_model=SessionOut)
async def change_session(
    session_id: Id, body: SessionPatch, request: Request, db: DB, person: CurrentPerson
) -> Session:
    """Move or change one session not yet held: whoever may schedule it, into what they may
    schedule, its classroom's time checked again. One of a series becomes an exception of it:
    a later change of the series leaves it as it is now."""
    session = await get_session_or_404(db, session_id)
    check_may_schedule(person, session.trainer_id, session.kind, session.unit_id)
    if await was_held(db, session):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"session {session.id} has been held: it stays on the record"
        )
    after = _patched(session, body)
    trainer_id = await check_booking(db, person, after)
    try:
        await check_room_free(
            db, after.classroom_id, after.planned_start, after.planned_end, session.id
        )
    except RoomBooked as exc:
        raise room_booked(request, exc) from None
    await take_out_of_series(db, session, services(request).tz)
    before = {"start": session.planned_start.isoformat(), "where": session.where}
    for name in ("title", "classroom_id", "place", "planned_start", "planned_end"):
        setattr(session, name, getattr(after, name))
    session.trainer_id, session.occurrence = trainer_id, None
    session.auto_record, session.ptz_preset = after.auto_record, after.ptz_preset
    await audit(
        db,
        person,
        "session.update",
        f"session:{session.id}",
        before=before,
        changed=body.model_dump(mode="json", exclude_none=True),
    )
    await db.commit()
    db.expunge(session)  # its classroom and trainer are loaded again
    return await get_session_or_404(db, session.id)


@router.get("", response_model=list[SessionOut])
async def list_sessions(
    db: DB,
    _: CurrentPerson,
    classroom_id: Id | None = None,
    limit: Limit = 100,
    offset: Count = 0,
) -> list[Session]:
    """Latest planned start first, ``limit`` at a time from ``offset``."""
    return await newest_sessions(db, limit, offset, classroom_id)


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: Id, db: DB, _: CurrentPerson) -> Session:
    return await get_session_or_404(db, session_id)


class StudyItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_no: int = Field(ge=1, le=10_000)
    articles: int = Field(default=0, ge=0, le=100)


def session_plan(request: Request, session: Session) -> Plan:
    year = session.planned_start.astimezone(services(request).tz).year
    try:
        return services(request).plans.get(year)
    except NoPlan as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


async def replace_study_items(
    request: Request, db: DB, person: Person, session_id: Id, body: list[StudyItemIn]
) -> None:
    """Which study-list items (Attachment 2) the session covered; replaces the previous list."""
    session = await get_session_or_404(db, session_id)
    if not (person.has_role(Role.MANAGER) or runs_session(person, session)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only the session's trainer, its unit's leader, managers and admins say what it "
            "covered",
        )
    plan = session_plan(request, session)
    items = {i.no: i for i in plan.study_items}
    seen: set[int] = set()
    for it in body:
        problem = None
        if it.item_no not in items:
            problem = f"study item {it.item_no} is not in the {plan.year} plan"
        elif it.item_no in seen:
            problem = f"study item {it.item_no} given twice"
        elif it.articles and items[it.item_no].requirement != Requirement.MONTHLY_ARTICLES:
            problem = f"study item {it.item_no} is not studied by articles"
        if problem:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
        seen.add(it.item_no)
    session.study_items = [SessionStudyItem(item_no=i.item_no, articles=i.articles) for i in body]
    await audit(
        db,
        person,
        "session.study_items",
        f"session:{session.id}",
        items=[i.model_dump() for i in body],
    )
    await db.commit()


@router.put("/{session_id}/study-items", response_model=list[StudyItemIn])
async def set_study_items(
    session_id: Id, body: list[StudyItemIn], request: Request, db: DB, person: CurrentPerson
) -> list[StudyItemIn]:
    """Which study-list items (Attachment 2) the session covered; replaces the previous list."""
    await replace_study_items(request, db, person, session_id, body)
    return body


@router.post(
    "/{session_id}/recording/start",
    response_model=RecordingOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def api_start_recording(
    session_id: Id, request: Request, db: DB, person: CurrentPerson, override: bool = False
) -> RecordingOut:
    return await start_recording(request, db, person, session_id, override)


@router.post(
    "/{session_id}/recording/stop",
    response_model=RecordingOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def api_stop_recording(
    session_id: Id, request: Request, db: DB, person: CurrentPerson, override: bool = False
) -> RecordingOut:
    return await stop_recording(request, db, person, session_id, override)


@router.post("/{session_id}/recording/pause", response_model=RecordingOut)
async def api_pause_recording(
    session_id: Id, request: Request, db: DB, person: CurrentPerson, override: bool = False
) -> RecordingOut:
    return await pause_recording(request, db, person, session_id, paused=True, override=override)


@router.post("/{session_id}/recording/resume", response_model=RecordingOut)
async def api_resume_recording(
    session_id: Id, request: Request, db: DB, person: CurrentPerson, override: bool = False
) -> RecordingOut:
    return await pause_recording(request, db, person, session_id, paused=False, override=override)


@router.post("/{session_id}/extend", response_model=SessionOut)
async def extend(
    session_id: Id,
    body: ExtendIn,
    request: Request,
    db: DB,
    person: CurrentPerson,
    override: bool = False,
) -> Session:
    """Run longer than planned: the agent records on to the new end (plus its post-roll)."""
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, "extend", override)
    try:
        await extend_session(db, session, body.minutes)
    except RoomBooked as exc:
        raise room_booked(request, exc) from None
    await audit(db, person, "session.extend", f"session:{session.id}", minutes=body.minutes)
    await db.commit()
    return session
