"""The on-site agent's side of the portal, authenticated by the device's bearer token.

Commands travel by long polling: the agent asks ``GET /agent/commands?wait=20`` and the portal
answers as soon as a command is committed (or empty after ``wait``). It works through any proxy
and NAT that lets HTTPS out, needs no open port in the classroom, and since commands stay in the
database until acknowledged, a dropped connection or a restarted portal loses none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel

from classroom.audit import audit
from classroom.checkin import CheckinRefused, check_in, tap_time_ok, unknown_card
from classroom.db.models import (
    AgentCommand,
    AttendanceSource,
    Device,
    Person,
    Recording,
    RecordingState,
)
from classroom.db.types import utcnow
from classroom.faces.enrollment import (
    gallery_export,
    gallery_version,
    is_enrolled,
    person_for_card,
)
from classroom.protocol.live import LiveAnswer
from classroom.protocol.messages import (
    Ack,
    AgentEvent,
    Checkin,
    Command,
    Failure,
    Gallery,
    GalleryPerson,
    Hello,
    HelloAnswer,
    Playable,
    RecordingRef,
    ScheduleEntry,
    Uploaded,
)
from classroom.recordings import (
    PlayableReport,
    TrackReport,
    UploadReport,
    agent_started,
    agent_stopped,
    complete_command,
    object_prefix,
    pending_commands,
    recordings_in_state,
    report_failure,
    report_playable,
    report_upload,
)
from classroom.schedule import agent_schedule
from web.deps import DB, CurrentAgent, services
from web.schemas import (
    DeviceOut,
    Heartbeat,
    Id,
    RecordingOut,
)

router = APIRouter(prefix="/agent", tags=["agent"])

RECHECK_S = 1.0


@router.post("/hello", response_model=HelloAnswer)
async def hello(body: Hello, db: DB, device: CurrentAgent) -> HelloAnswer:
    if body.classroom_id != device.classroom_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token belongs to classroom {device.classroom_id}, not {body.classroom_id}",
        )

    def listed(recs: list[Recording]) -> list[RecordingRef]:
        return [
            RecordingRef(recording_id=r.id, session_id=r.session_id, object_prefix=object_prefix(r))
            for r in recs
        ]

    room = device.classroom_id
    out = HelloAnswer(
        **DeviceOut.model_validate(device).model_dump(),
        active_recordings=listed(await recordings_in_state(db, room, RecordingState.RECORDING)),
        finishing_recordings=listed(await recordings_in_state(db, room, RecordingState.PROCESSING)),
    )
    await db.commit()
    return out


async def _commands_out(db: DB, classroom_id: Id) -> list[Command]:
    out = []
    for cmd in await pending_commands(db, classroom_id):
        rec = await db.get(Recording, cmd.recording_id)
        assert rec is not None
        out.append(
            Command(
                id=cmd.id,
                kind=cmd.kind,
                recording_id=rec.id,
                session_id=rec.session_id,
                object_prefix=object_prefix(rec),
                ptz_preset=rec.session.ptz_preset,
            )
        )
    return out


@router.get("/commands", response_model=list[Command])
async def commands(
    request: Request,
    db: DB,
    device: CurrentAgent,
    wait: float = Query(default=0, ge=0, le=60, description="seconds to hold the request open"),
) -> list[Command]:
    classroom_id = device.classroom_id  # read before rollback() expires the device
    await db.commit()  # last_seen_at
    signal = services(request).commands
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        event = signal.event(classroom_id)  # taken before the read: no wake-up is missed
        found = await _commands_out(db, classroom_id)
        await db.rollback()  # end the read transaction, so the next read sees new commits
        remaining = deadline - loop.time()
        if found or remaining <= 0 or signal.closed or await request.is_disconnected():
            return found
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(remaining, RECHECK_S)):
                await event.wait()


@router.get("/live")
async def live_requests(
    request: Request,
    db: DB,
    device: CurrentAgent,
    wait: float = Query(default=0, ge=0, le=60, description="seconds to hold the request open"),
) -> list[dict[str, object]]:
    """Viewers' WHEP requests for this classroom (offers to answer, resources to close), by long
    polling like the commands: the agent needs no open port."""
    classroom_id = device.classroom_id
    await db.commit()  # last_seen_at; no transaction held while waiting
    taken = await services(request).live.take(classroom_id, wait)
    return [r.model_dump() for r in taken]


@router.post("/live/{request_id}", status_code=status.HTTP_204_NO_CONTENT)
async def live_answer(
    request: Request, request_id: str, body: LiveAnswer, db: DB, device: CurrentAgent
) -> None:
    classroom_id = device.classroom_id
    await db.commit()
    if not services(request).live.answer(classroom_id, request_id, body.model_dump()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "nobody waits for this answer any more")


async def _own_command(db: DB, device: Device, command_id: Id) -> AgentCommand:
    cmd = await db.get(AgentCommand, command_id)
    if cmd is None or cmd.classroom_id != device.classroom_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"command {command_id} not found")
    return cmd


async def _own_recording(db: DB, device: Device, recording_id: Id) -> Recording:
    rec = await db.get(Recording, recording_id)
    if rec is None or rec.session.classroom_id != device.classroom_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"recording {recording_id} not found")
    return rec


@router.post("/commands/{command_id}/ack", status_code=status.HTTP_204_NO_CONTENT)
async def ack(command_id: Id, body: Ack, db: DB, device: CurrentAgent) -> None:
    cmd = await _own_command(db, device, command_id)
    await complete_command(db, cmd, body.ok, body.error)
    await db.commit()


def _tolerance_s(request: Request) -> float:
    """Media missing below this is not worth a word: a segment's length and a little (the last
    one is cut short at the stop)."""
    return services(request).settings.media.segment_seconds + 2.0


@router.post("/recordings/{recording_id}/upload", response_model=RecordingOut)
async def uploaded(
    recording_id: Id, body: Uploaded, request: Request, db: DB, device: CurrentAgent
) -> Recording:
    rec = await _own_recording(db, device, recording_id)
    data = body.model_dump()
    tracks = {name: TrackReport(**t) for name, t in data.pop("tracks").items()}
    data.pop("gaps")
    report = UploadReport(**data, tracks=tracks, gaps=[g.gap() for g in body.gaps])
    svc = services(request)
    await report_upload(db, rec, report, svc.store, _tolerance_s(request))
    await db.commit()
    return rec


@router.post("/recordings/{recording_id}/playable", response_model=RecordingOut)
async def playable(
    recording_id: Id, body: Playable, request: Request, db: DB, device: CurrentAgent
) -> Recording:
    """Stopped, its segments and playlists in the store: watchable now, the MP4 to follow."""
    rec = await _own_recording(db, device, recording_id)
    tracks: dict[str, TrackReport] = {
        name: TrackReport(**t.model_dump()) for name, t in body.tracks.items()
    }
    report = PlayableReport(
        list(body.segment_keys), body.duration_s, tracks, [g.gap() for g in body.gaps]
    )
    svc = services(request)
    await report_playable(db, rec, report, svc.store, _tolerance_s(request))
    await db.commit()
    return rec


@router.post("/recordings/{recording_id}/failure", response_model=RecordingOut)
async def failed(recording_id: Id, body: Failure, db: DB, device: CurrentAgent) -> Recording:
    rec = await _own_recording(db, device, recording_id)
    await report_failure(db, rec, body.error)
    await db.commit()
    return rec


@router.get("/schedule", response_model=list[ScheduleEntry])
async def schedule(db: DB, device: CurrentAgent) -> list[ScheduleEntry]:
    """This classroom's sessions recorded on schedule, from 12 hours ago to a week ahead. The
    agent caches the answer and records from the cache when the portal is unreachable."""
    entries = await agent_schedule(db, device.classroom_id, utcnow())
    await db.commit()  # the recordings made for new entries
    return [ScheduleEntry.model_validate(e) for e in entries]


@router.post("/recordings/{recording_id}/{event}", response_model=RecordingOut)
async def recording_event(
    recording_id: Id,
    event: Literal["started", "stopped"],
    body: AgentEvent,
    db: DB,
    device: CurrentAgent,
) -> Recording:
    """The agent started or stopped a recording on its own clock (on schedule)."""
    rec = await _own_recording(db, device, recording_id)
    apply = agent_started if event == "started" else agent_stopped
    await apply(db, rec, body.at)
    await db.commit()
    return rec


MAX_PREVIEW_BYTES = 512 * 1024


@router.post("/heartbeat", status_code=status.HTTP_204_NO_CONTENT)
async def heartbeat(request: Request, body: Heartbeat, db: DB, device: CurrentAgent) -> None:
    device.status = body.model_dump(mode="json")
    device.last_seen_at = utcnow()  # the heartbeat is what "online" means: always recorded
    classroom_id = device.classroom_id
    await db.commit()
    if body.live_viewers is not None:
        services(request).live.reconcile(classroom_id, set(body.live_viewers))


@router.post(
    "/preview",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra={"requestBody": {"content": {"image/jpeg": {}}, "required": True}},
)
async def preview(request: Request, device: CurrentAgent, db: DB) -> None:
    """The newest preview frame (JPEG, checked by its content, at most 512 KiB)."""
    classroom_id = device.classroom_id
    await db.commit()  # last_seen_at
    data = await request.body()
    if len(data) > MAX_PREVIEW_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "a preview is at most 512 KiB")
    if not (data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\0").endswith(b"\xff\xd9")):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "a preview must be a JPEG")
    services(request).previews[classroom_id] = (data, utcnow())


@router.get("/gallery", response_model=Gallery)
async def gallery(request: Request, db: DB, device: CurrentAgent) -> Response:
    """The face gallery for the classroom's door camera: embeddings only, never photos. The
    agent keeps it to check people in while the portal is unreachable; ``version`` is its ETag
    (If-None-Match: 304 when nothing changed)."""
    faces = services(request).settings.faces
    version = await gallery_version(db, faces.match_threshold, faces.match_margin)
    etag = f'"{version}"'
    if request.headers.get("if-none-match") == etag:
        await db.commit()  # last_seen_at
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    # An enrolment changed between these two reads is sent under the older version: the agent's
    # next ask finds the version changed and fetches it again.
    people = await gallery_export(db)
    await db.commit()  # last_seen_at
    body = Gallery(
        version=version,
        threshold=faces.match_threshold,
        margin=faces.match_margin,
        people=[
            GalleryPerson(
                id=pid, name=name, embeddings=[base64.b64encode(v).decode() for v in vectors]
            )
            for pid, name, vectors in people
        ],
    )
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": "no-store"},  # biometric data: no caches
    )


class AgentCheckinOut(BaseModel):
    result: str  # checked_in | already | unknown_card | not_enrolled | no_session | not_an_officer
    person_id: Id | None = None
    attendance_id: Id | None = None


@router.post("/checkin", response_model=AgentCheckinOut)
async def agent_checkin(
    body: Checkin, request: Request, db: DB, device: CurrentAgent
) -> AgentCheckinOut:
    """Stored once per event id, at the time of the tap. Every outcome answers 200 — the
    agent's outbox has delivered the event either way; refusals are for the logs."""
    if not tap_time_ok(body.at, utcnow()):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at is out of range")
    room = device.classroom_id
    if body.method == "face":
        assert body.person_id is not None
        person = await db.get(Person, body.person_id)
        # Deleted from face recognition since the agent's gallery was made: not counted.
        if person is None or not person.active or not await is_enrolled(db, person.id):
            await audit(
                db, None, "checkin.not_enrolled", f"classroom:{room}", person_id=body.person_id
            )
            await db.commit()
            return AgentCheckinOut(result="not_enrolled")
        via = "face (door camera)" + (f", {body.score:.2f}" if body.score is not None else "")
    else:
        assert body.card_no is not None
        person = await person_for_card(db, body.card_no)
        if person is None or not person.active:
            await unknown_card(db, room, body.card_no)
            await db.commit()
            return AgentCheckinOut(result="unknown_card")
        via = "card (classroom reader)"
    window = services(request).settings.kiosk.open_before
    try:
        result = await check_in(
            db,
            room,
            person,
            via,
            window,
            at=body.at,
            event_uid=str(body.event_uid),
            source=AttendanceSource.AGENT,
        )
    except CheckinRefused as exc:
        await audit(db, None, f"checkin.{exc.code}", f"classroom:{room}", person_id=person.id)
        await db.commit()
        return AgentCheckinOut(result=exc.code, person_id=person.id)
    await db.commit()
    return AgentCheckinOut(
        result="already" if result.already else "checked_in",
        person_id=person.id,
        attendance_id=result.attendance.id,
    )
