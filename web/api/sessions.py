"""Sessions and the trainer's Start/Stop recording."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from classroom.audit import audit
from classroom.compliance import NoPlan
from classroom.db.models import Person, Role, Session, SessionStudyItem
from classroom.plan.schema import Plan, Requirement
from classroom.recordings import RecordingConflict, request_start, request_stop
from web.deps import DB, CurrentPerson, services
from web.schemas import RecordingOut, SessionOut

router = APIRouter(prefix="/sessions", tags=["sessions"])


async def get_session_or_404(db: DB, session_id: int) -> Session:
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


async def start_recording(
    request: Request, db: DB, person: Person, session_id: int
) -> RecordingOut:
    session = await get_session_or_404(db, session_id)
    check_may_record(person, session)
    rec = await request_start(db, session, person)
    await db.commit()
    services(request).commands.notify(session.classroom_id)
    return RecordingOut.model_validate(rec)


async def stop_recording(request: Request, db: DB, person: Person, session_id: int) -> RecordingOut:
    session = await get_session_or_404(db, session_id)
    check_may_record(person, session)
    try:
        rec = await request_stop(db, session)
    except RecordingConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await db.commit()
    services(request).commands.notify(session.classroom_id)
    return RecordingOut.model_validate(rec)


@router.get("", response_model=list[SessionOut])
async def list_sessions(db: DB, _: CurrentPerson) -> list[Session]:
    return list(await db.scalars(select(Session).order_by(Session.planned_start.desc())))


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: int, db: DB, _: CurrentPerson) -> Session:
    return await get_session_or_404(db, session_id)


class StudyItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_no: int = Field(ge=1)
    articles: int = Field(default=0, ge=0, le=100)


def session_plan(request: Request, session: Session) -> Plan:
    year = session.planned_start.astimezone(services(request).tz).year
    try:
        return services(request).plans.get(year)
    except NoPlan as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


async def replace_study_items(
    request: Request, db: DB, person: Person, session_id: int, body: list[StudyItemIn]
) -> None:
    """Which study-list items (Attachment 2) the session covered; replaces the previous list."""
    session = await get_session_or_404(db, session_id)
    if not person.has_role(Role.MANAGER):
        check_may_record(person, session)
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
    session_id: int, body: list[StudyItemIn], request: Request, db: DB, person: CurrentPerson
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
    session_id: int, request: Request, db: DB, person: CurrentPerson
) -> RecordingOut:
    return await start_recording(request, db, person, session_id)


@router.post(
    "/{session_id}/recording/stop",
    response_model=RecordingOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def api_stop_recording(
    session_id: int, request: Request, db: DB, person: CurrentPerson
) -> RecordingOut:
    return await stop_recording(request, db, person, session_id)
