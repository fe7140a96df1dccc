"""Recordings: list, detail, and the media itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from classroom.courseware import course_open_to, courses_open_to
from classroom.db.models import Person, Recording, RecordingState, Role, Session
from classroom.watching import served
from web.deps import DB, CurrentPerson, services
from web.media import object_response
from web.schemas import Count, Id, Limit, RecordingOut

router = APIRouter(prefix="/recordings", tags=["recordings"])


async def get_recording_or_404(db: DB, recording_id: Id) -> Recording:
    rec = await db.get(Recording, recording_id)
    if rec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"recording {recording_id} not found")
    return rec


async def visible_recording(db: DB, recording_id: Id, person: Person) -> Recording:
    """The recording, if its course is open to ``person`` (403 if not, 404 if none)."""
    rec = await get_recording_or_404(db, recording_id)
    if not await course_open_to(db, person, rec.session.course_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this recording's course is not open to you")
    return rec


async def list_recordings_query(
    db: DB,
    person: Person,
    session_id: Id | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Recording]:
    """The recordings of the courses open to ``person``, newest first."""
    q = select(Recording).order_by(Recording.id.desc()).limit(limit).offset(offset)
    if session_id is not None:
        q = q.where(Recording.session_id == session_id)
    if not person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        q = q.join(Session, Session.id == Recording.session_id).where(
            Session.course_id.in_(courses_open_to(person))
        )
    return list(await db.scalars(q))


@router.get("", response_model=list[RecordingOut])
async def list_recordings(
    db: DB,
    person: CurrentPerson,
    session_id: Id | None = None,
    limit: Limit = 100,
    offset: Count = 0,
) -> list[Recording]:
    """Newest first, ``limit`` at a time from ``offset``."""
    return await list_recordings_query(db, person, session_id, limit, offset)


@router.get("/{recording_id}", response_model=RecordingOut)
async def get_recording(recording_id: Id, db: DB, person: CurrentPerson) -> Recording:
    return await visible_recording(db, recording_id, person)


@router.get(
    "/{recording_id}/media",
    response_class=Response,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}},
)
async def recording_media(
    recording_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    range_header: str | None = Header(default=None, alias="Range"),
    track: Literal["camera", "screen", "composite"] = "camera",
) -> Response:
    """The camera's MP4, or with ``track`` the screen's or the side-by-side composite."""
    rec = await visible_recording(db, recording_id, person)
    if rec.state != RecordingState.AVAILABLE or not rec.object_key or rec.size_bytes is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"recording {rec.id} is {rec.state.value}")
    key, size = rec.object_key, rec.size_bytes
    if track != "camera":
        if track not in rec.tracks:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"recording {rec.id} has no {track}")
        key, size = rec.tracks[track]["object_key"], int(rec.tracks[track]["size_bytes"])
    svc = services(request)
    duration = rec.duration_s or 0.0
    if svc.settings.storage.playback == "presigned":
        # The store serves the bytes: the grant of the whole file is all the portal sees.
        await served(db, rec, person, (0.0, duration))
        ttl = timedelta(seconds=svc.settings.storage.presign_expiry_s)
        return RedirectResponse(svc.store.presigned_get(key, ttl), status_code=307)
    rec_id, person_id = rec.id, person.id

    async def sent(first: int, end: int) -> None:
        """The bytes sent, as media time (an MP4's bytes spread about evenly over its time)."""
        if end <= first or not duration:
            return
        async with svc.sessionmaker() as later:
            viewer, recording = (
                await later.get(Person, person_id),
                await later.get(Recording, rec_id),
            )
            if viewer and recording:
                await served(
                    later, recording, viewer, (duration * first / size, duration * end / size)
                )

    return object_response(svc.store, key, size, "video/mp4", range_header, sent)
