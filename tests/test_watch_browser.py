"""An officer watching a recording in headless Chromium: the player reports what it really
played — a seek skips the gap, a hidden page counts nothing, and a second tab takes over."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from classroom.db.models import Session, WatchProgress
from storage.object_store import sha256_file
from tests.browser import browser, until
from tests.live_stack import LiveStack
from tests.recording_helpers import clip, past_recording
from tests.test_browser import log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _recording(live: LiveStack, tmp: Path) -> int:
    """A 40-second recording in the store, of a past session of the demo course."""
    mp4 = clip(tmp / "lecture.mp4", 40)
    key = f"watch-test/{time.time_ns()}.mp4"
    live.store.put_file(key, mp4, "video/mp4")

    async def add(db):  # type: ignore[no-untyped-def]
        demo = await db.get(Session, live.world.session_id)
        return await past_recording(
            db,
            course_id=demo.course_id,
            classroom_id=demo.classroom_id,
            trainer_id=demo.trainer_id,
            kind=demo.kind,
            title="回放：依法行政",
            hours=1,
            duration_s=40.0,
            object_key=key,
            size_bytes=mp4.stat().st_size,
            sha256=sha256_file(mp4),
        )

    return int(live.db(add))


def _intervals(live: LiveStack, rec: int) -> list[list[float]]:
    async def read(db):  # type: ignore[no-untyped-def]
        row = await db.scalar(select(WatchProgress).where(WatchProgress.recording_id == rec))
        return row.intervals if row else []

    intervals: list[list[float]] = live.db(read)
    return intervals


def _watched(page: Page) -> float:
    return float(page.locator("#watch").get_attribute("data-watched") or 0)


def _play(page: Page) -> None:
    page.evaluate(
        "(() => { const v = document.querySelector('#player'); v.muted = true; v.play(); })()"
    )


def test_the_player_reports_what_was_really_played(live: LiveStack, tmp_path: Path) -> None:
    rec = _recording(live, tmp_path)
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "officer1", "officer-demo-pw")
        page.goto(f"{live.url}/recordings/{rec}")
        expect(page.locator("#watch")).to_contain_text("需观看 0:36")  # 90% of 40 s
        _play(page)
        until(lambda: _watched(page) >= 3, 20, "three seconds watched")
        # A seek to 25 s: the stretch before it ends where playback was; 25 s on counts anew.
        page.evaluate("document.querySelector('#player').currentTime = 25")
        until(
            lambda: any(a >= 24.5 and b > a for a, b in _intervals(live, rec)), 20, "after the seek"
        )
        spans = _intervals(live, rec)
        assert spans[0][0] < 1 and 2.5 < spans[0][1] < 12 and len(spans) == 2, spans
        assert sum(b - a for a, b in spans) < 20  # the skipped stretch is not in it
        # The page goes to the background: playing on counts nothing.
        hidden_pos = page.evaluate(
            "(() => { for (const [k, v] of [['hidden', true], ['visibilityState', 'hidden']])"
            " Object.defineProperty(document, k, {configurable: true, get: () => v});"
            " document.dispatchEvent(new Event('visibilitychange'));"
            " return document.querySelector('#player').currentTime; })()"
        )
        expect(page.locator("#watch")).to_contain_text("后台")
        # What played up to the moment it was hidden still counts.
        until(
            lambda: max(b for _, b in _intervals(live, rec)) >= hidden_pos - 0.25,
            10,
            "the stretch played before hiding",
        )
        hidden_at = sum(b - a for a, b in _intervals(live, rec))
        time.sleep(3.5)
        assert not page.evaluate("document.querySelector('#player').paused")
        assert sum(b - a for a, b in _intervals(live, rec)) == pytest.approx(hidden_at, abs=0.6)
        # A second tab of the same officer takes over; the first stops and says why.
        other = ctx.new_page()
        other.goto(f"{live.url}/recordings/{rec}")
        expect(other.locator("#watch")).to_contain_text("已观看")
        page.evaluate(
            "(() => { for (const k of ['hidden', 'visibilityState']) delete document[k];"
            " document.dispatchEvent(new Event('visibilitychange')); })()"
        )
        expect(page.locator("#watch")).to_contain_text("另一个窗口", timeout=10_000)
        assert page.evaluate("document.querySelector('#player').paused")
        page.screenshot(path=str(live.data_dir / "watch.png"))
