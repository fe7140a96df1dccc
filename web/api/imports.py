"""CSV imports for managers: the city platform's online training, and attendance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile, status
from fastapi.responses import JSONResponse

from classroom.attendance_import import import_attendance
from classroom.csv_import import MAX_BYTES, ImportRejected
from classroom.online_import import import_online
from web.deps import DB, ManagerOrAdmin, services

router = APIRouter(prefix="/imports", tags=["imports"])


def _rejected(exc: ImportRejected) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "errors": [{"line": n, "message": m} for n, m in exc.problems]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/online", status_code=status.HTTP_201_CREATED, response_model=None)
async def online(file: UploadFile, db: DB, actor: ManagerOrAdmin) -> dict[str, Any] | JSONResponse:
    """Validate every row, then apply all of them or none; bad rows come back with line numbers."""
    data = await file.read(MAX_BYTES + 1)
    try:
        result = await import_online(db, data, file.filename or "upload.csv", actor)
    except ImportRejected as exc:
        await db.rollback()
        return _rejected(exc)
    await db.commit()
    return {
        "batch_id": result.batch_id,
        "rows": result.rows,
        "imported": result.imported,
        "already_imported": result.already,
    }


@router.post("/attendance", status_code=status.HTTP_201_CREATED, response_model=None)
async def attendance(
    file: UploadFile, request: Request, db: DB, actor: ManagerOrAdmin
) -> dict[str, Any] | JSONResponse:
    """Check-ins kept elsewhere: every row validated, all applied or none, each stored once."""
    data = await file.read(MAX_BYTES + 1)
    try:
        result = await import_attendance(
            db, data, file.filename or "upload.csv", actor, services(request).tz
        )
    except ImportRejected as exc:
        await db.rollback()
        return _rejected(exc)
    await db.commit()
    return {
        "batch_id": result.batch_id,
        "rows": result.rows,
        "imported": result.imported,
        "already_imported": result.already,
    }
