"""Sessions list and detail, with the trainer's Start/Stop buttons."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from classroom.db.models import Role, Session
from web.api.recordings import list_recordings_query
from web.api.sessions import get_session_or_404, start_recording, stop_recording
from web.deps import DB, CurrentPerson
from web.pages.common import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, db: DB, person: CurrentPerson) -> HTMLResponse:
    sessions = list(await db.scalars(select(Session).order_by(Session.planned_start.desc())))
    return render(request, "sessions.html", person, sessions=sessions)


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
async def session_page(
    session_id: int, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    session = await get_session_or_404(db, session_id)
    recordings = await list_recordings_query(db, session_id)
    may_record = person.has_role(Role.ADMIN) or (
        person.has_role(Role.TRAINER) and session.trainer_id == person.id
    )
    busy = any(r.state.active or r.state.value == "processing" for r in recordings)
    return render(
        request,
        "session.html",
        person,
        session=session,
        recordings=recordings,
        may_record=may_record,
        recording_now=any(r.state.active for r in recordings),
        refresh=busy,
    )


@router.post("/sessions/{session_id}/start")
async def start_form(
    session_id: int, request: Request, db: DB, person: CurrentPerson
) -> RedirectResponse:
    await start_recording(request, db, person, session_id)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/stop")
async def stop_form(
    session_id: int, request: Request, db: DB, person: CurrentPerson
) -> RedirectResponse:
    try:
        await stop_recording(request, db, person, session_id)
    except HTTPException as exc:
        if exc.status_code != 409:  # already stopped: the page shows the state anyway
            raise
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)
