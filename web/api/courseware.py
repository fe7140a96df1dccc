"""Courseware of a course: upload (trainers of the course, managers, admins), list and download
(people the course is open to)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from classroom.audit import audit
from classroom.courseware import (
    AlreadyInCourse,
    RefusedFile,
    course_open_to,
    may_upload,
    store_courseware,
)
from classroom.db.models import Course, Courseware, Person, Session
from web.deps import DB, CurrentPerson, services
from web.media import object_response
from web.schemas import Id

router = APIRouter(tags=["courseware"])

CHUNK = 1024 * 1024


class CoursewareOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    course_id: Id
    session_id: Id | None
    kind: str
    content_type: str
    original_name: str
    size_bytes: int
    sha256: str
    created_at: datetime


async def _course(db: DB, course_id: Id) -> Course:
    course = await db.get(Course, course_id)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} not found")
    return course


async def _spool(upload: UploadFile, into: Path, limit: int) -> None:
    """Copy the upload to a file, refusing it (413) past ``limit`` bytes."""
    size = 0
    with into.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    f"courseware is at most {limit // 1024**2} MiB",
                )
            out.write(chunk)


async def upload_target(
    db: DB, person: Person, course_id: Id, session_id: Id | None
) -> tuple[Course, Session | None]:
    """The course (and session of it) ``person`` may add courseware to (403/404/422 if not)."""
    course = await _course(db, course_id)
    if not await may_upload(db, person, course_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "courseware is uploaded by the course's trainers, managers and admins",
        )
    session = None
    if session_id is not None:
        session = await db.get(Session, session_id)
        if session is None or session.course_id != course_id:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "no such session in this course"
            )
    return course, session


async def accept_courseware(
    request: Request,
    db: DB,
    person: Person,
    target: tuple[Course, Session | None],
    path: Path,
    filename: str,
) -> Courseware:
    """A received file judged by content, recognised if the course has it, stored, audited."""
    course, session = target
    try:
        item = await store_courseware(
            db, services(request).store, course, session, person, path, filename
        )
    except RefusedFile as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from None
    except AlreadyInCourse as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "code": "courseware_duplicate",
                "message": str(exc),
                "field": "file",
                "name": exc.existing.original_name,
                "id": exc.existing.id,
            },
        ) from None
    await audit(
        db,
        person,
        "courseware.upload",
        f"courseware:{item.id}",
        course=course.id,
        name=item.original_name,
        sha256=item.sha256,
    )
    await db.commit()
    return item


async def upload_courseware(
    request: Request,
    db: DB,
    person: Person,
    course_id: Id,
    upload: UploadFile,
    session_id: Id | None,
) -> Courseware:
    target = await upload_target(db, person, course_id, session_id)
    svc = services(request)
    spool_dir = svc.settings.data_dir / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spool_dir) as tmp:
        path = Path(tmp) / "upload"
        await _spool(upload, path, svc.settings.web.courseware_max_mb * 1024**2)
        return await accept_courseware(request, db, person, target, path, upload.filename or "file")


@router.post(
    "/courses/{course_id}/courseware",
    response_model=CoursewareOut,
    status_code=status.HTTP_201_CREATED,
)
async def api_upload(
    course_id: Id,
    request: Request,
    db: DB,
    person: CurrentPerson,
    file: UploadFile,
    session_id: Id | None = Form(default=None),
) -> Courseware:
    """PDF, PPTX, DOCX, MP4, JPEG or PNG, judged by content (415 otherwise); at most
    ``web.courseware_max_mb`` (413)."""
    return await upload_courseware(request, db, person, course_id, file, session_id)


async def course_files(db: DB, person: Person, course_id: Id) -> list[Courseware]:
    await _course(db, course_id)
    if not await course_open_to(db, person, course_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this course is not open to you")
    rows = await db.scalars(
        select(Courseware).where(Courseware.course_id == course_id).order_by(Courseware.id)
    )
    return list(rows)


@router.get("/courses/{course_id}/courseware", response_model=list[CoursewareOut])
async def api_list(course_id: Id, db: DB, person: CurrentPerson) -> list[Courseware]:
    return await course_files(db, person, course_id)


@router.get(
    "/courseware/{item_id}/download",
    response_class=Response,
    responses={307: {"description": "to a presigned URL"}},
)
async def download(item_id: Id, request: Request, db: DB, person: CurrentPerson) -> Response:
    """The file, named as uploaded: a redirect to a short-lived presigned URL
    (``storage.playback = "presigned"``), or streamed through the portal (``"proxy"``)."""
    item = await db.get(Courseware, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"courseware {item_id} not found")
    if not await course_open_to(db, person, item.course_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this course is not open to you")
    svc = services(request)
    disposition = f"attachment; filename*=UTF-8''{quote(item.original_name)}"
    if svc.settings.storage.playback == "presigned":
        ttl = timedelta(seconds=svc.settings.storage.presign_expiry_s)
        url = svc.store.presigned_get(
            item.object_key, ttl, {"response-content-disposition": disposition}
        )
        return RedirectResponse(url, status_code=307)
    response = object_response(svc.store, item.object_key, item.size_bytes, item.content_type, None)
    response.headers["Content-Disposition"] = disposition
    return response
