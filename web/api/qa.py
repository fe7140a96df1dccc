"""Live Q&A over a WebSocket, per session: whoever may watch the session may ask (the login
cookie authenticates the socket; the same-origin guard refuses other sites' pages); its trainer,
managers and admins mark questions answered. Every socket of the session hears every change.

Messages in: {"type": "ask", "text": …} · {"type": "answered", "id": …}
Messages out: {"type": "questions", "items": […], "moderator": bool} on connect, then
{"type": "question", "item": …} · {"type": "answered", "id": …} · {"type": "error", …}.
Close codes: 4401 not logged in, 4403 not a viewer of this session, 4404 no such session.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from typing import Any

import structlog
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from classroom.courseware import course_open_to
from classroom.db.models import Session
from classroom.people import person_for_login_token
from classroom.qa import QuestionRefused, ask, mark_answered, may_moderate, questions
from classroom.runtime import Services
from web.api.live import viewable_session
from web.deps import DB, SESSION_COOKIE, CurrentPerson
from web.schemas import Id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/sessions/{session_id}/questions", tags=["live"])

MAX_MESSAGE_BYTES = 4096


class QaHub:
    """The open Q&A sockets of each session, in this portal process."""

    def __init__(self) -> None:
        self._sockets: dict[int, set[WebSocket]] = defaultdict(set)

    def join(self, session_id: Id, ws: WebSocket) -> None:
        self._sockets[session_id].add(ws)

    def leave(self, session_id: Id, ws: WebSocket) -> None:
        self._sockets[session_id].discard(ws)

    async def tell(self, session_id: Id, message: dict[str, Any]) -> None:
        text = json.dumps(message, ensure_ascii=False)
        for ws in list(self._sockets[session_id]):
            try:
                await ws.send_text(text)
            except Exception:  # gone: its own loop ends it
                self.leave(session_id, ws)


class QuestionOut(BaseModel):
    id: int
    text: str
    name: str
    asked_at: str
    answered: bool


@router.get("", response_model=list[QuestionOut])
async def list_questions(session_id: Id, db: DB, person: CurrentPerson) -> list[dict[str, object]]:
    """The session's questions (the viewers of the session only)."""
    await viewable_session(db, session_id, person)
    return [q.to_json() for q in await questions(db, session_id)]


def _hub(request: Request | WebSocket) -> QaHub:
    hub: QaHub = request.app.state.qa_hub
    return hub


@router.websocket("/ws")
async def qa_socket(ws: WebSocket, session_id: Id) -> None:
    svc: Services = ws.app.state.services
    async with svc.sessionmaker() as db:
        token = ws.cookies.get(SESSION_COOKIE)
        person = await person_for_login_token(db, token) if token else None
        if person is None:
            await ws.close(code=4401)
            return
        session = await db.get(Session, session_id)
        if session is None:
            await ws.close(code=4404)
            return
        if not await course_open_to(db, person, session.course_id):
            await ws.close(code=4403)
            return
        person_id, moderator = person.id, may_moderate(person, session)
        items = [q.to_json() for q in await questions(db, session_id)]
        await db.commit()
    await ws.accept()
    hub = _hub(ws)
    hub.join(session_id, ws)
    try:
        await ws.send_text(
            json.dumps(
                {"type": "questions", "items": items, "moderator": moderator}, ensure_ascii=False
            )
        )
        while await _handle(ws, svc, hub, session_id, person_id, await ws.receive_text()):
            pass
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(session_id, ws)


async def _handle(
    ws: WebSocket, svc: Services, hub: QaHub, session_id: Id, person_id: Id, raw: str
) -> bool:
    """One message from a viewer; False once the socket is closed (logged out since)."""
    try:
        if len(raw.encode()) > MAX_MESSAGE_BYTES:
            raise QuestionRefused("too_long", "message too large")
        msg = json.loads(raw)
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind not in ("ask", "answered"):
            raise QuestionRefused("bad_message", "expected an ask or an answered message")
        async with svc.sessionmaker() as db:
            person = await person_for_login_token(db, ws.cookies.get(SESSION_COOKIE) or "")
            session = await db.get(Session, session_id)
            if person is None or person.id != person_id or session is None:  # logged out since
                await ws.close(code=4401)
                return False
            if kind == "ask":
                item = await ask(db, session, person, str(msg.get("text", "")))
                await db.commit()
                log.info("qa.asked", session=session_id, question=item.id, person=person_id)
                await hub.tell(session_id, {"type": "question", "item": item.to_json()})
            else:
                qid = msg.get("id")
                if not isinstance(qid, int):
                    raise QuestionRefused("bad_message", "answered needs a question id")
                await mark_answered(db, session, person, qid)
                await db.commit()
                await hub.tell(session_id, {"type": "answered", "id": qid})
    except QuestionRefused as exc:
        await ws.send_text(json.dumps({"type": "error", "code": exc.code, "message": str(exc)}))
    except ValueError:
        with contextlib.suppress(Exception):
            await ws.send_text(
                json.dumps({"type": "error", "code": "bad_message", "message": "not JSON"})
            )
    return True
