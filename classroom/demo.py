"""`classroom demo`: the portal and one simulated classroom on embedded defaults.

Order matters on the way up (database, object store, portal, then the agent that needs them) and
on the way down (the agent first, so an open recording is closed and uploaded; then the portal;
the object store last).
"""

from __future__ import annotations

import asyncio
import sys

import structlog

from classroom.agent.launch import build_agent, run_until_stopped
from classroom.db.engine import session_factory
from classroom.lifecycle import stop_event_on_signals
from classroom.runtime import open_database
from classroom.seed import DEMO_LOGINS, seed_demo
from classroom.server import portal_server, wait_until_started
from classroom.settings import Settings

log = structlog.get_logger(__name__)


def _banner(settings: Settings, session_id: int) -> str:
    url = f"http://{settings.web.host}:{settings.web.port}"
    lines = [
        "",
        "Smart Classroom demo is running.",
        f"  Portal:      {url}/",
        f"  Session:     {url}/sessions/{session_id}",
        f"  API docs:    {url}/api/v1/docs",
        "  Logins (username / password):",
    ]
    lines += [
        f"    {u:<9} {pw:<16} {', '.join(r.value for r in roles)}"
        for u, (_, pw, roles) in DEMO_LOGINS.items()
    ]
    lines += ["  Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


async def run_demo(settings: Settings) -> None:
    stop = stop_event_on_signals()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_database(settings) as engine, session_factory(engine)() as db:
        world = await seed_demo(db)
    server = portal_server(settings)
    server_task = asyncio.create_task(server.serve())
    try:
        await wait_until_started(server, server_task)
        portal_url = f"http://{settings.web.host}:{settings.web.port}"
        agent = await build_agent(settings, world.classroom_id, portal_url, world.agent_token)
        print(_banner(settings, world.session_id), file=sys.stderr, flush=True)
        await run_until_stopped(agent, stop)
    finally:
        server.should_exit = True
        await server_task
        log.info("demo.stopped")
