"""The kiosk in headless Chromium with a fake camera fed from real face photos and real webcam
recordings (tests/data/faces): a held-up photo of an enrolled person fails the head-turn
challenge, a man really turning his head the way the kiosk asks is greeted by name, someone not
enrolled is refused, and a card typed by a keyboard-wedge reader checks its holder in."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.browser import browser, fake_camera
from tests.face_helpers import as_jpeg, clip, him, photo, photo_attacks, screen_attacks, y4m
from tests.live_stack import CLI, LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def new_kiosk(live: LiveStack, classroom: int, name: str) -> str:
    """A kiosk device for the classroom, registered as an operator would (the CLI)."""
    args = ["device", "add", "--classroom", str(classroom), "--name", name, "--kind", "kiosk"]
    out = subprocess.run(
        [*CLI, *args, "--json"],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
    )
    token: str = json.loads(out.stdout)["token"]
    return token


def open_session_now(live: LiveStack, classroom: int, title: str) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    r = live.login("trainer").post(
        "/api/v1/sessions",
        json={
            "title": title,
            "kind": "other",
            "course_id": 1,
            "classroom_id": classroom,
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text


def add_room(live: LiveStack, room: int, name: str) -> None:
    from classroom.db.models import Classroom

    async def add(db: AsyncSession) -> None:
        if await db.get(Classroom, room) is None:
            db.add(Classroom(id=room, name=name, location=""))

    live.db(add)


@pytest.fixture(scope="module")
def kiosk_token(live: LiveStack) -> str:
    # A classroom of its own, with a session open now: the demo's classroom holds the demo's.
    add_room(live, 3, "三号教室")
    token = new_kiosk(live, 3, "door")
    open_session_now(live, 3, "刷脸签到课")
    manager = live.login("manager")
    # Enrol officer1 (photos of one man) and officer2 (frames of the man in the webcam
    # recordings), and register officer2's card.
    a = _person_id(live, "officer1")
    frames = [
        cv2.imencode(".jpg", photo(n))[1].tobytes()
        for n in ("obama", "obama_partial_face", "obama2")
    ]
    files = [("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
    r = manager.post(f"/api/v1/people/{a}/face", files=files, data={"consent": "true"})
    assert r.status_code == 201, r.text
    b = _person_id(live, "officer2")
    files = [("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(him())]
    r = manager.post(f"/api/v1/people/{b}/face", files=files, data={"consent": "true"})
    assert r.status_code == 201, r.text
    r = manager.post(f"/api/v1/people/{b}/cards", json={"card_no": "0004479002"})
    assert r.status_code == 201, r.text
    return token


def _person_id(live: LiveStack, username: str) -> int:
    import asyncio

    from sqlalchemy import select

    from classroom.db.engine import session_factory
    from classroom.db.models import Person
    from classroom.runtime import open_database
    from classroom.settings import load_settings

    async def find() -> int:
        settings = load_settings(data_dir=live.data_dir)
        async with open_database(settings) as engine, session_factory(engine)() as db:
            pid = await db.scalar(select(Person.id).where(Person.username == username))
            assert pid is not None
            return pid

    return asyncio.run(find())


# Every state the kiosk shows, in order: some last only a moment (a result holds for 3 s).
_TRAIL = """
new MutationObserver(() => {
  const s = document.getElementById("status").dataset.state;
  const t = (window.__states = window.__states || []);
  if (t[t.length - 1] !== s) t.push(s);
}).observe(document.getElementById("status"), { attributes: true });
"""


def _kiosk(page: Page, live: LiveStack, token: str) -> None:
    page.goto(f"{live.url}/kiosk#token={token}")
    expect(page.locator("#room")).not_to_have_text("签到", timeout=10_000)
    page.evaluate(_TRAIL)


def _shows(page: Page, selector: str, timeout: float) -> None:
    """``selector`` visible within ``timeout`` ms, or fail with the states the kiosk showed."""
    try:
        expect(page.locator(selector)).to_be_visible(timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{selector}: states {page.evaluate('window.__states')}") from exc


# A man at the kiosk who does as it asks (officer2, the webcam recordings of tests/data/faces):
# the page's camera shows him looking straight until the kiosk asks for a turn, then him turning
# that way from the recordings (to his left, the image's right: cap13_edit2; to his right:
# cap12_edit), over and over, at 12.5 frames a second; after a result, straight again. The
# camera's stream is a canvas the page draws on, as in the enrolment test below.
_PERSON = """async (clips) => {
  const pictures = {};
  for (const [name, list] of Object.entries(clips)) {
    pictures[name] = await Promise.all(list.map((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
    }));
  }
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 480;
  document.getElementById("cam").srcObject = canvas.captureStream();
  const status = document.getElementById("status");
  const turn = { challenge_left: "left", challenge_right: "right" };
  const over = ["checked_in", "already", "liveness_failed", "unknown", "mismatch"];
  let playing = "front", n = 0;
  setInterval(() => {
    const state = status.dataset.state;
    const next = turn[state] || (over.includes(state) ? "front" : playing);
    if (next !== playing) { playing = next; n = 0; }
    const list = pictures[playing];
    canvas.getContext("2d").drawImage(list[n % list.length], 0, 0, 640, 480);
    n += 1;
  }, 80);
}"""


def _nobody(tmp: Path) -> Path:
    """A camera that shows no face: the page's until the test draws on it."""
    return y4m(tmp / "nobody.y4m", [np.full((480, 640, 3), 40, np.uint8)] * 10)


def _as_he_is_asked(page: Page) -> None:
    import base64

    def b64(frames: list[np.ndarray]) -> list[str]:
        return [base64.b64encode(as_jpeg(f)).decode() for f in frames]

    page.wait_for_function("() => document.getElementById('cam').videoWidth > 0")
    clips = {
        "front": b64(clip("cap12_edit", 400, 486, every=2)),
        "left": b64(clip("cap13_edit2", 470, 540, every=2)),
        "right": b64(clip("cap12_edit", 925, 978, every=2)),
    }
    page.evaluate(_PERSON, clips)


def _state(page: Page) -> str:
    return str(page.locator("#status").get_attribute("data-state"))


@pytest.mark.parametrize("shown", ["held_still", "rolled_and_turned", "on_a_phone"])
def test_photo_held_up_fails_the_challenge(
    live: LiveStack, tmp_path: Path, kiosk_token: str, shown: str
) -> None:
    """A photo of the enrolled person held still, rolled and turned after the frontal picture,
    or on a phone's screen held straight and then rolled or turned (each way, so whichever side
    is asked is tried), checks nobody in."""
    obama = photo("obama")
    if shown == "held_still":
        frames = [obama] * 30
    elif shown == "rolled_and_turned":
        frames = [f for a in photo_attacks(obama)[:8] for f in [obama] * 5 + [a] * 5]
    else:  # rolled 30°, turned 30° and rolled 35°, turned 50°: each way
        phone = [
            pair for i, pair in enumerate(screen_attacks(obama)) if i in (4, 5, 10, 11, 14, 15)
        ]
        frames = [f for front, a in phone for f in [front] * 5 + [a] * 5]
    still = y4m(tmp_path / "still.y4m", frames)
    with browser(tmp_path / "p", fake_camera(still)) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, kiosk_token)
        expect(page.locator("#status[data-state^=challenge]")).to_be_visible(timeout=20_000)
        expect(page.locator("#status")).to_have_attribute(
            "data-state", "liveness_failed", timeout=20_000
        )
        assert "checked_in" not in page.evaluate("window.__states")
        assert "张队员" not in page.locator("#status").inner_text()


def test_enrolled_person_turns_and_is_greeted(
    live: LiveStack, tmp_path: Path, kiosk_token: str
) -> None:
    """officer2, enrolled from frames of one webcam recording, turns his head the way the kiosk
    asks (frames of the other, or of the same a minute later): he is greeted."""
    with browser(tmp_path / "p", fake_camera(_nobody(tmp_path))) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, kiosk_token)
        _as_he_is_asked(page)
        greeted = page.locator("#status[data-state=checked_in], #status[data-state=already]")
        expect(greeted).to_be_visible(timeout=40_000)
        expect(page.locator("#status")).to_contain_text("刘队员")
        page.screenshot(path=str(live.data_dir / "kiosk-greeted.png"))


def test_person_not_enrolled_is_refused(live: LiveStack, tmp_path: Path, kiosk_token: str) -> None:
    video = y4m(tmp_path / "b.y4m", [photo("biden")] * 30)
    with browser(tmp_path / "p", fake_camera(video)) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, kiosk_token)
        expect(page.locator("#status")).to_have_attribute("data-state", "unknown", timeout=20_000)


def test_card_typed_by_a_wedge_reader(live: LiveStack, tmp_path: Path, kiosk_token: str) -> None:
    blank = y4m(tmp_path / "blank.y4m", [np.full((480, 640, 3), 40, np.uint8)] * 10)
    with browser(tmp_path / "p", fake_camera(blank)) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, kiosk_token)
        page.keyboard.type("0004479002")
        page.keyboard.press("Enter")
        greeted = page.locator("#status[data-state=checked_in], #status[data-state=already]")
        expect(greeted).to_be_visible(timeout=10_000)
        expect(page.locator("#status")).to_contain_text("刘队员")
        page.keyboard.type("12345678")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_attribute("data-state", "unknown_card")


def test_revoked_kiosk_page_says_so(live: LiveStack, tmp_path: Path) -> None:
    with browser(tmp_path / "p") as ctx:
        page = ctx.new_page()
        page.goto(f"{live.url}/kiosk#token=not-a-real-token")
        expect(page.locator("#status")).to_have_attribute("data-state", "refused")
    assert httpx.get(f"{live.url}/kiosk").status_code == 200


def test_two_factor_classroom_needs_card_and_face_of_one_person(
    live: LiveStack, tmp_path: Path, kiosk_token: str
) -> None:
    add_room(live, 2, "二号教室")
    admin, manager = live.login("admin"), live.login("manager")
    assert admin.patch("/api/v1/classrooms/2", json={"two_factor": True}).status_code == 200
    assert manager.patch("/api/v1/classrooms/2", json={"two_factor": False}).status_code == 403
    open_session_now(live, 2, "双重核验课")
    a = _person_id(live, "officer1")
    assert (
        manager.post(f"/api/v1/people/{a}/cards", json={"card_no": "0004479001"}).status_code == 201
    )  # officer2's is 0004479002
    token = new_kiosk(live, 2, "door-2")
    refused = httpx.post(
        f"{live.url}/api/v1/kiosk/card",
        json={"card_no": "0004479001"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "face_required"
    with browser(tmp_path / "p", fake_camera(_nobody(tmp_path))) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, token)
        _as_he_is_asked(page)
        expect(page.locator("#status")).to_have_attribute(
            "data-state", "card_first", timeout=20_000
        )
        page.keyboard.type("0004479001")  # officer1's card, officer2's face
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_attribute("data-state", "mismatch", timeout=20_000)
        page.keyboard.type("0004479002")  # officer2's own card
        page.keyboard.press("Enter")
        acknowledged = ", ".join(
            f"#status[data-state={state}]"
            for state in ("card_ok", "challenge_left", "challenge_right", "checked_in")
        )
        _shows(page, acknowledged, 10_000)
        _shows(page, "#status[data-state=checked_in]", 40_000)
        expect(page.locator("#status")).to_contain_text("刘队员")


# The page's camera shows what the test draws: each picture on a canvas whose stream replaces the
# camera's (a canvas's stream makes a frame each time it is drawn on), and a capture only once the
# video has presented that frame.
_FEED = """async (pictures) => {
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 480;
  const video = document.getElementById("cam");
  const presented = () => new Promise((r) => video.requestVideoFrameCallback(r));
  canvas.getContext("2d").fillRect(0, 0, 640, 480);
  video.srcObject = canvas.captureStream();
  await presented();
  const bitmaps = await Promise.all(pictures.map((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
  }));
  window.__show = async (n) => {
    const shown = presented();
    canvas.getContext("2d").drawImage(bitmaps[n], 0, 0, 640, 480);
    await shown;
  };
}"""


def test_manager_enrols_from_the_browser_camera(live: LiveStack, tmp_path: Path) -> None:
    """Three looks at officer1 from the page's camera are enrolled; the same picture captured
    twice is refused, naming the frame, before anything is kept."""
    import base64

    officer = _person_id(live, "officer1")  # whose face these photos are (officer2: the webcam man)
    pictures = [
        base64.b64encode(cv2.imencode(".jpg", photo(n))[1].tobytes()).decode()
        for n in ("obama", "obama2", "obama_partial_face")
    ]
    still = y4m(tmp_path / "still.y4m", [photo("obama")] * 20)
    with browser(tmp_path / "p", fake_camera(still)) as ctx:
        page = ctx.new_page()
        page.goto(f"{live.url}/login")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", "manager-demo-pw")
        page.click("button[type=submit]")
        page.goto(f"{live.url}/people/{officer}/enrol")
        page.wait_for_function(
            "() => document.getElementById('cam').videoWidth > 0"
        )  # a function: no eval under the CSP
        page.evaluate(_FEED, pictures)
        page.click("#submit")
        expect(page.locator("#result")).not_to_be_empty()  # no consent yet: said so
        page.check("#consent")
        for n in (0, 0, 1):  # the first picture twice
            page.evaluate("(n) => window.__show(n)", n)
            page.click("#capture")
        expect(page.locator("#count")).to_have_text("3")
        page.click("#submit")
        expect(page.locator("#result[data-ok='0']")).to_contain_text("#2", timeout=20_000)
        page.reload()
        page.wait_for_function("() => document.getElementById('cam').videoWidth > 0")
        page.evaluate(_FEED, pictures)
        page.check("#consent")
        for n in (0, 1, 2):
            page.evaluate("(n) => window.__show(n)", n)
            page.click("#capture")
            expect(page.locator("#count")).to_have_text(str(n + 1))
        page.click("#submit")
        expect(page.locator("#result[data-ok='1']")).to_be_visible(timeout=20_000)
    face = live.login("manager").get(f"/api/v1/people/{officer}/face").json()
    assert face["enrolled"] and face["frames"] == 3 and face["photos_kept"] == 0


def test_socket_refuses_wrong_and_revoked_tokens(live: LiveStack, tmp_path: Path) -> None:
    """The kiosk's socket: a wrong token is closed with 4401 at once; a kiosk revoked while
    connected is closed at its next frame."""
    import asyncio

    import websockets

    args = ["device", "add", "--classroom", "1", "--name", "door-x", "--kind", "kiosk", "--json"]
    made = subprocess.run([*CLI, *args], env=live.env, capture_output=True, text=True, check=True)
    device = json.loads(made.stdout)
    url = live.url.replace("http://", "ws://") + "/api/v1/kiosk/ws"
    frame = cv2.imencode(".jpg", np.full((240, 320, 3), 60, np.uint8))[1].tobytes()

    async def talk() -> tuple[int | None, int | None]:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"token": "wrong"}))
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            wrong = ws.close_code
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"token": device["token"]}))
            assert json.loads(await ws.recv())["state"] == "ready"
            await ws.send(frame)
            assert json.loads(await ws.recv())["state"] == "idle"  # no face: still talking
            revoke = [*CLI, "device", "revoke", str(device["id"])]
            await asyncio.to_thread(subprocess.run, revoke, env=live.env, check=True)
            await ws.send(frame)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
            return wrong, ws.close_code

    wrong, revoked = asyncio.run(talk())
    assert wrong == 4401 and revoked == 4401


def test_card_taps_are_kept_while_the_portal_is_unreachable(
    live: LiveStack, tmp_path: Path
) -> None:
    """The network cut, three cards tapped: each kept in the browser and said so; the network
    back, all three delivered once, checked in at the times they were tapped."""
    add_room(live, 6, "六号教室")
    token = new_kiosk(live, 6, "offline-door")
    open_session_now(live, 6, "断网签到课")
    manager = live.login("manager")
    cards = {"officer1": "0006600001", "officer3": "0006600003", "trainer": "0006600009"}
    for username, card_no in cards.items():
        r = manager.post(
            f"/api/v1/people/{_person_id(live, username)}/cards", json={"card_no": card_no}
        )
        assert r.status_code == 201, r.text
    blank = y4m(tmp_path / "blank.y4m", [np.full((480, 640, 3), 40, np.uint8)] * 10)
    with browser(tmp_path / "p", fake_camera(blank)) as ctx:
        page = ctx.new_page()
        _kiosk(page, live, token)
        ctx.set_offline(True)
        tapped = datetime.now(UTC)
        for card_no in cards.values():
            page.keyboard.type(card_no)
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_have_attribute("data-state", "saved_offline")
        expect(page.locator("#pending")).to_have_text("待提交 3 条")
        last_tap = datetime.now(UTC)
        page.wait_for_timeout(6_000)  # a flush or two try, and fail, meanwhile
        restored = datetime.now(UTC)
        ctx.set_offline(False)
        expect(page.locator("#pending")).to_have_text("", timeout=20_000)
        stored = page.evaluate("localStorage.getItem('kioskOutbox')")
        assert stored == "[]"
    trainer = live.login("trainer")
    sessions = trainer.get("/api/v1/sessions", params={"classroom_id": 6}).json()
    session_id = next(s["id"] for s in sessions if s["title"] == "断网签到课")
    rows = manager.get(f"/api/v1/sessions/{session_id}/attendance").json()
    assert sorted(r["person_id"] for r in rows) == sorted(_person_id(live, u) for u in cards)
    for r in rows:  # when tapped, not when delivered
        at = datetime.fromisoformat(r["check_in"])
        assert tapped - timedelta(seconds=1) <= at <= last_tap < restored, r


def test_a_kiosk_without_a_camera_says_so_and_takes_cards(
    live: LiveStack, tmp_path: Path, kiosk_token: str
) -> None:
    """No camera: a message that stays (the statuses that follow do not wipe it), the empty
    picture hidden, cards asked for instead; the room's name readable on the kiosk's screen
    (axe-core: no serious contrast or other violation)."""
    with browser(tmp_path / "p") as ctx:  # no fake camera: getUserMedia finds none
        page = ctx.new_page()
        page.goto(f"{live.url}/kiosk#token={kiosk_token}")
        missing = page.locator("#camera-missing")
        expect(missing).to_have_text("未找到摄像头：人脸签到暂不可用，请联系管理员")
        expect(page.locator("#status")).to_have_attribute("data-state", "card_only")
        expect(page.locator("video#cam")).to_be_hidden()
        expect(page.locator("#room")).to_have_text("三号教室")
        page.keyboard.type("99999999")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_attribute("data-state", "unknown_card")
        expect(missing).to_be_visible()
        serious = [
            v["id"]
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == []
