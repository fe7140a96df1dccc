"""A finished recording for players, from the store: its HLS playlists (over the segments the
agent uploaded, so no second copy of the video exists) and its chapters where the slides change,
with thumbnails. Readable by whoever may see the recording."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Literal

import structlog
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel

from classroom.db.models import Recording
from classroom.protocol.layout import THUMBNAIL, chapter_picture_key, segments_prefix
from classroom.recordings import object_prefix
from classroom.watching import served
from storage.object_store import ObjectNotFound
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.recorder import SEGMENT_NAME
from streaming.vod import segment_times, thumbnail
from web.api.recordings import visible_recording
from web.deps import DB, CurrentPerson, services
from web.schemas import Count, Id

router = APIRouter(prefix="/recordings", tags=["recordings"])
log = structlog.get_logger()

_PLAYLIST = {"camera": "hls", "screen": "screen_hls"}
MAX_CHAPTERS = 500


class ChapterOut(BaseModel):
    start_s: float
    thumbnail: str


async def _available(db: DB, recording_id: Id, person: CurrentPerson) -> Recording:
    """A recording the person may watch, whose HLS can be played (the MP4 may still be made)."""
    rec = await visible_recording(db, recording_id, person)
    if not rec.playable:
        raise HTTPException(status.HTTP_409_CONFLICT, f"recording {rec.id} is {rec.state.value}")
    return rec


async def _read(request: Request, key: str) -> bytes:
    try:
        return await asyncio.to_thread(services(request).store.get_small, key)
    except ObjectNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not in the store") from None


_TIMES: dict[
    str, dict[str, tuple[float, float]]
] = {}  # by playlist key: a recording's never changes
_TIMES_KEPT = 256


async def _segment_times(request: Request, playlist_key: str) -> dict[str, tuple[float, float]]:
    times = _TIMES.get(playlist_key)
    if times is None:
        times = segment_times((await _read(request, playlist_key)).decode())
        if len(_TIMES) >= _TIMES_KEPT:
            _TIMES.pop(next(iter(_TIMES)))
        _TIMES[playlist_key] = times
    return times


@router.get("/{recording_id}/hls/{track}/{name}")
async def recording_hls(
    recording_id: Id,
    track: Literal["camera", "screen"],
    name: str,
    request: Request,
    db: DB,
    person: CurrentPerson,
) -> Response:
    """The track's HLS playlist (``index.m3u8``) and the segments it names."""
    rec = await _available(db, recording_id, person)
    playlist = rec.tracks.get(_PLAYLIST[track])
    if playlist is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"recording {rec.id} has no {track} HLS")
    if name == "index.m3u8":
        key, kind = playlist["object_key"], "application/vnd.apple.mpegurl"
    elif SEGMENT_NAME.fullmatch(name):
        key, kind = segments_prefix(object_prefix(rec), track) + name, "video/mp2t"
    else:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such HLS file")
    data = await _read(request, key)
    if kind == "video/mp2t":  # what this viewer is sent is what their playing may count for
        times = await _segment_times(request, playlist["object_key"])
        if name in times:
            await served(db, rec, person, times[name])
    # A finished recording's playlist and segments never change.
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{recording_id}/chapters", response_model=list[ChapterOut])
async def recording_chapters(
    recording_id: Id, request: Request, db: DB, person: CurrentPerson
) -> list[ChapterOut]:
    """Where the slides change (empty when the recording has no screen track)."""
    rec = await _available(db, recording_id, person)
    found = rec.tracks.get("chapters")
    if found is None:
        return []
    listed = json.loads(await _read(request, found["object_key"]))
    base = f"/api/v1/recordings/{rec.id}/chapters"
    return [
        ChapterOut(start_s=float(c["start_s"]), thumbnail=f"{base}/{i}.jpg")
        for i, c in enumerate(listed[:MAX_CHAPTERS])
    ]


@router.get("/{recording_id}/chapters/{number}.jpg")
async def chapter_thumbnail(
    recording_id: Id, number: Count, request: Request, db: DB, person: CurrentPerson
) -> Response:
    rec = await _available(db, recording_id, person)
    if "chapters" not in rec.tracks or not 0 <= number < MAX_CHAPTERS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such chapter")
    data = await _read(request, chapter_picture_key(object_prefix(rec), number))
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


# Pictures are made one or two at a time: a library page asks for a screenful at once.
_PICTURING = asyncio.Semaphore(2)
_NO_PICTURE: set[int] = set()  # recordings whose camera gave no frame (asked again on restart)
_PICTURE_WIDTH = 256


@router.get("/{recording_id}/thumbnail.jpg")
async def recording_thumbnail(
    recording_id: Id, request: Request, db: DB, person: CurrentPerson
) -> Response:
    """A picture of the recording for the library: a frame of the camera a few seconds in (from
    its MP4, or from a segment while the MP4 is made), made once (ffmpeg reads only the byte
    ranges it needs) and kept in the store."""
    rec = await _available(db, recording_id, person)
    store = services(request).store
    key = object_prefix(rec) + THUMBNAIL
    headers = {"Cache-Control": "private, max-age=86400"}
    try:
        return Response(await asyncio.to_thread(store.get_small, key), 200, headers, "image/jpeg")
    except ObjectNotFound:
        pass
    if rec.id in _NO_PICTURE or not (rec.object_key or rec.segment_keys):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no picture of this recording")
    if rec.object_key:
        source_key, at = rec.object_key, min(5.0, (rec.duration_s or 0.0) / 2)
    else:  # playable before its MP4: the second segment (4–8 s in, by default), at its start
        source_key, at = rec.segment_keys[min(1, len(rec.segment_keys) - 1)], 0.5
    source = store.presigned_get(source_key, timedelta(minutes=5))
    async with _PICTURING:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "thumbnail.jpg"
            try:
                await thumbnail(resolve_ffmpeg(), source, at, out, _PICTURE_WIDTH)
            except RuntimeError as exc:
                _NO_PICTURE.add(rec.id)
                log.warning("vod.no_thumbnail", recording=rec.id, error=str(exc)[:300])
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND, "no picture of this recording"
                ) from None
            data = out.read_bytes()
    await asyncio.to_thread(store.put_bytes, key, data, "image/jpeg")
    return Response(data, 200, headers, "image/jpeg")
