"""Officers watching a session live in headless Chromium, against `classroom serve` and
`classroom agent` with the synthetic camera: WebRTC through the portal's WHEP endpoint decodes
H.264 frames in the page; a second and third viewer join without the agent starting another
encoder; a browser whose WebRTC cannot connect plays the same encode over HLS (hls.js)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from storage.seaweed import S3Connection
from tests.browser import browser, until
from tests.live_helpers import ffmpeg_processes
from tests.live_stack import LiveStack, build_stack
from tests.test_browser import log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Real addresses in the offer instead of mDNS names: the agent answers without resolving them.
WEBRTC = ["--disable-features=WebRtcHideLocalIpsWithMdns"]
# Both sides' ICE candidates pointed at the discard port: what a firewall that drops the media's
# UDP does to WebRTC (signalling works, no packet gets through either way).
CANDIDATE_PORT = re.compile(r"(a=candidate:\S+ \d+ udp \d+ \S+ )\d+", re.IGNORECASE)


def _udp_blocked(route: Route) -> None:
    offer = CANDIDATE_PORT.sub(r"\g<1>9", route.request.post_data or "")
    answer = route.fetch(post_data=offer)
    route.fulfill(response=answer, body=CANDIDATE_PORT.sub(r"\g<1>9", answer.text()))


VIDEO_STATS = """async () => {
  const peer = window.livePeer;
  if (!peer) return null;
  const stats = await peer.getStats();
  for (const r of stats.values()) {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      const codec = stats.get(r.codecId);
      return {frames: r.framesDecoded || 0, codec: codec ? codec.mimeType : "",
              width: r.frameWidth || 0};
    }
  }
  return {frames: 0, codec: "", width: 0};
}"""

PLAYING = """() => { const v = document.querySelector('#live');
  return {time: v.currentTime, paused: v.paused, ready: v.readyState, width: v.videoWidth}; }"""


def _mode(page: Page) -> str:
    return page.locator("#live-mode").get_attribute("data-mode") or ""


def _frames(page: Page) -> int:
    stats = page.evaluate(VIDEO_STATS)
    return int(stats["frames"]) if stats else 0


def _watch_webrtc(page: Page, live: LiveStack) -> None:
    page.goto(f"{live.url}/sessions/{live.world.session_id}/live")
    until(lambda: _mode(page) == "webrtc", 30, f"WebRTC (mode: {_mode(page)})")
    until(lambda: _frames(page) >= 30, 30, "30 frames decoded")


@contextmanager
def _recording_live(live: LiveStack) -> Iterator[httpx.Client]:
    """The demo session recording, and live, for the block; the trainer's client."""
    trainer = live.login("trainer")
    sid = live.world.session_id
    r = trainer.post(f"/api/v1/sessions/{sid}/recording/start")
    assert r.status_code == 202, r.text
    until(lambda: trainer.get(f"/api/v1/sessions/{sid}/live").json()["live"], 30, "live")
    assert live.agent is not None
    try:
        yield trainer
    finally:
        if trainer.get(f"/api/v1/sessions/{sid}/live").json()["live"]:
            assert trainer.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202


def test_viewers_watch_live_over_webrtc_and_fall_back_to_hls(
    live: LiveStack, tmp_path: Path
) -> None:
    sid = live.world.session_id
    assert live.agent is not None
    with _recording_live(live) as trainer:
        with browser(tmp_path / "profile", WEBRTC) as ctx:
            page = ctx.new_page()
            log_in(page, live, "officer1", "officer-demo-pw")
            page.goto(f"{live.url}/sessions/{sid}")
            page.click("#watch-live")
            until(lambda: _mode(page) == "webrtc", 30, f"WebRTC (mode: {_mode(page)})")
            assert "WebRTC" in page.locator("#live-mode").inner_text()
            until(lambda: _frames(page) >= 30, 30, "30 frames decoded")
            # It starts muted, as browsers require, and offers the sound in one press.
            unmute = page.locator("#unmute")
            expect(unmute).to_be_visible()
            unmute.click()
            expect(unmute).to_be_hidden()
            assert page.evaluate("document.querySelector('#live').muted") is False
            stats = page.evaluate(VIDEO_STATS)
            assert stats["codec"] == "video/H264" and stats["width"] == 640, stats
            before = stats["frames"]
            until(lambda: _frames(page) >= before + 30, 15, "frames still coming")
            playing = page.evaluate(PLAYING)
            assert playing["ready"] >= 2 and not playing["paused"] and playing["width"] == 640
            encoders = ffmpeg_processes(live.agent.pid)
            assert encoders == 1, encoders  # the recorder's one ffmpeg (the screen is off)

            # A second and a third viewer: relayed, not encoded again.
            others = [ctx.new_page(), ctx.new_page()]
            for other in others:
                _watch_webrtc(other, live)
            assert ffmpeg_processes(live.agent.pid) == encoders
            assert trainer.get(f"/api/v1/sessions/{sid}/live").json()["viewers"] == 3
            seen = [_frames(p) for p in (page, *others)]
            until(
                lambda: all(
                    _frames(p) >= n + 30 for p, n in zip((page, *others), seen, strict=True)
                ),
                20,
                "every viewer's frames",
            )
            page.screenshot(path=str(live.data_dir / "live-webrtc.png"))
            # Viewers who leave end their WHEP resources (DELETE as the page goes).
            for other in others:
                other.close()
            until(
                lambda: trainer.get(f"/api/v1/sessions/{sid}/live").json()["viewers"] == 1,
                10,
                "the leaving viewers' resources ended",
            )

        with browser(tmp_path / "blocked", WEBRTC) as ctx:
            page = ctx.new_page()
            page.route("**/live/whep", _udp_blocked)
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            log_in(page, live, "officer2", "officer-demo-pw")
            page.goto(f"{live.url}/sessions/{sid}/live")
            try:
                until(lambda: _mode(page) == "hls", 40, "the HLS fall-back")
            except AssertionError:
                raise AssertionError(f"{_mode(page)}: {console}") from None
            assert "HLS" in page.locator("#live-mode").inner_text()
            assert page.evaluate("!!window.liveHls")  # hls.js, served by the portal
            until(lambda: page.evaluate(PLAYING)["time"] > 1, 40, "HLS playing")
            at = page.evaluate(PLAYING)["time"]
            until(lambda: page.evaluate(PLAYING)["time"] > at + 2, 20, "HLS playing on")
            assert page.evaluate(PLAYING)["width"] == 640
            page.screenshot(path=str(live.data_dir / "live-hls.png"))
            # The sessions list marks the session live, linking to this page.
            listing = ctx.new_page()
            listing.goto(f"{live.url}/sessions")
            expect(listing.locator(f"a[data-live='{sid}']")).to_have_attribute(
                "href", f"/sessions/{sid}/live"
            )
            # Stopped: the page lets the picture go and says the stream ended (the page asks
            # every 2 s; the bound is wide so that a busy machine does not fail it).
            assert trainer.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202
            until(lambda: _mode(page) == "ended", 12, f"ended (mode: {_mode(page)})")
            expect(page.locator("#live-badge")).to_be_hidden()
            assert page.evaluate("document.querySelector('#live').readyState") == 0
            listing.goto(f"{live.url}/sessions")
            expect(listing.locator(f"a[data-live='{sid}']")).to_have_count(0)


@pytest.fixture(scope="module")
def live_with_screen(
    tmp_path_factory: pytest.TempPathFactory, s3: S3Connection
) -> Iterator[LiveStack]:
    """A classroom with a screen track (slides): its own portal and agent."""
    screen = {
        "CLASSROOM_MEDIA__SCREEN": "synthetic",
        "CLASSROOM_MEDIA__SCREEN_SIZE": "320x180",
        "CLASSROOM_MEDIA__SCREEN_FPS": "5",
    }
    stack = build_stack(
        tmp_path_factory.mktemp("live-screen"), s3, f"screen-{secrets.token_hex(4)}", screen
    )
    with stack.running():
        yield stack


SLIDES = """() => { const v = document.querySelector('#live-screen');
  return {hidden: v.hidden, width: v.videoWidth, time: v.currentTime}; }"""


def test_the_slides_play_beside_the_camera(live_with_screen: LiveStack, tmp_path: Path) -> None:
    live = live_with_screen
    assert live.agent is not None
    with _recording_live(live), browser(tmp_path / "profile", WEBRTC) as ctx:
        page = ctx.new_page()
        log_in(page, live, "officer1", "officer-demo-pw")
        _watch_webrtc(page, live)
        until(lambda: not page.evaluate(SLIDES)["hidden"], 20, "the slides shown")
        until(lambda: page.evaluate(SLIDES)["width"] == 320, 20, "the slides decoded")
        at = page.evaluate(SLIDES)["time"]
        until(lambda: page.evaluate(SLIDES)["time"] > at + 1, 20, "the slides playing on")
        assert page.evaluate(PLAYING)["width"] == 640  # the camera, beside them
        assert ffmpeg_processes(live.agent.pid) == 2  # the camera's and the screen's
        page.screenshot(path=str(live.data_dir / "live-slides.png"))
