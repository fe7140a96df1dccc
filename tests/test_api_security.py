"""Who may do what: every route has an owner, and everyone else is refused."""

from __future__ import annotations

import re

import pytest
from starlette.types import Message, Receive, Scope, Send

from classroom.runtime import Services
from tests.api_helpers import Portal, heartbeat, make_portal
from web.app import create_app
from web.middleware import SameOrigin

pytestmark = pytest.mark.anyio

PUBLIC_API = {("POST", "/api/v1/auth/login")}


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def api_routes(services: Services) -> list[tuple[str, str]]:
    """Every documented API operation, with 1 for each path parameter."""
    paths = create_app(services).openapi()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, ops in paths.items()
        if path.startswith("/api/v1")
        for method in ops
    ]


async def test_every_api_route_but_login_refuses_anonymous(portal: Portal) -> None:
    routes = api_routes(portal.services)
    assert len(routes) >= 12  # the test really walks the API
    async with portal.client() as anon:
        for method, path in routes:
            if (method, path) in PUBLIC_API:
                continue
            r = await anon.request(method, path, json={})
            assert r.status_code == 401, f"{method} {path} -> {r.status_code}"
            assert r.json()["detail"]


async def test_health_is_public(portal: Portal) -> None:
    async with portal.client() as anon:
        r = await anon.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "object_store": "ok"}


async def test_wrong_password_and_unknown_user_look_the_same(portal: Portal) -> None:
    async with portal.client() as anon:
        wrong = await anon.post(
            "/api/v1/auth/login", json={"username": "trainer", "password": "nope-nope"}
        )
        unknown = await anon.post(
            "/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid username or password"}
    assert "set-cookie" not in wrong.headers


async def test_session_cookie_is_httponly_and_samesite(portal: Portal) -> None:
    async with portal.client() as c:
        r = await c.post(
            "/api/v1/auth/login", json={"username": "officer1", "password": "officer-demo-pw"}
        )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "officer-demo-pw" not in cookie


async def test_officer_cannot_start_or_stop_a_recording(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("officer1") as officer:
        r = await officer.post(f"/api/v1/sessions/{sid}/recording/start")
        assert r.status_code == 403
        assert "trainer" in r.json()["detail"]
        assert (await officer.post(f"/api/v1/sessions/{sid}/recording/stop")).status_code == 403
        assert (await officer.get("/api/v1/recordings")).json() == []  # nothing was created
    async with portal.as_user("manager") as manager:
        assert (await manager.post(f"/api/v1/sessions/{sid}/recording/start")).status_code == 403


async def test_trainer_starts_own_session_idempotently(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        first = await trainer.post(f"/api/v1/sessions/{sid}/recording/start")
        again = await trainer.post(f"/api/v1/sessions/{sid}/recording/start")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["state"] == "pending"


async def test_only_admin_revokes_devices_and_revoked_token_is_refused(portal: Portal) -> None:
    async with portal.agent() as agent:
        hello = await agent.post("/api/v1/agent/hello", json={"classroom_id": 1})
        assert hello.status_code == 200
        device_id = hello.json()["id"]
        async with portal.as_user("trainer") as trainer:
            r = await trainer.post(f"/api/v1/devices/{device_id}/revoke")
            assert r.status_code == 403
        async with portal.as_user("admin") as admin:
            r = await admin.post(f"/api/v1/devices/{device_id}/revoke")
            assert r.status_code == 200 and r.json()["revoked_at"]
        refused = await agent.get("/api/v1/agent/commands")
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]


async def test_agent_token_is_bound_to_its_classroom(portal: Portal) -> None:
    async with portal.agent() as agent:
        r = await agent.post("/api/v1/agent/hello", json={"classroom_id": 999})
    assert r.status_code == 403


async def test_garbage_token_is_refused(portal: Portal) -> None:
    async with portal.agent("agent_not-a-real-token") as agent:
        r = await agent.get("/api/v1/agent/commands")
    assert r.status_code == 401


async def test_person_cookie_does_not_open_agent_routes(portal: Portal) -> None:
    async with portal.as_user("admin") as admin:
        r = await admin.get("/api/v1/agent/commands")
    assert r.status_code == 401


async def test_logout_ends_the_session(portal: Portal) -> None:
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.get("/api/v1/me")).json()["username"] == "trainer"
        token = trainer.cookies["classroom_session"]
        assert (await trainer.post("/api/v1/auth/logout")).status_code == 204
    async with portal.client(cookies={"classroom_session": token}) as replay:
        assert (await replay.get("/api/v1/me")).status_code == 401


async def test_cross_origin_write_is_refused(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(
            f"/api/v1/sessions/{sid}/recording/start", headers={"Origin": "http://evil.example"}
        )
        assert r.status_code == 403
        ok = await trainer.post(
            f"/api/v1/sessions/{sid}/recording/start", headers={"Origin": "http://testserver"}
        )
        assert ok.status_code == 202


async def test_pages_redirect_anonymous_to_login(portal: Portal) -> None:
    async with portal.client() as anon:
        r = await anon.get("/sessions/1")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/sessions/1"


async def test_login_page_refuses_open_redirects(portal: Portal) -> None:
    async with portal.client() as anon:
        r = await anon.post(
            "/login",
            data={"username": "trainer", "password": "trainer-demo-pw", "next": "//evil.example/"},
        )
    assert r.status_code == 303 and r.headers["location"] == "/sessions"


async def test_origin_null_is_refused(portal: Portal) -> None:
    """A sandboxed frame or a data: URL sends Origin: null; it is no origin of ours."""
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post("/api/v1/auth/logout", headers={"Origin": "null"})
        assert r.status_code == 403
        assert (await trainer.get("/api/v1/me")).status_code == 200  # still logged in
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a WebSocket with Origin: null reached the app")

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "path": "/api/v1/sessions/1/questions/ws"}
    scope["headers"] = [(b"origin", b"null"), (b"host", b"testserver")]
    await SameOrigin(app)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 4403}]


async def test_an_unknown_alert_code_is_shown_as_such(portal: Portal) -> None:
    """An agent newer than its portal may raise alerts the portal does not know."""
    async with portal.agent() as agent:
        beat = heartbeat(alerts=[{"code": "from_the_future", "message": "新的告警", "since": "s"}])
        assert (await agent.post("/api/v1/agent/heartbeat", json=beat)).status_code == 204
    async with portal.as_user("manager") as manager:
        r = await manager.get("/classrooms")
    assert r.status_code == 200 and "from_the_future" in r.text and "新的告警" in r.text
