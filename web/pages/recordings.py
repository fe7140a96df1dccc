"""Recordings list and the player page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from classroom.db.models import Role
from classroom.watching import watchers
from web.api.courseware import course_files
from web.api.recordings import list_recordings_query, visible_recording
from web.api.watching import rules_now
from web.deps import DB, CurrentPerson
from web.pages.common import render
from web.schemas import PAGE_SIZE, GapOut, Id, PageNo

router = APIRouter(include_in_schema=False)


@router.get("/recordings", response_class=HTMLResponse)
async def recordings_page(
    request: Request, db: DB, person: CurrentPerson, page: PageNo = 1
) -> HTMLResponse:
    rows = await list_recordings_query(
        db, person, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    recordings = rows[:PAGE_SIZE]
    refresh = any(r.state.value in ("pending", "recording", "processing") for r in recordings)
    return render(
        request,
        "recordings.html",
        person,
        recordings=recordings,
        refresh=refresh,
        page=page,
        more=len(rows) > PAGE_SIZE,
    )


@router.get("/recordings/{recording_id}", response_class=HTMLResponse)
async def player_page(
    recording_id: Id, request: Request, db: DB, person: CurrentPerson
) -> HTMLResponse:
    rec = await visible_recording(db, recording_id, person)
    stats = None
    if person.has_role(Role.MANAGER, Role.ADMIN):
        stats = await watchers(db, rec, rules_now(request))
    files = await course_files(db, person, rec.session.course_id)
    gaps = [GapOut.model_validate(g) for g in rec.gaps]
    return render(
        request,
        "recording.html",
        person,
        recording=rec,
        gaps=gaps,
        watchers=stats,
        courseware=files,
    )
