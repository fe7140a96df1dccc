"""Table imports for managers (CSV or XLSX): the city platform's online training, and attendance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse

from classroom.attendance_import import import_attendance
from classroom.csv_import import MAX_BYTES, ImportRejected, ImportResult
from classroom.online_import import import_online
from web.deps import DB, ManagerOrAdmin, services

router = APIRouter(prefix="/imports", tags=["imports"])


async def _apply(
    db: DB, file: UploadFile, run: Callable[[bytes, str], Awaitable[ImportResult]]
) -> dict[str, int] | JSONResponse:
    """Read the upload (bounded), run the import, commit it whole or roll it back whole."""
    data = await file.read(MAX_BYTES + 1)
    try:
        result = await run(data, file.filename or "upload.csv")
    except ImportRejected as exc:
        await db.rollback()
        return JSONResponse(
            {"detail": str(exc), "errors": [{"line": n, "message": m} for n, m in exc.problems]},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await db.commit()
    return result.as_dict()


@router.post("/online", status_code=status.HTTP_201_CREATED, response_model=None)
async def online(
    file: UploadFile,
    request: Request,
    db: DB,
    actor: ManagerOrAdmin,
    replace: Annotated[
        bool,
        Query(description="replace rows imported before with other values (a corrected export)"),
    ] = False,
) -> dict[str, int] | JSONResponse:
    """Validate every row, then apply all of them or none; bad rows come back with line numbers.
    CSV (UTF-8 or GB18030) or XLSX; rows dated outside every plan year are refused."""
    years = services(request).plans.years()
    return await _apply(
        db, file, lambda data, name: import_online(db, data, name, actor, years, replace)
    )


@router.post("/attendance", status_code=status.HTTP_201_CREATED, response_model=None)
async def attendance(
    file: UploadFile, request: Request, db: DB, actor: ManagerOrAdmin
) -> dict[str, int] | JSONResponse:
    """Check-ins kept elsewhere: every row validated, all applied or none, each stored once."""
    tz = services(request).tz
    return await _apply(db, file, lambda data, name: import_attendance(db, data, name, actor, tz))
