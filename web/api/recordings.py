"""Recordings: list, detail, and the media itself."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BeforeValidator

from classroom.courseware import course_open_to
from classroom.db.models import Person, Recording, RecordingState
from classroom.library import RecordingFilter, find_recordings
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


# A filter form sends its "any" choices as empty values: they filter nothing.
_BLANK = BeforeValidator(lambda v: None if v == "" else v)


def library_filter(
    q: Annotated[str, Query(max_length=100)] = "",
    course_id: Annotated[Id | None, _BLANK] = None,
    trainer_id: Annotated[Id | None, _BLANK] = None,
    unit_id: Annotated[Id | None, _BLANK] = None,
    item: Annotated[int | None, Query(ge=1, le=1000), _BLANK] = None,
    since: Annotated[date | None, _BLANK] = None,
    until: Annotated[date | None, _BLANK] = None,
    session_id: Id | None = None,
    to_watch: bool = False,
) -> RecordingFilter:
    """The library's search and filters, as query parameters (the API's and the page's)."""
    return RecordingFilter(
        text=q,
        course_id=course_id,
        trainer_id=trainer_id,
        unit_id=unit_id,
        item_no=item,
        since=since,
        until=until,
        session_id=session_id,
        to_watch=to_watch,
    )


Filter = Annotated[RecordingFilter, Depends(library_filter)]


@router.get("", response_model=list[RecordingOut])
async def list_recordings(
    request: Request,
    db: DB,
    person: CurrentPerson,
    where: Filter,
    limit: Limit = 100,
    offset: Count = 0,
) -> list[Recording]:
    """Newest first, ``limit`` at a time from ``offset``; ``q`` searches the session's title;
    ``since``/``until`` are the session's local dates; ``to_watch`` keeps the caller's own
    recordings still to watch for credit."""
    return await find_recordings(db, person, where, services(request).tz, limit, offset)


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
    if rec.state != RecordingState.AVAILABLE:
        raise HTTPException(status.HTTP_409_CONFLICT, f"recording {rec.id} is {rec.state.value}")
    if not rec.object_key or rec.size_bytes is None:
        # Made available without its MP4 (the join failed): it plays from its HLS playlist. A
        # conflict with its state, not a 404, which would say the recording is not there.
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"recording {rec.id} has no MP4; play its HLS"
        )
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
