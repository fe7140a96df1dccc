"""Run the portal under uvicorn, with signals left to the caller so shutdown happens in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Callable, Generator

import uvicorn

from classroom.settings import Settings

# Named, not imported: the web layer sits above this package.
APP_FACTORY = "web.app:create_app"

# What must end before uvicorn waits out open requests: long polls would hold the shutdown
# until its timeout and then be cancelled mid-request. The app registers here while it runs.
_ON_STOP: list[Callable[[], None]] = []


@contextlib.contextmanager
def on_portal_stop(hook: Callable[[], None]) -> Generator[None, None, None]:
    _ON_STOP.append(hook)
    try:
        yield
    finally:
        _ON_STOP.remove(hook)


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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for hook in list(_ON_STOP):
            hook()
        await super().shutdown(sockets)

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
