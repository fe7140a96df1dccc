"""Prometheus /metrics for the portal: recordings by state, pending commands, each agent's
last heartbeat (up, age, queues, disk, alerts), and the kiosks' card taps and their batches.
Scraped with the metrics token as a bearer token (``web.metrics_token``), or read by a logged-in
admin."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from classroom.db.models import (
    AgentCommand,
    CommandState,
    Device,
    DeviceKind,
    Recording,
    RecordingState,
    Role,
)
from classroom.db.types import utcnow
from classroom.metrics import CONTENT_TYPE, Metric, render
from web.deps import DB, current_person, services

router = APIRouter(tags=["health"])
_bearer = HTTPBearer(auto_error=False)


async def _scraper(
    request: Request,
    db: DB,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = services(request).settings.web.metrics_token
    if creds is not None and token and secrets.compare_digest(creds.credentials, token):
        return
    person = await current_person(request, db)  # 401 without a login
    if not person.has_role(Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "metrics need the metrics token or admin")


def _age(now: datetime, then: datetime | None) -> float:
    return (now - then).total_seconds() if then else float("nan")


@router.get("/metrics", response_class=Response, dependencies=[Depends(_scraper)])
async def metrics(request: Request, db: DB) -> Response:
    now = utcnow()
    offline_after = services(request).settings.web.agent_offline_after_s
    by_state = dict(
        (await db.execute(select(Recording.state, func.count()).group_by(Recording.state))).all()
    )
    recordings = Metric("classroom_recordings", "Recordings by state.")
    for state in RecordingState:
        recordings.add(by_state.get(state, 0), state=state.value)
    pending = await db.scalar(
        select(func.count()).where(AgentCommand.state == CommandState.PENDING)
    )
    commands = Metric(
        "classroom_agent_commands_pending", "Commands not yet acknowledged by agents."
    ).add(pending or 0)
    up = Metric("classroom_agent_up", "1 if the agent sent a heartbeat recently.")
    age = Metric("classroom_agent_heartbeat_age_seconds", "Seconds since the agent was last seen.")
    uploads = Metric(
        "classroom_agent_uploads_pending", "Files waiting in the agent's upload queue."
    )
    reports = Metric("classroom_agent_reports_pending", "Reports waiting in the agent's outbox.")
    disk = Metric("classroom_agent_disk_free_bytes", "Free space on the agent's spool disk.")
    alerts = Metric("classroom_agent_alert", "1 for each alert the agent raises now.")
    agents = await db.scalars(
        select(Device).where(Device.kind == DeviceKind.AGENT, Device.revoked_at.is_(None))
    )
    for d in agents:
        labels = {"classroom": str(d.classroom_id), "agent": d.name}
        seen = _age(now, d.last_seen_at)
        up.add(1 if seen <= offline_after else 0, **labels)
        age.add(seen, **labels)
        s = d.status or {}
        if s:
            uploads.add(s.get("uploads_pending", 0), **labels)
            reports.add(s.get("reports_pending", 0), **labels)
            disk.add(s.get("disk_free_bytes", 0), **labels)
            for a in s.get("alerts", []):
                alerts.add(1, code=str(a.get("code")), **labels)
    taps = Metric("classroom_card_taps_total", "Card taps answered by the batched path.", "counter")
    batches = Metric("classroom_card_tap_batches_total", "Batches those taps went in.", "counter")
    if (batcher := services(request).taps) is not None:  # PostgreSQL
        taps.add(batcher.taps)
        batches.add(batcher.batches)
    body = render([recordings, commands, up, age, uploads, reports, disk, alerts, taps, batches])
    return Response(body, media_type=CONTENT_TYPE)
