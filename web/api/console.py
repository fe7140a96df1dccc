"""The trainer's console for a session: what is being sent (state, viewers, the microphone's
level, the agent's alerts) and the classroom camera's PTZ presets. The session's trainer and
admins only — those who may start and stop its recording."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel
from sqlalchemy import select

from classroom.db.models import Device, DeviceKind, Person, Recording, Session
from classroom.db.types import utcnow
from classroom.live_broker import AgentSilent
from classroom.protocol.live import LiveRequest
from web.api.classrooms import agent_online
from web.api.sessions import check_may_control, classroom_of, get_session_or_404
from web.deps import DB, CurrentPerson, services
from web.schemas import Id

router = APIRouter(prefix="/sessions/{session_id}", tags=["live"])

PTZ_TIMEOUT_S = 20.0  # a preset move is answered when the camera reports it done


class ConsoleOut(BaseModel):
    session_id: Id
    recording_state: str | None
    paused: bool
    live: bool
    viewers: int
    agent_online: bool
    audio_rms_dbfs: float | None
    audio_peak_dbfs: float | None
    ptz: bool
    alerts: list[str]


async def _console_session(
    request: Request, db: DB, session_id: Id, person: Person, what: str, override: bool
) -> Session:
    session = await get_session_or_404(db, session_id)
    await check_may_control(request, db, person, session, what, override)
    return session


@router.get("/console", response_model=ConsoleOut)
async def console(
    request: Request, session_id: Id, db: DB, person: CurrentPerson, override: bool = False
) -> ConsoleOut:
    session = await _console_session(request, db, session_id, person, "console", override)
    svc = services(request)
    rec = await db.scalar(
        select(Recording)
        .where(Recording.session_id == session_id)
        .order_by(Recording.id.desc())
        .limit(1)
    )
    agent = await db.scalar(
        select(Device)
        .where(
            Device.kind == DeviceKind.AGENT,
            Device.classroom_id == session.classroom_id,
            Device.revoked_at.is_(None),
        )
        .order_by(Device.last_seen_at.desc())
        .limit(1)
    )
    status_ = (agent.status or {}) if agent else {}
    online = agent is not None and agent_online(
        agent.last_seen_at, utcnow(), svc.settings.web.agent_offline_after_s
    )
    recording = rec is not None and rec.state.value == "recording"
    return ConsoleOut(
        session_id=session_id,
        recording_state=rec.state.value if rec else None,
        paused=bool(rec and rec.state.active and rec.paused),
        live=recording and svc.settings.live.enabled,
        viewers=svc.live.watching(session_id, rec.id if recording and rec else None),
        agent_online=online,
        audio_rms_dbfs=status_.get("audio_rms_dbfs") if recording else None,
        audio_peak_dbfs=status_.get("audio_peak_dbfs") if recording else None,
        ptz=bool((status_.get("devices") or {}).get("ptz")),
        alerts=[str(a.get("message", a)) for a in status_.get("alerts") or []],
    )


@router.post("/ptz/{preset}", status_code=status.HTTP_204_NO_CONTENT)
async def recall_preset(
    request: Request,
    session_id: Id,
    db: DB,
    person: CurrentPerson,
    preset: int = Path(ge=0, le=254),
    override: bool = False,
) -> None:
    """Move the classroom's camera to a stored preset, now (answered when the camera is there)."""
    session = await _console_session(request, db, session_id, person, "ptz", override)
    classroom_id = classroom_of(session)
    await db.commit()
    try:
        answer = await services(request).live.ask(
            classroom_id, LiveRequest(kind="ptz", preset=preset), PTZ_TIMEOUT_S
        )
    except AgentSilent as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    if answer.get("error"):
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"code": "ptz_failed", "message": answer["error"]}
        )
