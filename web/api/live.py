"""A session, live: WHEP for WebRTC (the offer goes to the classroom's agent, which relays its one
encode), and the HLS the agent publishes to the store for large audiences or blocked WebRTC.

Who may watch is who may see the session's recordings: staff, and officers whose course it is.
A WHEP resource is its viewer's: only they (or staff) end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select

from classroom.courseware import course_open_to
from classroom.db.models import Person, Recording, RecordingState, Role, Session
from classroom.live_broker import AgentSilent, Viewer
from classroom.protocol.layout import live_hls_prefix
from classroom.protocol.live import VIEWERS_FULL, LiveRequest
from classroom.settings import LiveSettings
from storage.object_store import ObjectNotFound
from web.api.sessions import classroom_of, get_session_or_404
from web.deps import DB, CurrentPerson, services
from web.schemas import Id

router = APIRouter(prefix="/sessions/{session_id}/live", tags=["live"])

MAX_SDP_BYTES = 64 * 1024  # a browser's offer is a few KiB
CLOSE_TIMEOUT_S = 5.0
_HLS_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.(m3u8|ts)")  # fullmatch: "$" allows a newline
_HLS_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class LiveOut(BaseModel):
    session_id: Id
    live: bool
    recording_id: Id | None
    whep: str
    hls: str
    viewers: int
    ice_servers: list[IceServerOut]
    webrtc_timeout_s: float


def _ice_servers(live: LiveSettings) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in live.ice_servers:
        entry: dict[str, Any] = {"urls": s.urls}
        if s.username:
            entry["username"] = s.username
            entry["credential"] = s.credential
        out.append(entry)
    return out


def _link_header(ice: list[dict[str, Any]]) -> str:
    """WHEP/WHIP's ICE server Link header (RFC 8288 links, rel="ice-server")."""
    links = []
    for s in ice:
        for url in s["urls"]:
            link = f'<{url}>; rel="ice-server"'
            if "username" in s:
                link += f'; username="{s["username"]}"; credential="{s["credential"]}"'
                link += '; credential-type="password"'
            links.append(link)
    return ", ".join(links)


async def viewable_session(db: DB, session_id: Id, person: Person) -> Session:
    session = await get_session_or_404(db, session_id)
    if not await course_open_to(db, person, session.course_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this session's course is not open to you")
    return session


async def _recording_now(db: DB, session_id: Id) -> Recording | None:
    return await db.scalar(
        select(Recording)
        .where(Recording.session_id == session_id, Recording.state == RecordingState.RECORDING)
        .order_by(Recording.id.desc())
        .limit(1)
    )


async def _live_recording(db: DB, session_id: Id) -> Recording:
    rec = await _recording_now(db, session_id)
    if rec is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"code": "not_live", "message": "this session is not live"}
        )
    return rec


def _whep_url(session_id: Id) -> str:
    return f"/api/v1/sessions/{session_id}/live/whep"


@router.get("", response_model=LiveOut)
async def live_info(request: Request, session_id: Id, db: DB, person: CurrentPerson) -> LiveOut:
    """What a viewer page needs: whether the session is live, where to ask, which ICE servers."""
    await viewable_session(db, session_id, person)
    rec = await _recording_now(db, session_id)
    live = services(request).settings.live
    return LiveOut(
        session_id=session_id,
        live=rec is not None and live.enabled,
        recording_id=rec.id if rec else None,
        whep=_whep_url(session_id),
        hls=f"/api/v1/sessions/{session_id}/live/hls/live.m3u8",
        viewers=services(request).live.watching(session_id, rec.id if rec else None),
        ice_servers=[IceServerOut(**s) for s in _ice_servers(live)],
        webrtc_timeout_s=live.webrtc_timeout_s,
    )


@router.post("/whep", status_code=status.HTTP_201_CREATED)
async def whep_offer(request: Request, session_id: Id, db: DB, person: CurrentPerson) -> Response:
    """WHEP: an SDP offer in; 201 with the agent's SDP answer and the resource's URL."""
    svc = services(request)
    if not svc.settings.live.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "live streaming is off")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/sdp":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "the offer must be application/sdp"
        )
    body = await request.body()
    if len(body) > MAX_SDP_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the offer is too large")
    try:
        sdp = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the offer is not UTF-8 text") from None
    if not sdp.startswith("v=0"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the offer is not an SDP session")
    session = await viewable_session(db, session_id, person)
    rec = await _live_recording(db, session_id)
    classroom_id, person_id, recording_id = classroom_of(session), person.id, rec.id
    await db.commit()  # no transaction held while the agent answers
    ice = _ice_servers(svc.settings.live)
    try:
        answer = await svc.live.ask(
            classroom_id,
            LiveRequest(kind="offer", recording_id=recording_id, sdp=sdp, ice_servers=ice),
            svc.settings.live.answer_timeout_s,
        )
    except AgentSilent as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"}
        ) from None
    if answer.get("code") == VIEWERS_FULL:  # the page plays the store's HLS instead
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"code": VIEWERS_FULL, "message": str(answer.get("error"))},
            headers={"Retry-After": "60"},
        )
    if answer.get("error") or not answer.get("sdp") or not answer.get("resource"):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "not_live", "message": answer.get("error") or "the agent sent no answer"},
        )
    resource = str(answer["resource"])
    svc.live.viewers[resource] = Viewer(resource, classroom_id, session_id, recording_id, person_id)
    headers = {"Location": f"{_whep_url(session_id)}/{resource}", "ETag": f'"{resource}"'}
    if ice:
        headers["Link"] = _link_header(ice)
    return Response(
        answer["sdp"],
        status_code=status.HTTP_201_CREATED,
        media_type="application/sdp",
        headers=headers,
    )


def _own_viewer(request: Request, session_id: Id, resource: str, person: Person) -> Viewer:
    viewer = services(request).live.viewers.get(resource)
    if viewer is None or viewer.session_id != session_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such WHEP resource")
    if viewer.person_id != person.id and not person.has_role(
        Role.TRAINER, Role.MANAGER, Role.ADMIN
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this WHEP resource is someone else's")
    return viewer


@router.patch("/whep/{resource}")
async def whep_patch(
    request: Request, session_id: Id, resource: str, person: CurrentPerson
) -> None:
    """Trickle ICE is not supported: the offer carries its candidates (WHEP lets a server
    answer 405 here)."""
    _own_viewer(request, session_id, resource, person)
    raise HTTPException(
        status.HTTP_405_METHOD_NOT_ALLOWED,
        "trickle ICE is not supported: send the offer with its candidates gathered",
        headers={"Allow": "DELETE"},
    )


@router.delete("/whep/{resource}", status_code=status.HTTP_204_NO_CONTENT)
async def whep_delete(
    request: Request, session_id: Id, resource: str, person: CurrentPerson
) -> None:
    """The viewer leaves: the agent closes its peer connection."""
    viewer = _own_viewer(request, session_id, resource, person)
    broker = services(request).live
    broker.viewers.pop(resource, None)
    with contextlib.suppress(AgentSilent):  # the agent drops a peer whose connection fails
        await broker.ask(
            viewer.classroom_id,
            LiveRequest(kind="close", recording_id=viewer.recording_id, resource=resource),
            CLOSE_TIMEOUT_S,
        )


@router.get("/hls/{name}")
async def live_hls(
    request: Request, session_id: Id, name: str, db: DB, person: CurrentPerson
) -> Response:
    """The live HLS playlist and segments, as the agent published them to the store."""
    if not _HLS_NAME.fullmatch(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such HLS file")
    await viewable_session(db, session_id, person)
    key = live_hls_prefix((await _live_recording(db, session_id)).id) + name
    await db.commit()
    store = services(request).store
    try:
        data = await asyncio.to_thread(store.get_small, key)
    except ObjectNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not published yet") from None
    kind = name.rsplit(".", 1)[1]
    # The playlist changes every segment; a segment never changes once published.
    cache = "no-cache" if kind == "m3u8" else "private, max-age=60"
    return Response(data, media_type=_HLS_TYPES[kind], headers={"Cache-Control": cache})
