"""Sessions and the trainer's Start/Stop recording."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select

from classroom.db.models import Person, Role, Session
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
