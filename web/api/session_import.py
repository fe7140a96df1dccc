"""A year of sessions at once: a table of planned sessions checked line by line against the
same rules as booking one (who may, the course's trainers and audience, the classroom's time —
against the other bookings and the file's own earlier lines), then saved all or nothing. A line
that matches a session already booked is left as it is, so the same file can be sent again."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from classroom.audit import audit
from classroom.booking import RoomBooked, check_room_free
from classroom.compliance import to_csv, to_xlsx
from classroom.csv_import import MAX_BYTES, ImportRejected
from classroom.db.models import Person, Session
from classroom.session_import import read_sessions, template_row
from web.api.roster import XLSX
from web.api.sessions import check_booking
from web.deps import DB, CurrentPerson, services
from web.schemas import SessionIn

router = APIRouter(prefix="/imports/sessions", tags=["imports"])


def _said(detail: object) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    return str(detail)


async def _booked(db: DB, body: SessionIn) -> bool:
    """The same session is booked already (same title, kind, unit, place or classroom, times)."""
    found = await db.scalar(
        select(Session.id).where(
            Session.title == body.title,
            Session.kind == body.kind,
            Session.unit_id.is_(None) if body.unit_id is None else Session.unit_id == body.unit_id,
            Session.classroom_id.is_(None)
            if body.classroom_id is None
            else Session.classroom_id == body.classroom_id,
            Session.place == body.place,
            Session.planned_start == body.planned_start,
            Session.planned_end == body.planned_end,
        )
    )
    return found is not None


async def _book_lines(
    request: Request, db: DB, person: Person, data: bytes
) -> tuple[list[dict[str, Any]], int, list[tuple[int, str]]]:
    """Each line booked in the open transaction (the caller commits or rolls back): what was
    added, how many were booked already, and the lines refused with why."""
    tz = services(request).tz
    added: list[dict[str, Any]] = []
    unchanged = 0
    refused: list[tuple[int, str]] = []
    for line, row in await read_sessions(db, data, tz):
        if isinstance(row, str):
            refused.append((line, row))
            continue
        try:
            body = SessionIn(**row)
        except ValidationError as exc:
            refused.append((line, exc.errors()[0]["msg"].removeprefix("Value error, ")))
            continue
        if await _booked(db, body):
            unchanged += 1
            continue
        try:
            trainer_id = await check_booking(db, person, body)
            await check_room_free(db, body.classroom_id, body.planned_start, body.planned_end)
        except HTTPException as exc:
            refused.append((line, _said(exc.detail)))
            continue
        except RoomBooked as exc:
            refused.append((line, str(exc.described(tz)["message"])))
            continue
        session = Session(**body.model_dump(exclude={"trainer_id"}), trainer_id=trainer_id)
        db.add(session)
        await db.flush()  # the file's later lines are checked against this one
        added.append(
            {
                "line": line,
                "title": body.title,
                "kind": body.kind.value,
                "start": body.planned_start.astimezone(tz).isoformat(timespec="minutes"),
                "end": body.planned_end.astimezone(tz).isoformat(timespec="minutes"),
            }
        )
    return added, unchanged, refused


@router.post("", response_model=None)
async def import_sessions(
    file: UploadFile,
    request: Request,
    db: DB,
    person: CurrentPerson,
    dry_run: Annotated[bool, Query(description="check and say what would be booked")] = False,
) -> JSONResponse:
    """Check every line, then book all of them or none (201); with ``dry_run``, only say what
    would be booked (200). Refused lines come back with their numbers and why (422)."""
    try:
        added, unchanged, refused = await _book_lines(
            request, db, person, await file.read(MAX_BYTES + 1)
        )
    except ImportRejected as exc:
        added, unchanged, refused = [], 0, exc.problems
    summary = {
        "added": added,
        "unchanged": unchanged,
        "refused": [{"line": n, "message": m} for n, m in sorted(refused)],
    }
    if refused or dry_run:
        await db.rollback()
        code = status.HTTP_422_UNPROCESSABLE_CONTENT if refused and not dry_run else 200
        return JSONResponse(summary, status_code=code)
    await audit(
        db,
        person,
        "sessions.import",
        f"file:{(file.filename or 'sessions')[:100]}",
        added=len(added),
        unchanged=unchanged,
    )
    await db.commit()
    return JSONResponse(summary, status_code=status.HTTP_201_CREATED)


@router.get(
    "/template", response_class=Response, responses={200: {"content": {XLSX: {}, "text/csv": {}}}}
)
async def template(
    _: CurrentPerson, format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx"
) -> Response:
    """The columns, with one example line."""
    if format == "csv":
        return Response(
            to_csv([template_row()]).encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="sessions-template.csv"'},
        )
    return Response(
        to_xlsx([("sessions", [template_row()])]),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="sessions-template.xlsx"'},
    )
