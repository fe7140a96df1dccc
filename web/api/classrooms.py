"""Classrooms: created by the training office, the schedule as an iCalendar feed, and the agents'
status (the dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from classroom.audit import audit
from classroom.db.models import Classroom, Device, DeviceKind
from classroom.db.types import utcnow
from classroom.organisation import OrgError, add_classroom
from classroom.schedule import sessions_between, to_ical
from web.deps import DB, Admin, ManagerOrAdmin, Staff, services
from web.schemas import AgentStatusOut, ClassroomStatusOut, Heartbeat, Id, Strict

router = APIRouter(prefix="/classrooms", tags=["classrooms"])


@router.get(
    "/{classroom_id}/schedule.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def schedule_ics(
    classroom_id: Id,
    request: Request,
    db: DB,
    _: Staff,
    days: Annotated[int, Query(ge=1, le=366)] = 90,
) -> Response:
    """RFC 5545: the classroom's sessions from 30 days ago to ``days`` ahead (at most 366)."""
    room = await db.get(Classroom, classroom_id)
    if room is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"classroom {classroom_id} not found")
    now = utcnow()
    sessions = await sessions_between(
        db, classroom_id, now - timedelta(days=30), now + timedelta(days=days)
    )
    body = to_ical(room.name, sessions, now, request.url.hostname or "classroom")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="classroom-{classroom_id}.ics"'},
    )


def agent_online(last_seen: datetime | None, now: datetime, after_s: float) -> bool:
    return last_seen is not None and (now - last_seen).total_seconds() <= after_s


async def classroom_status(request: Request, db: DB) -> list[ClassroomStatusOut]:
    now = utcnow()
    after = services(request).settings.web.agent_offline_after_s
    previews = services(request).previews
    rooms = list(await db.scalars(select(Classroom).order_by(Classroom.id)))
    agents = list(
        await db.scalars(
            select(Device)
            .where(Device.kind == DeviceKind.AGENT, Device.revoked_at.is_(None))
            .order_by(Device.id)
        )
    )
    return [
        ClassroomStatusOut(
            id=room.id,
            name=room.name,
            location=room.location,
            agents=[
                AgentStatusOut(
                    device_id=d.id,
                    name=d.name,
                    last_seen_at=d.last_seen_at,
                    online=agent_online(d.last_seen_at, now, after),
                    status=Heartbeat.model_validate(d.status) if d.status else None,
                )
                for d in agents
                if d.classroom_id == room.id
            ],
            preview_at=previews[room.id][1] if room.id in previews else None,
        )
        for room in rooms
    ]


@router.get("/status", response_model=list[ClassroomStatusOut])
async def status_all(request: Request, db: DB, _: Staff) -> list[ClassroomStatusOut]:
    """Every classroom's agents: online or not (no heartbeat for ``agent_offline_after_s``),
    and what their last heartbeat said."""
    return await classroom_status(request, db)


@router.get(
    "/{classroom_id}/preview.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def preview_jpg(classroom_id: Id, request: Request, _: Staff) -> Response:
    found = services(request).previews.get(classroom_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no preview from this classroom yet")
    data, at = found
    return Response(
        data,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "Last-Modified": at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        },
    )


class ClassroomIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    location: str = Field(default="", max_length=200)


class ClassroomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    location: str
    two_factor: bool


@router.post("", response_model=ClassroomOut, status_code=status.HTTP_201_CREATED)
async def create_classroom(body: ClassroomIn, db: DB, actor: ManagerOrAdmin) -> Classroom:
    """A classroom and where it is; its agent and kiosk are devices added to it (their tokens
    shown once)."""
    try:
        room = await add_classroom(db, actor, body.name, body.location)
    except OrgError as exc:
        await db.rollback()
        raise HTTPException(exc.status, {"code": exc.code, "message": str(exc)}) from None
    await db.commit()
    return room


class ClassroomSettingsIn(Strict):
    two_factor: bool


@router.patch("/{classroom_id}", response_model=ClassroomSettingsIn)
async def configure(
    classroom_id: Id, body: ClassroomSettingsIn, db: DB, admin: Admin
) -> ClassroomSettingsIn:
    """A classroom's check-in policy (admins): ``two_factor`` — card and face together."""
    room = await db.get(Classroom, classroom_id)
    if room is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"classroom {classroom_id} not found")
    room.two_factor = body.two_factor
    await audit(db, admin, "classroom.configure", f"classroom:{classroom_id}", **body.model_dump())
    await db.commit()
    return body
