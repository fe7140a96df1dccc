"""Headless Debian Chromium under Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def until(check: Callable[[], object], within_s: float, what: str) -> None:
    """Poll ``check`` (Playwright's sync API holds the event loop: no asyncio here)."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian chromium is not installed: make test-services installs it")
    return path


def fake_camera(y4m: Path) -> list[str]:
    """Chromium's fake webcam, fed from a .y4m file (looped), allowed without a prompt."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


@contextmanager
def browser(profile: Path, extra_args: list[str] | None = None) -> Iterator[BrowserContext]:
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path(),
            headless=True,
            args=ARGS + (extra_args or []),
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield ctx
        finally:
            ctx.close()
