"""Classrooms: the schedule as an iCalendar feed for trainers' and managers' calendars."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from classroom.db.models import Classroom, Person, Role
from classroom.db.types import utcnow
from classroom.schedule import sessions_between, to_ical
from web.deps import DB, require_role

router = APIRouter(prefix="/classrooms", tags=["classrooms"])

Staff = Annotated[Person, Depends(require_role(Role.TRAINER, Role.MANAGER, Role.ADMIN))]


@router.get(
    "/{classroom_id}/schedule.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def schedule_ics(
    classroom_id: int, request: Request, db: DB, _: Staff, days: int = 90
) -> Response:
    """RFC 5545: the classroom's sessions from 30 days ago to ``days`` ahead (at most 366)."""
    if not 1 <= days <= 366:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "days must be 1–366")
    room = await db.get(Classroom, classroom_id)
    if room is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"classroom {classroom_id} not found")
    now = utcnow()
    sessions = await sessions_between(
        db, classroom_id, now - timedelta(days=30), now + timedelta(days=days)
    )
    body = to_ical(room, sessions, now, request.url.hostname or "classroom")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="classroom-{classroom_id}.ics"'},
    )
