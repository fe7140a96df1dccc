"""Courseware uploads from the session page in headless Chromium: in chunks with progress, going
on where they stopped after a network cut or a reload, and a file the course has recognised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Route, expect

from tests.browser import browser, until
from tests.live_stack import LiveStack
from tests.test_browser import log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHUNK = 4 * 1024 * 1024


def _pdf(path: Path, mib: int) -> Path:
    """A PDF of ``mib`` MiB (random filler, so that no two are the same file)."""
    path.write_bytes(b"%PDF-1.4\n%" + os.urandom(mib * 1024 * 1024) + b"\n%%EOF\n")
    return path


def test_uploads_resume_after_a_cut_and_a_reload(live: LiveStack, tmp_path: Path) -> None:
    sid = live.world.session_id
    first, second = _pdf(tmp_path / "讲义甲.pdf", 9), _pdf(tmp_path / "讲义乙.pdf", 9)
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "trainer", "trainer-demo-pw")
        page.goto(f"{live.url}/sessions/{sid}")

        # The network drops the second chunk: the page waits, asks, and goes on.
        cut = {"done": False}

        def drop_once(route: Route) -> None:
            later_chunk = route.request.method == "PUT" and "offset=0" not in route.request.url
            if later_chunk and not cut["done"]:
                cut["done"] = True
                route.abort()
                return
            route.continue_()

        page.route("**/api/v1/uploads/**", drop_once)
        page.set_input_files("#courseware-form input[type=file]", str(first))
        page.click("#upload-courseware")
        expect(page.locator("#courseware-form .upload-progress progress")).to_be_visible()
        page.wait_for_load_state("load")
        expect(page.locator("#courseware-list")).to_contain_text("讲义甲.pdf", timeout=60_000)
        assert cut["done"]
        page.unroute("**/api/v1/uploads/**")

        # The same bytes again: recognised, said beside the file field.
        page.set_input_files("#courseware-form input[type=file]", str(first))
        page.click("#upload-courseware")
        expect(page.locator("#courseware-form .field-error")).to_contain_text(
            "本课程已有同一文件：讲义甲.pdf", timeout=60_000
        )
        expect(page.locator("#courseware-list li", has_text="讲义甲.pdf")).to_have_count(1)

        # Cut off for good after the first chunk; the page is closed and opened again.
        def stall(route: Route) -> None:
            if route.request.method == "PUT" and "offset=0" not in route.request.url:
                route.abort()
            else:
                route.continue_()

        page.route("**/api/v1/uploads/**", stall)
        page.set_input_files("#courseware-form input[type=file]", str(second))
        page.click("#upload-courseware")
        expect(page.locator("#courseware-form .upload-progress")).to_contain_text(
            "连不上服务器", timeout=30_000
        )
        page.unroute("**/api/v1/uploads/**")
        page.goto(f"{live.url}/sessions/{sid}")
        offsets: list[str] = []
        page.on(
            "request",
            lambda r: (
                offsets.append(r.url.rsplit("offset=", 1)[1])
                if r.method == "PUT" and "offset=" in r.url
                else None
            ),
        )
        page.set_input_files("#courseware-form input[type=file]", str(second))
        page.click("#upload-courseware")
        expect(page.locator("#courseware-list")).to_contain_text("讲义乙.pdf", timeout=60_000)
        until(lambda: bool(offsets), 5, "a chunk sent")
        assert offsets[0] == str(CHUNK), offsets  # went on from what had arrived
        assert (live.data_dir / "uploads").is_dir()
        assert not list((live.data_dir / "uploads").glob("*.part"))
