"""The roster for the training office: people and units from XLSX or CSV, keyed on the badge
number — a preview first, then applied all or nothing — and exported in the same format, with a
template to start from (classroom/roster.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, UploadFile, status
from fastapi.responses import JSONResponse, Response

from classroom.compliance import to_csv, to_xlsx
from classroom.csv_import import MAX_BYTES, ImportRejected
from classroom.roster import apply_roster, plan_roster, roster_rows, template_columns
from web.deps import DB, ManagerOrAdmin

router = APIRouter(prefix="/roster", tags=["roster"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Full = Annotated[
    bool, Query(description="the file is the whole roster: officers absent from it are marked left")
]
Format = Annotated[Literal["xlsx", "csv"], Query()]


def _refused(exc: ImportRejected) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "errors": [{"line": n, "message": m} for n, m in exc.problems]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/preview", response_model=None)
async def preview(
    file: UploadFile, db: DB, actor: ManagerOrAdmin, full: Full = False
) -> dict[str, Any] | JSONResponse:
    """What applying the file would do: added, changed (each field's before and after), marked
    left, units added, and the lines refused with why. Changes nothing."""
    try:
        plan, _ = await plan_roster(db, await file.read(MAX_BYTES + 1), actor, full)
    except ImportRejected as exc:
        return _refused(exc)
    finally:
        await db.rollback()
    return plan.summary()


@router.post("/apply", status_code=status.HTTP_201_CREATED, response_model=None)
async def apply(
    file: UploadFile, db: DB, actor: ManagerOrAdmin, full: Full = False
) -> dict[str, Any] | JSONResponse:
    """The preview's changes, all of them or (with any line refused) none."""
    try:
        plan = await apply_roster(
            db, await file.read(MAX_BYTES + 1), file.filename or "roster", actor, full
        )
    except ImportRejected as exc:
        await db.rollback()
        return _refused(exc)
    await db.commit()
    return plan.summary()


def _file(rows: list[dict[str, Any]], fmt: str, name: str) -> Response:
    if fmt == "csv":
        return Response(
            to_csv(rows).encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        to_xlsx([("roster", rows)]),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get("", response_class=Response, responses={200: {"content": {XLSX: {}, "text/csv": {}}}})
async def export(db: DB, _: ManagerOrAdmin, format: Format = "xlsx") -> Response:
    """Everyone with a badge number, in the columns the import reads."""
    return _file(await roster_rows(db), format, "roster")


@router.get(
    "/template", response_class=Response, responses={200: {"content": {XLSX: {}, "text/csv": {}}}}
)
async def template(_: ManagerOrAdmin, format: Format = "xlsx") -> Response:
    """The columns, to fill in."""
    return _file([dict.fromkeys(template_columns(), "")], format, "roster-template")
