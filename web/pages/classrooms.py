"""The classroom dashboard: each agent's heartbeat, alerts and preview; silent agents flagged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.api.classrooms import classroom_status
from web.deps import DB, Staff
from web.pages.common import render

router = APIRouter(include_in_schema=False)


@router.get("/classrooms", response_class=HTMLResponse)
async def dashboard(request: Request, db: DB, person: Staff) -> HTMLResponse:
    rooms = await classroom_status(request, db)
    return render(request, "classrooms.html", person, rooms=rooms, refresh=True)
