"""Liveness and readiness: the database answers and the bucket is there."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from web.deps import DB, services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, db: DB) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await db.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not crash the probe
        checks["database"] = f"error: {type(exc).__name__}"
    store = services(request).store
    try:
        async with asyncio.timeout(5):
            ok = await asyncio.to_thread(store.client.bucket_exists, store.bucket)
        checks["object_store"] = "ok" if ok else "error: bucket missing"
    except Exception as exc:
        checks["object_store"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )
