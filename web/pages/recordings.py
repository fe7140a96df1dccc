"""Recordings list and the player page."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from classroom.courseware import course_open_to, courses_open_to
from classroom.db.models import Course, Person, PersonRole, Role, Session, Unit
from classroom.library import RecordingFilter, find_recordings, marks_for
from classroom.recordings import live_now
from classroom.watching import watchers
from web.api.courseware import course_files
from web.api.recordings import Filter, visible_recording
from web.api.watching import rules_now
from web.deps import DB, CurrentPerson, services
from web.pages.common import render
from web.schemas import PAGE_SIZE, GapOut, Id, PageNo

router = APIRouter(include_in_schema=False)


async def _choices(request: Request, db: DB, person: Person) -> dict[str, Any]:
    """What the library's filters offer: the courses open to the person, trainers, units, and
    this year's study items."""
    courses = select(Course).order_by(Course.title)
    if not person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        courses = courses.where(Course.id.in_(courses_open_to(person)))
    trainers = (
        select(Person)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == Role.TRAINER)
        .order_by(Person.display_name)
    )
    svc = services(request)
    year = svc.plans.default_year(date.today())
    return {
        "courses": list(await db.scalars(courses.limit(500))),
        "trainers": list(await db.scalars(trainers.limit(500))),
        "units": list(await db.scalars(select(Unit).order_by(Unit.name).limit(500))),
        "items": svc.plans.get(year).study_items if year is not None else [],
    }


@router.get("/recordings", response_class=HTMLResponse)
async def recordings_page(
    request: Request, db: DB, person: CurrentPerson, where: Filter, page: PageNo = 1
) -> HTMLResponse:
    """The library: search and filters, what is live now, and each recording with its picture,
    session, course, trainer and what it means to the viewer."""
    tz = services(request).tz
    rows = await find_recordings(
        db, person, where, tz, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    recordings = rows[:PAGE_SIZE]
    refresh = any(r.state.value in ("pending", "recording", "processing") for r in recordings)
    live = await live_now(db)
    live_sessions = [
        s
        for s in await db.scalars(select(Session).where(Session.id.in_(list(live))))
        if person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN)
        or await course_open_to(db, person, s.course_id)
    ]
    query = request.url.query
    kept = "&".join(p for p in query.split("&") if p and not p.startswith("page="))
    return render(
        request,
        "recordings.html",
        person,
        recordings=recordings,
        marks=await marks_for(db, person, recordings),
        live_sessions=live_sessions,
        where=where,
        filtered=where != RecordingFilter(),
        officer=person.has_role(Role.OFFICER),
        refresh=refresh,
        page=page,
        more=len(rows) > PAGE_SIZE,
        pager_query=f"{kept}&" if kept else "",
        **await _choices(request, db, person),
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
