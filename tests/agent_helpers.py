"""An agent in this process, talking to an in-process portal, with real ffmpeg and S3."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.launch import build_agent
from classroom.agent.runner import Agent
from storage.seaweed import S3Connection
from tests.api_helpers import Portal
from tests.conftest import make_settings

FAST_MEDIA = {"video_size": "320x240", "x264_preset": "ultrafast", "segment_seconds": 1}
FAST_AGENT = {"poll_wait_s": 1, "preroll_s": 0, "postroll_s": 1, "schedule_refresh_s": 1}


@asynccontextmanager
async def running_agent(
    portal: Portal,
    s3: S3Connection,
    bucket: str,
    data_dir: Path,
    media: dict[str, Any] | None = None,
    agent: dict[str, Any] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    embedded_store: bool = False,
    live: dict[str, Any] | None = None,
) -> AsyncIterator[Agent]:
    """``embedded_store``: no store configured; the agent finds the one a portal on this machine
    runs, by ``data_dir/s3/connection.json`` (``s3`` is then not used)."""
    settings = make_settings(
        data_dir,
        s3,
        bucket,
        media={**FAST_MEDIA, **(media or {})},
        agent={**FAST_AGENT, **(agent or {})},
        live=live or {},
    )
    if embedded_store:
        settings.storage.endpoint = settings.storage.access_key = settings.storage.secret_key = ""
    a = await build_agent(
        settings,
        portal.world.classroom_id,
        "http://testserver",
        portal.world.agent_token,
        transport=transport or portal.transport,
    )
    runner = asyncio.create_task(a.run())
    try:
        yield a
    finally:
        # Bounded, so a shutdown that hangs fails here with where it hung.
        async with asyncio.timeout(120):
            await cancel_and_wait(runner)
            await a.shutdown()
            await a.portal.aclose()


async def until(check: Callable[[], object], within_s: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


class Cuttable(httpx.AsyncBaseTransport):
    """The network between agent and portal, with faults on demand: ``down`` (nothing gets
    through) or ``lose_answers`` (the portal acts, the answer is lost: the agent must retry)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.lose_answers = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("portal unreachable (cut)", request=request)
        response = await self.inner.handle_async_request(request)
        if self.lose_answers and request.url.path.endswith("/agent/checkin"):
            self.lose_answers -= 1
            raise httpx.ReadError("answer lost (cut)", request=request)
        return response
