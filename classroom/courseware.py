"""Courseware: files of a course, judged by their content, kept in the object store.

Accepted: PDF, PowerPoint and Word (the OOXML formats: .pptx, .docx), MP4 video, JPEG and PNG
images. The kind comes from the bytes (magic numbers; the ZIP's parts for OOXML; PyAV for
video; OpenCV decoding for images), never from the name, which is kept only as a label and never
becomes part of a path or object key.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import (
    Attendance,
    Course,
    CourseAudience,
    CourseTrainer,
    Courseware,
    Person,
    Role,
    Session,
)
from classroom.images import COURSEWARE_IMAGE, ImageRefused, decode_bounded
from storage.object_store import ObjectStore, sha256_file
from streaming.media_check import InvalidMedia, check_media


class RefusedFile(ValueError):
    """The file is not one we accept; the message says what it is and what is accepted."""


class AlreadyInCourse(ValueError):
    """The same bytes (by SHA-256) are already a file of the course."""

    def __init__(self, existing: Courseware) -> None:
        super().__init__(f"this file is already in the course as {existing.original_name!r}")
        self.existing = existing


@dataclass(frozen=True)
class Kind:
    name: str
    content_type: str
    ext: str


PDF = Kind("pdf", "application/pdf", "pdf")
PPTX = Kind(
    "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"
)
DOCX = Kind(
    "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"
)
MP4 = Kind("mp4", "video/mp4", "mp4")
JPEG = Kind("jpeg", "image/jpeg", "jpg")
PNG = Kind("png", "image/png", "png")
ACCEPTED = "PDF, PPTX, DOCX, MP4, JPEG or PNG"


def _image(path: Path, kind: Kind) -> Kind:
    try:
        decode_bounded(path.read_bytes(), COURSEWARE_IMAGE, cv2.IMREAD_UNCHANGED)
    except ImageRefused as exc:
        raise RefusedFile(f"the {kind.name.upper()} image: {exc}") from None
    return kind


def _ooxml(path: Path) -> Kind:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        raise RefusedFile("a damaged ZIP archive, not an Office document") from None
    if "[Content_Types].xml" in names:
        if "ppt/presentation.xml" in names:
            return PPTX
        if "word/document.xml" in names:
            return DOCX
    raise RefusedFile(f"a ZIP archive, but not a PowerPoint or Word document; accepted: {ACCEPTED}")


def detect(path: Path) -> Kind:
    """What the file is, by its content; RefusedFile if it is nothing we accept."""
    with path.open("rb") as f:
        head = f.read(16)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 1024))
        tail = f.read()
    if not head:
        raise RefusedFile("the file is empty")
    if head.startswith(b"%PDF-"):
        if b"%%EOF" not in tail:
            raise RefusedFile("a PDF without its end marker (truncated?)")
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image(path, PNG)
    if head.startswith(b"\xff\xd8\xff"):
        return _image(path, JPEG)
    if head.startswith(b"PK\x03\x04"):
        return _ooxml(path)
    if head[4:8] == b"ftyp":
        try:
            check_media(path, need_audio=False)
        except InvalidMedia as exc:
            raise RefusedFile(f"an MP4 that does not play: {exc}") from None
        return MP4
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RefusedFile(f"an old binary Office file (.ppt/.doc): save it as {ACCEPTED}")
    raise RefusedFile(f"not a {ACCEPTED} file (judged by its content, not its name)")


def label(name: str) -> str:
    """The uploaded name as a display label: no directories, no control characters, bounded."""
    base = re.split(r"[\\/]", name)[-1]
    clean = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return clean[:255] or "file"


async def store_courseware(
    db: AsyncSession,
    store: ObjectStore,
    course: Course,
    session: Session | None,
    uploader: Person,
    path: Path,
    original_name: str,
) -> Courseware:
    """Check ``path`` by content and against the course's files (the same SHA-256 is the same
    file, whatever its name), put it in the store (SHA-256 verified), and record it."""
    kind = await asyncio.to_thread(detect, path)
    digest = await asyncio.to_thread(sha256_file, path)
    same = await db.scalar(
        select(Courseware).where(Courseware.course_id == course.id, Courseware.sha256 == digest)
    )
    if same is not None:
        raise AlreadyInCourse(same)
    key = f"courseware/course-{course.id}/{uuid.uuid4().hex}.{kind.ext}"
    name = label(original_name)
    info = await asyncio.to_thread(
        store.put_file,
        key,
        path,
        kind.content_type,
        {
            "original-name": quote(name),
            "course": str(course.id),
            "session": str(session.id) if session else "",
            "uploaded-by": str(uploader.id),
        },
    )
    item = Courseware(
        course_id=course.id,
        session_id=session.id if session else None,
        kind=kind.name,
        content_type=kind.content_type,
        original_name=name,
        object_key=key,
        size_bytes=info.size,
        sha256=info.sha256 or "",
        uploaded_by_id=uploader.id,
    )
    db.add(item)
    await db.flush()
    return item


async def teaches(db: AsyncSession, person: Person, course_id: int) -> bool:
    """Whether ``person`` is a trainer named on the course (its trainers are its own setting)."""
    if not person.has_role(Role.TRAINER):
        return False
    found = exists().where(
        CourseTrainer.course_id == course_id, CourseTrainer.person_id == person.id
    )
    return bool(await db.scalar(select(found)))


async def may_upload(db: AsyncSession, person: Person, course_id: int) -> bool:
    """Managers and admins; the course's own trainers."""
    if person.has_role(Role.MANAGER, Role.ADMIN):
        return True
    return await teaches(db, person, course_id)


def courses_open_to(person: Person) -> Select[int]:
    """The ids of the courses an officer may see: those open to the whole bureau (no audience
    units), those whose audience holds their unit, and those of a session they attended. A
    session's own unit or date opens nothing: the audience is the course's setting."""
    if not person.has_role(Role.OFFICER):
        return select(Course.id).where(false())
    restricted = exists().where(CourseAudience.course_id == Course.id)
    in_audience = exists().where(
        CourseAudience.course_id == Course.id, CourseAudience.unit_id == person.unit_id
    )
    attended = exists().where(
        Session.course_id == Course.id,
        Attendance.session_id == Session.id,
        Attendance.person_id == person.id,
    )
    return select(Course.id).where(or_(~restricted, in_audience, attended))


async def course_open_to(db: AsyncSession, person: Person, course_id: int) -> bool:
    """Staff see every course; an officer those of ``courses_open_to``."""
    if person.has_role(Role.TRAINER, Role.MANAGER, Role.ADMIN):
        return True
    open_course = courses_open_to(person).where(Course.id == course_id).exists()
    return bool(await db.scalar(select(open_course)))
