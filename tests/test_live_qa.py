"""Live Q&A over the WebSocket of `classroom serve`: the session's viewers ask, every socket of
the session hears it, only the trainer (or a manager or admin) marks answered; strangers, the
logged-out and other sites' pages are refused; bad and flooding input gets a clear error. Then
the same in Chromium: an officer asks on the live page, the trainer's console shows it and marks
it answered, and the officer's page shows that."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from classroom.db.models import Session, SessionKind
from classroom.db.types import utcnow
from tests.api_helpers import other_squads_course
from tests.browser import browser
from tests.live_stack import LiveStack
from tests.test_browser import log_in

pytestmark = [pytest.mark.slow]


def _cookie(live: LiveStack, username: str) -> str:
    client = live.login(username)
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _session(live: LiveStack, other_squad: bool = False) -> int:
    """A session of the demo trainer that has not ended: district-wide in the demo course, or
    (``other_squad``) one squad's, in a course of its own that officer1 cannot see."""

    async def add(db):  # type: ignore[no-untyped-def]
        demo = await db.get(Session, live.world.session_id)
        course_id, unit_id = demo.course_id, None
        if other_squad:
            unit_id, course_id = await other_squads_course(db)
        start = utcnow() - timedelta(minutes=5)
        s = Session(
            course_id=course_id,
            classroom_id=demo.classroom_id,
            trainer_id=demo.trainer_id,
            unit_id=unit_id,
            kind=SessionKind.OTHER,
            title="答疑课" if not other_squad else "别的中队的课",
            planned_start=start,
            planned_end=start + timedelta(hours=1),
        )
        db.add(s)
        await db.flush()
        return s.id

    return int(live.db(add))


async def _next(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        msg: dict[str, Any] = json.loads(await ws.recv())
        return msg


def test_questions_over_the_websocket(live: LiveStack) -> None:
    sid, other = _session(live), _session(live, other_squad=True)
    base = live.url.replace("http://", "ws://") + "/api/v1/sessions"
    officer, trainer = _cookie(live, "officer1"), _cookie(live, "trainer")

    def socket(session: int, cookie: str | None, origin: str | None = None) -> Any:
        headers = {"Cookie": cookie} if cookie else {}
        if origin:
            headers["Origin"] = origin
        return connect(f"{base}/{session}/questions/ws", additional_headers=headers)

    async def scenario() -> None:
        # Refused at the handshake: not logged in, not this session's viewer, another site.
        for session, cookie, origin in (
            (sid, None, None),
            (other, officer, None),
            (sid, officer, "http://evil.example"),
            (999_999, officer, None),
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with socket(session, cookie, origin):
                    pass
            assert refused.value.response.status_code == 403, (session, origin)

        async with socket(sid, officer, live.url) as o, socket(sid, trainer) as t:
            first_o, first_t = await _next(o), await _next(t)
            assert first_o["type"] == first_t["type"] == "questions"
            assert first_o["moderator"] is False and first_t["moderator"] is True
            known = len(first_o["items"])

            text = f"执法记录仪的数据保存多久？{uuid.uuid4().hex[:6]}"
            await o.send(json.dumps({"type": "ask", "text": f"  {text}\n"}))
            heard_o, heard_t = await _next(o), await _next(t)
            assert heard_o == heard_t and heard_o["type"] == "question"
            item = heard_o["item"]
            assert item["text"] == text and item["name"] == "张队员" and not item["answered"]

            # Only the trainer marks it answered; everyone hears it.
            await o.send(json.dumps({"type": "answered", "id": item["id"]}))
            assert (await _next(o))["code"] == "not_allowed"
            await t.send(json.dumps({"type": "answered", "id": item["id"]}))
            assert await _next(o) == await _next(t) == {"type": "answered", "id": item["id"]}

            # Bad input: a clear error each, and the socket stays open.
            for bad, code in (
                ("not json", "bad_message"),
                (json.dumps({"type": "vote"}), "bad_message"),
                (json.dumps({"type": "ask", "text": "   "}), "empty"),
                (json.dumps({"type": "ask", "text": "问" * 501}), "too_long"),
                (json.dumps({"type": "ask", "text": "x" * 5000}), "too_long"),
                (json.dumps({"type": "answered", "id": "1"}), "bad_message"),
                (json.dumps({"type": "answered", "id": 10**9}), "not_allowed"),
            ):
                await o.send(bad)
                got = await _next(o)
                assert got["type"] == "error" and got["code"] == code, (bad[:40], got)
            await t.send(json.dumps({"type": "answered", "id": 10**9}))
            assert (await _next(t))["code"] == "not_found"

            # A flood: five a minute, then refused.
            for i in range(4):
                await o.send(json.dumps({"type": "ask", "text": f"问题 {i}"}))
                assert (await _next(o))["type"] == "question"
                assert (await _next(t))["type"] == "question"
            await o.send(json.dumps({"type": "ask", "text": "再问一个"}))
            assert (await _next(o))["code"] == "too_many"

        # Logged out meanwhile: the next message closes the socket (4401), nothing is stored.
        leaving = live.login("officer3")
        cookie = "; ".join(f"{k}={v}" for k, v in leaving.cookies.items())
        async with socket(sid, cookie) as gone:
            assert (await _next(gone))["type"] == "questions"
            assert leaving.post("/api/v1/auth/logout").status_code in (200, 204)
            await gone.send(json.dumps({"type": "ask", "text": "还在吗"}))
            with pytest.raises(ConnectionClosed) as closed:
                await _next(gone)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

        # Kept with the session: the list reads back (viewers only).
        listed = live.login("officer1").get(f"/api/v1/sessions/{sid}/questions").json()
        assert len(listed) == known + 5
        assert next(q for q in listed if q["id"] == item["id"])["answered"] is True
        stranger = live.login("officer1").get(f"/api/v1/sessions/{other}/questions")
        assert stranger.status_code == 403

    asyncio.run(scenario())


@pytest.mark.browser
def test_questions_in_the_live_page_and_the_console(live: LiveStack, tmp_path: Path) -> None:
    sid = _session(live)
    text = f"课件会发给我们吗？{uuid.uuid4().hex[:6]}"
    # One browser, two people: cookies are per host, so the trainer uses "localhost".
    trainer_url = live.url.replace("127.0.0.1", "localhost")
    with browser(tmp_path / "profile") as ctx:
        viewer = ctx.new_page()
        log_in(viewer, live, "officer2", "officer-demo-pw")
        viewer.goto(f"{live.url}/sessions/{sid}/live")
        console = ctx.new_page()
        console.goto(f"{trainer_url}/login")
        console.fill("input[name=username]", "trainer")
        console.fill("input[name=password]", "trainer-demo-pw")
        console.click("button[type=submit]")
        console.goto(f"{trainer_url}/sessions/{sid}")
        console.click("#open-console")  # the session page links its trainer to the console
        expect(console.locator("h1")).to_contain_text("教员控制台")
        expect(console.locator("#qa")).to_have_attribute("data-ready", "1")
        expect(viewer.locator("#qa")).to_have_attribute("data-ready", "1")

        viewer.fill("#qa-text", text)
        viewer.click("#qa-send")
        asked = console.locator("#qa-list li", has_text=text)
        expect(asked).to_contain_text("刘队员")
        expect(viewer.locator("#qa-list li", has_text=text).locator("button")).to_have_count(0)
        asked.locator("button").click()  # mark answered
        expect(viewer.locator("#qa-list li", has_text=text)).to_have_attribute("data-answered", "1")
        expect(viewer.locator("#qa-list li", has_text=text)).to_contain_text("已回答")
        expect(console.locator("#c-viewers")).to_have_text("0")
        console.screenshot(path=str(live.data_dir / "console.png"))
