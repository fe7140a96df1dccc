"""An officer watching a recording in headless Chromium: the player reports what it really
played — a seek skips the gap, a hidden page counts nothing, and a second tab takes over."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from classroom.db.models import Courseware, Recording, Session, WatchProgress
from classroom.recordings import object_prefix
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
        # Reported every 5 s; a loaded machine may take a while to start playing.
        until(lambda: _watched(page) >= 3, 60, "three seconds watched")
        # A seek to 25 s: the stretch before it ends where playback was; 25 s on counts anew.
        page.evaluate("document.querySelector('#player').currentTime = 25")
        until(
            lambda: any(a >= 24.5 and b > a for a, b in _intervals(live, rec)), 60, "after the seek"
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


def _two_track_recording(live: LiveStack, tmp: Path) -> int:
    """A 30-second recording with a slides track, chapters at 0, 10 and 20 s, and a named
    courseware file in its course."""
    camera, screen = clip(tmp / "camera.mp4", 30), clip(tmp / "screen.mp4", 30, "640x360", 5)
    thumb = tmp / "thumb.jpg"
    Image.new("RGB", (160, 90), (40, 90, 160)).save(thumb, "JPEG")
    handout = tmp / "handout.pdf"
    handout.write_bytes(b"%PDF-1.4\n%%EOF\n")
    run = time.time_ns()

    async def add(db):  # type: ignore[no-untyped-def]
        demo = await db.get(Session, live.world.session_id)
        rec_id = await past_recording(
            db,
            course_id=demo.course_id,
            classroom_id=demo.classroom_id,
            trainer_id=demo.trainer_id,
            kind=demo.kind,
            title="回放：现场执法",
            hours=1,
            duration_s=30.0,
            object_key=f"watch-test/{run}/camera.mp4",
            size_bytes=camera.stat().st_size,
            sha256=sha256_file(camera),
        )
        rec = await db.get(Recording, rec_id)
        prefix = object_prefix(rec)
        tracks: dict[str, dict[str, object]] = {}
        for name, key, path, kind in (
            ("screen", f"{prefix}screen.mp4", screen, "video/mp4"),
            ("chapters", f"{prefix}chapters.json", None, "application/json"),
        ):
            if path is None:
                listing = json.dumps([{"start_s": s} for s in (0.0, 10.0, 20.0)]).encode()
                info = live.store.put_bytes(key, listing, kind)
            else:
                info = live.store.put_file(key, path, kind)
            tracks[name] = {"object_key": key, "size_bytes": info.size, "sha256": info.sha256}
        for i in range(3):
            live.store.put_file(f"{prefix}chapters/{i:03d}.jpg", thumb, "image/jpeg")
        rec.tracks = tracks
        live.store.put_file(f"watch-test/{run}/handout.pdf", handout, "application/pdf")
        db.add(
            Courseware(
                course_id=demo.course_id,
                kind="pdf",
                content_type="application/pdf",
                original_name="现场执法讲义.pdf",
                object_key=f"watch-test/{run}/handout.pdf",
                size_bytes=handout.stat().st_size,
                sha256=sha256_file(handout),
                uploaded_by_id=demo.trainer_id,
            )
        )
        return rec_id

    live.store.put_file(f"watch-test/{run}/camera.mp4", camera, "video/mp4")
    return int(live.db(add))


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def test_camera_and_slides_play_side_by_side_on_one_clock(live: LiveStack, tmp_path: Path) -> None:
    rec = _two_track_recording(live, tmp_path)
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        log_in(page, live, "officer1", "officer-demo-pw")
        page.goto(f"{live.url}/recordings/{rec}")
        # Side by side: two pictures on one row, the camera's with the sound and the controls.
        expect(page.locator("#slides")).to_be_visible()
        until(lambda: _box(page, "#slides")["height"] > 50, 20, "the slides loaded")
        cam, slides = _box(page, "#player"), _box(page, "#slides")
        assert abs(cam["y"] - slides["y"]) < 2 and slides["x"] > cam["x"] + cam["width"] - 1
        assert page.evaluate("document.querySelector('#slides').muted")
        assert not page.evaluate("document.querySelector('#player').muted")
        pressed = page.locator("button.layout[aria-pressed=true]")
        expect(pressed).to_have_count(1)
        expect(pressed).to_have_attribute("data-layout", "both")
        colour = "(b) => getComputedStyle(b).backgroundColor"
        assert pressed.evaluate(colour) != page.locator(
            "button.layout[data-layout=camera]"
        ).evaluate(colour)  # the chosen one looks chosen
        # Playing and seeking the camera carries the slides along.
        _play(page)
        until(
            lambda: not page.evaluate("document.querySelector('#slides').paused"), 10, "slides play"
        )
        page.evaluate("document.querySelector('#player').currentTime = 21")
        until(
            lambda: (
                abs(
                    page.evaluate(
                        "document.querySelector('#slides').currentTime"
                        " - document.querySelector('#player').currentTime"
                    )
                )
                < 0.5
            ),
            10,
            "the slides at the camera's time",
        )
        # Chapters: one strip, the one playing marked.
        chapters = page.locator("#chapters button.chapter")
        expect(chapters).to_have_count(3)
        assert _box(page, "#chapters")["height"] < 200
        expect(page.locator("#chapters button[aria-current=true]")).to_contain_text("0:20")
        # Slides large: the slides take the larger part; camera only hides them and pauses them.
        page.locator("button.layout[data-layout=slides]").click()
        expect(page.locator("button.layout[data-layout=slides]")).to_have_attribute(
            "aria-pressed", "true"
        )
        assert _box(page, "#slides")["width"] > 2 * _box(page, "#player")["width"]
        page.locator("button.layout[data-layout=camera]").click()
        expect(page.locator("#slides")).to_be_hidden()
        until(lambda: page.evaluate("document.querySelector('#slides').paused"), 10, "paused")
        # The course's files are named beside the player.
        expect(page.locator(".courseware-beside a", has_text="现场执法讲义.pdf")).to_be_visible()
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("button.layout[data-layout=both]").click()
        cam, slides = _box(page, "#player"), _box(page, "#slides")
        assert slides["y"] >= cam["y"] + cam["height"] - 1 and slides["width"] <= 390
        page.screenshot(path=str(live.data_dir / "two-tracks.png"), full_page=True)


def test_the_library_shows_pictures_and_finds_by_title(live: LiveStack, tmp_path: Path) -> None:
    rec = _recording(live, tmp_path)
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "officer1", "officer-demo-pw")
        page.goto(f"{live.url}/recordings")
        row = page.locator(f"tr[data-recording='{rec}']")
        expect(row).to_contain_text("回放：依法行政")
        expect(row.locator("td.mark")).to_contain_text("待观看")
        picture = row.locator("td.thumb img")
        until(lambda: picture.evaluate("(i) => i.complete && i.naturalWidth") == 256, 30, "picture")
        page.fill("input[name=q]", "依法行政")
        page.locator("#library-filters button[type=submit]").click()
        page.wait_for_url("**/recordings?q=*")
        titles = page.locator("#recording-rows tbody tr td:nth-child(2)").all_inner_texts()
        assert titles and all("依法行政" in t for t in titles)
        expect(page.locator("input[name=q]")).to_have_value("依法行政")
        page.set_viewport_size({"width": 390, "height": 844})
        until(
            lambda: page.evaluate("document.documentElement.scrollWidth") <= 390, 5, "fits 390 px"
        )
        page.screenshot(path=str(live.data_dir / "library.png"), full_page=True)
