"""Imports of the city platform's online-training records (CSV), for managers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, UploadFile, status
from fastapi.responses import JSONResponse

from classroom.online_import import MAX_BYTES, ImportRejected, import_online
from web.deps import DB, ManagerOrAdmin

router = APIRouter(prefix="/imports", tags=["imports"])


@router.post("/online", status_code=status.HTTP_201_CREATED, response_model=None)
async def online(file: UploadFile, db: DB, actor: ManagerOrAdmin) -> dict[str, Any] | JSONResponse:
    """Validate every row, then apply all of them or none; bad rows come back with line numbers."""
    data = await file.read(MAX_BYTES + 1)
    try:
        result = await import_online(db, data, file.filename or "upload.csv", actor)
    except ImportRejected as exc:
        await db.rollback()
        return JSONResponse(
            {"detail": str(exc), "errors": [{"line": n, "message": m} for n, m in exc.problems]},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await db.commit()
    return {
        "batch_id": result.batch_id,
        "rows": result.rows,
        "imported": result.imported,
        "already_imported": result.already,
    }
