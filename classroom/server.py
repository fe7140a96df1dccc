"""Run the portal under uvicorn, with signals left to the caller so shutdown happens in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Generator

import uvicorn

from classroom.settings import Settings

# Named, not imported: the web layer sits above this package.
APP_FACTORY = "web.app:create_app"


class PortalServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:  # uvicorn's way to end a failed start-up, said on stderr already:
            self.should_exit = True  # the caller sees `started` False and exits as it must
            return
        # Everything loaded so far (the app, its routes and models, the libraries) lives as long
        # as the process: out of the collector's way, so that its full passes under load scan
        # only what requests make (the kiosk benchmark's p99 waited on them).
        gc.collect()
        gc.freeze()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process's own handlers decide when the portal stops (after the agent, before the
        # object store), so uvicorn must not take SIGINT/SIGTERM for itself.
        yield


def portal_server(settings: Settings) -> PortalServer:
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.web.host,
        port=settings.web.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.web.trusted_proxies,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return PortalServer(config)


async def wait_until_started(server: PortalServer, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the portal stopped during start-up")
        await asyncio.sleep(0.05)
