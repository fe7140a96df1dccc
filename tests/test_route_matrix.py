"""Every route of the app — API, pages and WebSockets — tried as each kind of caller, against the
expected-access table below. A route added without an entry fails the test, and so does any
caller let in where the table says no (or refused where it says yes).

"Let in" means the route did not refuse the caller (401, 403, a redirect to the login page, a
WebSocket closed with 4401/4403); a 404 for something the caller may not see counts as refused.
The objects named in paths are real: the demo's running session (its trainer is "trainer"), a
recording of it, officer1, officer1's unit, the demo classroom and course."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Mount, Route, WebSocketRoute

from classroom.db.models import (
    AgentCommand,
    CommandKind,
    CommandState,
    DeviceKind,
    Person,
    Recording,
    RecordingState,
    Role,
    Session,
    SessionKind,
    SessionSeries,
)
from classroom.db.types import utcnow
from classroom.devices import create_device
from classroom.people import create_person
from classroom.runtime import Services
from tests.api_helpers import Portal, Rivals, make_portal, seed_rivals
from tests.test_courseware import PDF
from web.api import console
from web.app import create_app

pytestmark = pytest.mark.anyio

ANON, OFF, OFF2, TR, TR2 = "anon", "officer", "officer2", "trainer", "trainer2"
MGR, ADM, KIOSK, AG, AG2 = "manager", "admin", "kiosk", "agent", "agent2"
# Unit leaders (科队负责人): of officer1's squad, and of another unit (officer9's office).
LEAD, LEAD2 = "leader", "leader2"
CALLERS = (ANON, OFF, OFF2, TR, TR2, MGR, ADM, KIOSK, AG, AG2, LEAD, LEAD2)
PEOPLE = frozenset({OFF, OFF2, TR, TR2, MGR, ADM, LEAD, LEAD2})
LEADERS = frozenset({LEAD, LEAD2})
STAFF = frozenset({TR, TR2, MGR, ADM})
MANAGERS = frozenset({MGR, ADM})
EVERYONE = frozenset(CALLERS)
# Who sees the demo course (bureau-wide): every person. Its session's trainer and admins run it.
RUNS_SESSION = frozenset({TR, ADM})
OWN_OFFICER = frozenset({OFF, MGR, ADM})  # officer1's own records: themself and the office
SEES_OFFICER = OWN_OFFICER | {LEAD}  # officer1's year and record: also their unit's leader
NOBODY: frozenset[str] = frozenset()

EXPECTED: dict[str, frozenset[str]] = {
    # public
    "GET /healthz": EVERYONE,
    "GET /login": EVERYONE,
    "POST /login": EVERYONE,
    "GET /lang/{code}": EVERYONE,
    "POST /api/v1/auth/login": EVERYONE,
    "GET /api/v1/openapi.json": EVERYONE,
    "GET /api/v1/docs": EVERYONE,
    "GET /docs/oauth2-redirect": EVERYONE,
    "POST /logout": EVERYONE,  # ends whatever session the cookie names, if any
    # kiosk
    "GET /api/v1/kiosk/state": frozenset({KIOSK}),
    "POST /api/v1/kiosk/card": frozenset({KIOSK}),
    "POST /api/v1/kiosk/card/checkout": frozenset({KIOSK}),
    "WS /api/v1/kiosk/ws": frozenset({KIOSK}),
    "GET /kiosk": EVERYONE,  # the page holds no data: it asks for the kiosk's token
    # the classroom's agent
    "POST /api/v1/agent/hello": frozenset({AG, AG2}),
    "GET /api/v1/agent/commands": frozenset({AG, AG2}),
    "GET /api/v1/agent/live": frozenset({AG, AG2}),
    "POST /api/v1/agent/live/{request_id}": frozenset({AG, AG2}),
    "POST /api/v1/agent/commands/{command_id}/ack": frozenset({AG}),
    "POST /api/v1/agent/recordings/{recording_id}/upload": frozenset({AG}),
    "POST /api/v1/agent/recordings/{recording_id}/playable": frozenset({AG}),
    "POST /api/v1/agent/recordings/{recording_id}/failure": frozenset({AG}),
    "POST /api/v1/agent/recordings/{recording_id}/{event}": frozenset({AG}),
    "GET /api/v1/agent/schedule": frozenset({AG, AG2}),
    "POST /api/v1/agent/heartbeat": frozenset({AG, AG2}),
    "POST /api/v1/agent/preview": frozenset({AG, AG2}),
    "GET /api/v1/agent/gallery": frozenset({AG, AG2}),
    "POST /api/v1/agent/checkin": frozenset({AG, AG2}),
    # sessions
    "POST /api/v1/sessions": PEOPLE,  # who for whom is the body's question: test_authorization
    "POST /api/v1/sessions/series": PEOPLE,  # the same question, for a series: test_series
    "GET /api/v1/sessions/series/{series_id}": STAFF,
    "PATCH /api/v1/sessions/series/{series_id}": frozenset({TR, MGR, ADM}),
    "DELETE /api/v1/sessions/{session_id}": frozenset({TR, MGR, ADM}),
    "PATCH /api/v1/sessions/{session_id}": frozenset({TR, MGR, ADM}),  # an empty change
    "GET /api/v1/sessions/{session_id}/attendance/roll": frozenset({TR, MGR, ADM}),
    "PUT /api/v1/sessions/{session_id}/attendance/roll": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/attendance/roll/card": RUNS_SESSION,
    "POST /sessions/{session_id}/roll/card": RUNS_SESSION,
    "GET /api/v1/sessions": PEOPLE,
    "GET /api/v1/sessions/{session_id}": PEOPLE,
    "PUT /api/v1/sessions/{session_id}/study-items": frozenset({TR, MGR, ADM}),
    "POST /api/v1/sessions/{session_id}/recording/start": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/recording/stop": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/recording/pause": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/recording/resume": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/extend": RUNS_SESSION,
    "GET /api/v1/sessions/{session_id}/console": RUNS_SESSION,
    "POST /api/v1/sessions/{session_id}/ptz/{preset}": RUNS_SESSION,
    "GET /api/v1/sessions/{session_id}/attendance": frozenset({TR, MGR, ADM}),
    "POST /api/v1/sessions/{session_id}/attendance": RUNS_SESSION,
    "GET /api/v1/sessions/{session_id}/live": PEOPLE,
    "POST /api/v1/sessions/{session_id}/live/whep": PEOPLE,
    "PATCH /api/v1/sessions/{session_id}/live/whep/{resource}": PEOPLE,
    "DELETE /api/v1/sessions/{session_id}/live/whep/{resource}": PEOPLE,
    "GET /api/v1/sessions/{session_id}/live/hls/{name}": PEOPLE,
    "GET /api/v1/sessions/{session_id}/questions": PEOPLE,
    "WS /api/v1/sessions/{session_id}/questions/ws": PEOPLE,
    # recordings
    "GET /api/v1/recordings": PEOPLE,
    "GET /api/v1/recordings/{recording_id}": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/media": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/hls/{track}/{name}": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/chapters": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/chapters/{number}.jpg": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/thumbnail.jpg": PEOPLE,
    "POST /api/v1/recordings/{recording_id}/views": PEOPLE,
    "POST /api/v1/recordings/{recording_id}/views/{view_id}/progress": PEOPLE,
    "GET /api/v1/recordings/{recording_id}/watch-stats": MANAGERS,
    # courses and courseware
    "GET /api/v1/courses": PEOPLE,
    "POST /api/v1/courses": MANAGERS,
    "PATCH /api/v1/courses/{course_id}": MANAGERS,
    "POST /api/v1/courses/{course_id}/courseware": frozenset({TR, MGR, ADM}),
    "POST /api/v1/courses/{course_id}/uploads": frozenset({TR, MGR, ADM}),
    # A resumable upload is its beginner's alone: anyone else finds none (404).
    "GET /api/v1/uploads/{upload_id}": PEOPLE,
    "PUT /api/v1/uploads/{upload_id}": PEOPLE,
    "POST /api/v1/uploads/{upload_id}/finish": PEOPLE,
    "DELETE /api/v1/uploads/{upload_id}": PEOPLE,
    "GET /api/v1/courses/{course_id}/courseware": PEOPLE,
    "GET /api/v1/courseware/{item_id}/download": PEOPLE,
    # people, devices, classrooms
    "GET /api/v1/me": PEOPLE,
    "POST /api/v1/me/password": PEOPLE,
    # the organisation
    "GET /api/v1/units": PEOPLE,
    "POST /api/v1/units": MANAGERS,
    "POST /api/v1/classrooms": MANAGERS,
    "POST /api/v1/roster/preview": MANAGERS,
    "POST /api/v1/roster/apply": MANAGERS,
    "GET /api/v1/roster": MANAGERS,
    "GET /api/v1/roster/template": MANAGERS,
    "PATCH /api/v1/units/{unit_id}": MANAGERS,
    "GET /api/v1/people": MANAGERS | LEADERS,  # a leader: their units' people
    "POST /api/v1/people": MANAGERS,
    "GET /api/v1/people/{person_id}": SEES_OFFICER,
    "PATCH /api/v1/people/{person_id}": MANAGERS,
    "POST /api/v1/people/{person_id}/password-reset": frozenset({ADM}),
    "GET /account/password": PEOPLE,
    "GET /roster": MANAGERS,
    "GET /units": MANAGERS,
    "POST /units": MANAGERS,
    "GET /people/new": MANAGERS,
    "GET /people/{person_id}/edit": MANAGERS,
    "POST /people/save": MANAGERS,
    "POST /people/{person_id}/password-reset": frozenset({ADM}),
    "POST /api/v1/cohorts": MANAGERS,
    "POST /api/v1/cohorts/{cohort_id}/members": MANAGERS,
    "GET /api/v1/cohorts": MANAGERS,
    "GET /cohorts": MANAGERS,
    "POST /cohorts": MANAGERS,
    "POST /cohorts/{cohort_id}/assign": MANAGERS,
    "GET /cohorts/{cohort_id}/roster": MANAGERS,
    "POST /account/password": PEOPLE,
    "GET /api/v1/people/{person_id}/face": frozenset({OFF, TR, TR2, MGR, ADM}),
    "POST /api/v1/people/{person_id}/face": STAFF,
    "DELETE /api/v1/people/{person_id}/face": OWN_OFFICER,
    "POST /api/v1/people/{person_id}/cards": MANAGERS,
    "GET /api/v1/people/{person_id}/cards": OWN_OFFICER,
    "DELETE /api/v1/people/{person_id}/cards/{card_id}": MANAGERS,
    "GET /api/v1/devices": frozenset({ADM}),
    "POST /api/v1/devices": frozenset({ADM}),
    "GET /classrooms/setup": MANAGERS,
    "POST /classrooms/setup": MANAGERS,
    "POST /classrooms/{classroom_id}/devices": frozenset({ADM}),
    "POST /classrooms/devices/{device_id}/revoke": frozenset({ADM}),
    "GET /courses": STAFF,
    "GET /courses/new": MANAGERS,
    "GET /courses/{course_id}/edit": MANAGERS,
    "POST /courses/save": MANAGERS,
    "POST /api/v1/devices/{device_id}/revoke": frozenset({ADM}),
    "GET /api/v1/classrooms/{classroom_id}/schedule.ics": STAFF,
    "GET /api/v1/classrooms/status": STAFF,
    "GET /api/v1/classrooms/{classroom_id}/preview.jpg": STAFF,
    "PATCH /api/v1/classrooms/{classroom_id}": frozenset({ADM}),
    # the ledger
    "GET /api/v1/compliance/me": PEOPLE,
    "GET /api/v1/compliance/officers/{person_id}": SEES_OFFICER,
    "GET /api/v1/compliance/units/{unit_id}": MANAGERS | {LEAD},
    "GET /api/v1/compliance/bureau": MANAGERS | LEADERS,  # a leader: their units
    "POST /api/v1/imports/online": MANAGERS,
    "POST /api/v1/imports/attendance": MANAGERS,
    "POST /api/v1/adjustments": MANAGERS,
    "GET /api/v1/audit": MANAGERS,
    "GET /metrics": frozenset({ADM}),
    # pages
    "GET /": EVERYONE,  # a redirect to the sessions page
    "GET /sessions": PEOPLE,
    "POST /sessions": PEOPLE,
    "GET /sessions/{session_id}": PEOPLE,
    "GET /sessions/{session_id}/live": PEOPLE,
    "GET /sessions/{session_id}/console": RUNS_SESSION,
    "POST /sessions/{session_id}/attendance": RUNS_SESSION,
    "GET /sessions/{session_id}/roll": RUNS_SESSION,
    "POST /sessions/{session_id}/roll": RUNS_SESSION,
    "GET /sessions/series/{series_id}": frozenset({TR, MGR, ADM}),
    "POST /sessions/series/{series_id}/change": frozenset({TR, MGR, ADM}),
    "POST /sessions/{session_id}/edit": frozenset({TR, MGR, ADM}),
    "POST /sessions/{session_id}/start": RUNS_SESSION,
    "POST /sessions/{session_id}/stop": RUNS_SESSION,
    "POST /sessions/{session_id}/pause": RUNS_SESSION,
    "POST /sessions/{session_id}/resume": RUNS_SESSION,
    "POST /sessions/{session_id}/extend": RUNS_SESSION,
    "POST /sessions/{session_id}/cancel": frozenset({TR, MGR, ADM}),
    "POST /sessions/{session_id}/courseware": frozenset({TR, MGR, ADM}),
    "POST /sessions/{session_id}/study-items": frozenset({TR, MGR, ADM}),
    "GET /recordings": PEOPLE,
    "GET /recordings/{recording_id}": PEOPLE,
    "GET /progress": frozenset({OFF, OFF2, TR, TR2, LEAD, LEAD2}),  # people who owe training
    "GET /compliance/officers/{person_id}": SEES_OFFICER,
    "GET /compliance": MANAGERS | LEADERS,
    "GET /calendar": MANAGERS | LEADERS,
    "GET /api/v1/calendar/year": MANAGERS | LEADERS,
    # officer1's squad: its people (officer1, trainer2), its leader, the office
    "GET /api/v1/calendar/units/{unit_id}/schedule.ics": frozenset({OFF, TR2, MGR, ADM, LEAD}),
    # each line is checked as a booking of its own: who for whom is test_session_import's
    "POST /api/v1/imports/sessions": PEOPLE,
    "GET /api/v1/imports/sessions/template": PEOPLE,
    "GET /classrooms": STAFF,
    "GET /people": STAFF,
    "GET /people/{person_id}/enrol": STAFF,
    "GET /people/{person_id}/cards": MANAGERS,
    "POST /people/{person_id}/cards": MANAGERS,
    "POST /people/{person_id}/cards/{card_id}/delete": MANAGERS,
    "MOUNT /static": EVERYONE,
    "POST /api/v1/auth/logout": PEOPLE,
}


def all_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through FastAPI's lazily included routers."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes, r.include_context.prefix)
            elif isinstance(r, WebSocketRoute):
                yield "WS", prefix + r.path
            elif isinstance(r, Route):
                for method in sorted((r.methods or set()) - {"HEAD"}):
                    yield method, prefix + r.path
            elif isinstance(r, Mount):
                yield "MOUNT", prefix + r.path

    yield from walk(app.routes, "")


@dataclass
class World:
    params: dict[str, str]
    # (route, caller) → what the route destroys instead of the usual: a session to cancel, a
    # person whose password to reset
    spares: dict[tuple[str, str], dict[str, str]]
    tokens: dict[str, str]


async def _world(portal: Portal, rivals: Rivals) -> World:
    async with portal.services.sessionmaker() as db:
        session = await db.get(Session, portal.world.session_id)
        officer = await db.scalar(select(Person).where(Person.username == "officer1"))
        assert session is not None and officer is not None
        rec = Recording(session_id=session.id, state=RecordingState.AVAILABLE, duration_s=60)
        spares = {}
        for n, (route, caller) in enumerate(
            (r, c) for r in sorted(DELETES_SESSION) for c in CALLERS
        ):  # one to cancel for each caller on each such route
            later = utcnow() + timedelta(days=3 + n)
            spares[route, caller] = Session(
                course_id=session.course_id,
                classroom_id=session.classroom_id,
                trainer_id=session.trainer_id,
                kind=SessionKind.OTHER,
                title="to cancel",
                planned_start=later,
                planned_end=later + timedelta(hours=1),
            )
        spare_officer = await create_person(db, "matrix-spare", "spare", [Role.OFFICER], "x" * 12)
        series = SessionSeries(
            rrule="FREQ=WEEKLY;COUNT=2",
            first_start=utcnow() + timedelta(days=200),
            minutes=60,
            template={
                "title": "series",
                "kind": "other",
                "course_id": session.course_id,
                "classroom_id": session.classroom_id,
                "trainer_id": session.trainer_id,
                "unit_id": None,
                "auto_record": False,
                "ptz_preset": None,
            },
            exdates=[],
        )
        db.add(series)
        db.add_all([rec, *spares.values()])
        await db.flush()
        command = AgentCommand(
            classroom_id=session.classroom_id,
            recording_id=rec.id,
            kind=CommandKind.STOP_RECORDING,
            state=CommandState.PENDING,
        )
        db.add(command)
        device, _ = await create_device(db, session.classroom_id, DeviceKind.KIOSK, "to revoke")
        await db.commit()
        params = {
            "session_id": str(session.id),
            "recording_id": str(rec.id),
            "person_id": str(officer.id),
            "unit_id": str(officer.unit_id),
            "classroom_id": str(session.classroom_id),
            "course_id": str(session.course_id),
            "device_id": str(device.id),
            "command_id": str(command.id),
            "item_id": "1",
            "view_id": "00000000-0000-0000-0000-000000000000",
            "request_id": "00000000-0000-0000-0000-000000000000",
            "resource": "00000000-0000-0000-0000-000000000000",
            "event": "started",
            "preset": "1",
            "track": "camera",
            "name": "index.m3u8",
            "number": "0",
            "code": "en",
            "cohort_id": "1",  # the demo's 2023 first cohort
            "series_id": str(series.id),
            "card_id": "999999",
            "upload_id": "A" * 32,
        }
        to_reset = {
            (r, c): {"person_id": str(spare_officer.id)} for r in RESETS_PASSWORD for c in CALLERS
        }
        return World(
            params,
            {key: {"session_id": str(spare.id)} for key, spare in spares.items()} | to_reset,
            {KIOSK: rivals.kiosk_token, AG: portal.world.agent_token, AG2: rivals.agent2_token},
        )


# Bodies good enough to reach the route's own checks (a 422 for a missing field would hide them).
FORMS: dict[str, dict[str, str]] = {
    "POST /units": {"name": ""},  # refused on the form (422), past the access check
    "POST /people/save": {"display_name": ""},
    "POST /courses/save": {"title": ""},  # no code: refused on the form, nothing made
    "POST /classrooms/setup": {"name": ""},
    "POST /cohorts": {"year": "2023", "number": "x", "starts_on": "", "ends_on": ""},
    "POST /classrooms/{classroom_id}/devices": {"kind": "kiosk", "name": "matrix"},
    "POST /account/password": {"current": "wrong", "new": "matrix-pw-1", "repeat": "matrix-pw-1"},
    "POST /sessions/{session_id}/cancel": {"confirm": "yes"},
    "POST /sessions/{session_id}/attendance": {"person_id": "1", "check_in": "2026-01-01T08:00"},
    "POST /sessions/{session_id}/extend": {"minutes": "5"},
    "POST /sessions/{session_id}/roll/card": {"card": "C9999999"},
    "POST /people/{person_id}/cards": {"card_no": "M2345678"},
    # a date after the series' year: refused (422) past the access check, nothing booked
    "POST /sessions/series/{series_id}/change": {"since": "2099-01-01"},
    "POST /sessions/{session_id}/edit": {
        "title": "x",
        "planned_start": "2026-01-01T08:00",
        "planned_end": "2026-01-01T07:00",  # before the start: refused on the form
    },
}
JSONS: dict[str, Any] = {
    # a date after the series' year: refused (422) past the access check, nothing booked
    "PATCH /api/v1/sessions/series/{series_id}": {"since": "2099-01-01"},
    "POST /api/v1/kiosk/card": {"card_no": "C0000001", "event_uid": "0" * 32},
    "POST /api/v1/agent/commands/{command_id}/ack": {"ok": False, "error": "matrix"},
    "POST /api/v1/agent/recordings/{recording_id}/failure": {"error": "matrix"},
    "POST /api/v1/agent/recordings/{recording_id}/{event}": {"at": "2026-01-01T00:00:00+00:00"},
    "POST /api/v1/agent/recordings/{recording_id}/playable": {
        "duration_s": 1,
        "tracks": {
            "hls": {"object_key": "recordings/x/index.m3u8", "size_bytes": 1, "sha256": "0" * 64}
        },
    },
    "POST /api/v1/agent/recordings/{recording_id}/upload": {
        "object_key": "recordings/x/recording.mp4",
        "duration_s": 1,
        "size_bytes": 1,
        "sha256": "0" * 64,
    },
    "POST /api/v1/people/{person_id}/cards": {"card_no": "12345678"},
    "POST /api/v1/courses/{course_id}/uploads": {"filename": "a.pdf", "size": 10},
    "PUT /api/v1/sessions/{session_id}/study-items": [],
    "PUT /api/v1/sessions/{session_id}/attendance/roll": {"marks": []},
    "POST /api/v1/sessions/{session_id}/attendance/roll/card": {"card_no": "C9999999"},
    "POST /api/v1/sessions/{session_id}/extend": {"minutes": 5},
    "PATCH /api/v1/courses/{course_id}": {},
    "POST /api/v1/sessions/{session_id}/attendance": {
        "person_id": 1,
        "check_in": "2026-01-01T08:00:00+08:00",
        "reason": "matrix",
    },
}


ROSTER = "警号,姓名\nM0001,矩阵\n".encode()
FILES: dict[str, dict[str, Any]] = {
    "POST /api/v1/roster/preview": {"file": ("r.csv", ROSTER, "text/csv")},
    "POST /api/v1/roster/apply": {"file": ("r.csv", ROSTER, "text/csv")},
    "POST /api/v1/imports/sessions": {"file": ("s.csv", "标题\n".encode(), "text/csv")},
    "POST /api/v1/courses/{course_id}/courseware": {"file": ("a.pdf", PDF, "application/pdf")},
    "POST /sessions/{session_id}/courseware": {"file": ("a.pdf", PDF, "application/pdf")},
    "POST /api/v1/people/{person_id}/face": {"frames": ("f.jpg", b"not a picture", "image/jpeg")},
}
QUERIES: dict[str, dict[str, str]] = {
    "GET /api/v1/cohorts": {"year": "2023"},
    "GET /api/v1/compliance/officers/{person_id}": {"year": "2023"},
    "GET /api/v1/compliance/units/{unit_id}": {"year": "2023"},
    "GET /api/v1/compliance/bureau": {"year": "2023"},
    "GET /api/v1/calendar/year": {"year": "2023"},
    "POST /api/v1/imports/sessions": {"dry_run": "true"},
}
# Objects the route names that this test does not make (a live viewer's WHEP resource, an agent's
# pending live request, an enrolled face, stored HLS and chapters, a preview, a watch view): a 404
# there is the route's own "no such thing", past its access check.
NOT_FOUND_IS_IN = {
    "PATCH /api/v1/sessions/{session_id}/live/whep/{resource}",
    "DELETE /api/v1/sessions/{session_id}/live/whep/{resource}",
    "POST /api/v1/agent/live/{request_id}",
    "DELETE /api/v1/people/{person_id}/face",
    "GET /api/v1/recordings/{recording_id}/hls/{track}/{name}",
    "GET /api/v1/recordings/{recording_id}/chapters/{number}.jpg",
    "GET /api/v1/recordings/{recording_id}/thumbnail.jpg",  # a recording with no media behind
    "GET /api/v1/classrooms/{classroom_id}/preview.jpg",
    "GET /api/v1/courseware/{item_id}/download",
    "POST /api/v1/recordings/{recording_id}/views/{view_id}/progress",
    "POST /api/v1/kiosk/card",  # an unknown card
    "DELETE /api/v1/people/{person_id}/cards/{card_id}",
    "GET /api/v1/uploads/{upload_id}",
    "PUT /api/v1/uploads/{upload_id}",
    "POST /api/v1/uploads/{upload_id}/finish",
    "DELETE /api/v1/uploads/{upload_id}",
    "POST /people/{person_id}/cards/{card_id}/delete",
}
# Routes that delete what they name: each caller gets a session of its own to try.
DELETES_SESSION = {"DELETE /api/v1/sessions/{session_id}", "POST /sessions/{session_id}/cancel"}
# A password reset ends its person's sessions: it is tried on a spare officer, not officer1.
RESETS_PASSWORD = {
    "POST /api/v1/people/{person_id}/password-reset",
    "POST /people/{person_id}/password-reset",
}


def _path(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: params[m.group(1)], template)


async def _socket(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], hello: str | None
) -> bool:
    """Whether a WebSocket to ``path`` was let in: accepted, and (kiosk) its hello answered."""
    inbox: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    if hello is not None:
        inbox.append({"type": "websocket.receive", "text": hello})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        raise _Done

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] in ("websocket.close", "websocket.send"):
            raise _Done

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "subprotocols": [],
        "state": {},
        "app": app,
    }
    with contextlib.suppress(_Done):
        await app(scope, receive, send)
    kinds = [m["type"] for m in sent]
    return "websocket.accept" in kinds and "websocket.close" not in kinds


class _Done(Exception):
    pass


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_every_route_against_the_access_table(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "PTZ_TIMEOUT_S", 0.05)  # no agent answers here: 503 at once
    rivals = await seed_rivals(portal)
    world = await _world(portal, rivals)
    app = create_app(portal.services)
    routes = [f"{m} {p}" for m, p in all_routes(app)]
    assert len(routes) > 100  # the walk reached every router
    missing = sorted(set(routes) - set(EXPECTED))
    assert not missing, f"routes without an entry in the access table: {missing}"
    assert not set(EXPECTED) - set(routes), "entries for routes that no longer exist"
    # The logouts end the callers' logins: last.
    routes.sort(key=lambda r: r.endswith("logout"))
    transport = httpx.ASGITransport(app=app)
    clients: dict[str, httpx.AsyncClient] = {}
    logins = {OFF: "officer1", OFF2: "officer9", TR: "trainer", TR2: "trainer2", MGR: "manager"}
    for caller in CALLERS:
        headers = (
            {"Authorization": f"Bearer {world.tokens[caller]}"} if caller in world.tokens else {}
        )
        client = httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        )
        if caller in PEOPLE:
            await Portal.log_in(client, logins.get(caller, caller))
        clients[caller] = client
    observed: dict[str, set[str]] = {}
    answers: dict[str, dict[str, int]] = {}  # what each caller got: shown when a route is wrong
    try:
        for route in routes:
            method, template = route.split(" ", 1)
            if method == "MOUNT":
                observed[route] = {
                    c
                    for c in CALLERS
                    if (await clients[c].get("/static/app.css")).status_code == 200
                }
                continue
            observed[route], answers[route] = set(), {}
            for caller in CALLERS:
                spare = world.spares.get((route, caller), {})
                path = _path(template, {**world.params, **spare})
                client = clients[caller]
                if method == "WS":
                    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
                    headers = [(b"cookie", cookie.encode())] if cookie else []
                    hello = (
                        json.dumps({"token": world.tokens.get(caller, "")})
                        if "kiosk" in path
                        else None
                    )
                    let_in = await _socket(app, path, headers, hello)
                    answers[route][caller] = 101 if let_in else 4403
                else:
                    kw: dict[str, Any] = {"params": QUERIES.get(route, {})}
                    if route in FILES:
                        kw["files"] = FILES[route]
                        kw["data"] = {"consent": "true"}
                    elif route in FORMS:
                        kw["data"] = FORMS[route]
                    elif method in ("POST", "PUT", "PATCH"):
                        kw["json"] = JSONS.get(route, {})
                    r = await client.request(method, path, **kw)
                    to_login = (
                        r.status_code in (302, 303, 307)
                        and r.headers.get("location", "").startswith("/login")
                        and route != "POST /logout"  # where logging out leads
                    )
                    refused = {401, 403} if route in NOT_FOUND_IS_IN else {401, 403, 404}
                    let_in = r.status_code not in refused and not to_login
                    answers[route][caller] = r.status_code
                    unanswered = r.status_code == 503 and "did not answer" in r.text  # PTZ
                    assert r.status_code < 500 or unanswered, (route, caller, r.text[:300])
                if let_in:
                    observed[route].add(caller)
    finally:
        for client in clients.values():
            await client.aclose()
    if os.environ.get("MATRIX_SHOW"):
        for route, who in observed.items():
            print(f'    "{route}": {sorted(who)},')
    wrong = {
        route: {
            "let in, not allowed": sorted(who - EXPECTED[route]),
            "refused": sorted(EXPECTED[route] - who),
            "answers": answers.get(route, {}),
        }
        for route, who in observed.items()
        if who != EXPECTED[route]
    }
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)
