"""Resumable courseware uploads from a browser: the file is sent in chunks, each appended at
the offset the portal holds, so a cut connection or a closed laptop resumes where it stopped
instead of starting over. Finished, the file is judged and stored like any courseware.

Kept under the data directory (``uploads/<id>.part`` and its ``.json``), owned by the person who
began it; a day without a chunk and it is gone."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from classroom.db.models import Courseware, Person
from classroom.protocol.messages import DB_INT_MAX
from web.api.courseware import CoursewareOut, accept_courseware, upload_target
from web.deps import DB, CurrentPerson, services
from web.schemas import Id, Strict

router = APIRouter(tags=["courseware"])

CHUNK_MAX = 8 * 1024 * 1024  # one PUT; the page sends 4 MiB
STALE_S = 24 * 3600
_ID = r"^[A-Za-z0-9_-]{22,44}$"
UploadId = Annotated[str, Field(pattern=_ID)]


class UploadIn(Strict):
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=1, le=DB_INT_MAX)
    session_id: Id | None = None


class UploadOut(BaseModel):
    id: str
    offset: int
    size: int


def _folder(request: Request) -> Path:
    folder = services(request).settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _forget_stale(folder: Path) -> None:
    cutoff = time.time() - STALE_S
    for meta in folder.glob("*.json"):
        part = meta.with_suffix(".part")
        last = max(meta.stat().st_mtime, part.stat().st_mtime if part.exists() else 0)
        if last < cutoff:
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)


def _mine(request: Request, upload_id: str, person: Person) -> tuple[Path, dict[str, object]]:
    """The upload's part file and record; someone else's is as missing as none (404)."""
    meta = _folder(request) / f"{upload_id}.json"
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("person_id") != person.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"upload {upload_id} not found")
    return meta.with_suffix(".part"), record


def _out(upload_id: str, part: Path, record: dict[str, object]) -> UploadOut:
    return UploadOut(id=upload_id, offset=part.stat().st_size, size=int(str(record["size"])))


@router.post(
    "/courses/{course_id}/uploads", response_model=UploadOut, status_code=status.HTTP_201_CREATED
)
async def begin(
    course_id: Id, body: UploadIn, request: Request, db: DB, person: CurrentPerson
) -> UploadOut:
    """Begin an upload of ``size`` bytes: who may upload to the course, and how large, are
    checked now, before a byte is sent."""
    await upload_target(db, person, course_id, body.session_id)
    limit = services(request).settings.web.courseware_max_mb * 1024**2
    if body.size > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"courseware is at most {limit // 1024**2} MiB"
        )
    folder = _folder(request)
    await asyncio.to_thread(_forget_stale, folder)
    upload_id = secrets.token_urlsafe(24)
    record = body.model_dump() | {"course_id": course_id, "person_id": person.id}
    (folder / f"{upload_id}.part").touch()
    (folder / f"{upload_id}.json").write_text(json.dumps(record), encoding="utf-8")
    return UploadOut(id=upload_id, offset=0, size=body.size)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def where(upload_id: UploadId, request: Request, person: CurrentPerson) -> UploadOut:
    """How much has arrived: where to resume."""
    part, record = _mine(request, upload_id, person)
    return _out(upload_id, part, record)


def _append(part: Path, data: bytes) -> None:
    with part.open("ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


@router.put("/uploads/{upload_id}", response_model=UploadOut)
async def send(
    upload_id: UploadId,
    request: Request,
    person: CurrentPerson,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)],
) -> UploadOut:
    """The bytes from ``offset`` on: accepted only where the last chunk ended (409 with the
    offset held otherwise), never past the size begun with."""
    part, record = _mine(request, upload_id, person)
    held, size = part.stat().st_size, int(str(record["size"]))
    if offset != held:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "upload_offset", "message": f"the upload holds {held} bytes", "offset": held},
        )
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > CHUNK_MAX or held + len(data) > size:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, "more than the chunk or the file's size"
            )
    await asyncio.to_thread(_append, part, bytes(data))
    return _out(upload_id, part, record)


@router.post(
    "/uploads/{upload_id}/finish",
    response_model=CoursewareOut,
    status_code=status.HTTP_201_CREATED,
)
async def finish(
    upload_id: UploadId, request: Request, db: DB, person: CurrentPerson
) -> Courseware:
    """All of it arrived: judged by content and stored as the course's courseware (415, 409
    for a file the course has); the partial file is gone either way."""
    part, record = _mine(request, upload_id, person)
    held, size = part.stat().st_size, int(str(record["size"]))
    if held != size:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "upload_short", "message": f"{held} of {size} bytes", "offset": held},
        )
    session_id = record.get("session_id")
    target = await upload_target(
        db,
        person,
        int(str(record["course_id"])),
        int(str(session_id)) if session_id is not None else None,
    )
    try:
        return await accept_courseware(request, db, person, target, part, str(record["filename"]))
    finally:
        part.unlink(missing_ok=True)
        part.with_suffix(".json").unlink(missing_ok=True)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel(upload_id: UploadId, request: Request, person: CurrentPerson) -> None:
    part, _ = _mine(request, upload_id, person)
    part.unlink(missing_ok=True)
    part.with_suffix(".json").unlink(missing_ok=True)
