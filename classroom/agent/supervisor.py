"""The agent's loops, each run for the agent's whole life (Frigate's watchdog shape: register a
name and a factory). One that fails is logged, alerted (``loop_<name>``) and started again after
a back-off — 1 s doubling to 30 s, back to 1 s after a minute without a failure — so a passing
fault (the disk full when the schedule, the status or a report is written) cannot end it for good
and leave the agent deaf to its schedule or its commands, or silent, until someone restarts it.
A token refused (revoked, rotated) is such a fault too: the agent records on from its schedule and
keeps what it has for the portal, as its reports do, until an administrator sets it right."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.health import Health

log = structlog.get_logger(__name__)

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
HEALTHY_S = 60.0  # running this long without a failure: the alert clears, the back-off resets

Loop = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(self, health: Health) -> None:
        self.health = health
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, name: str, loop: Loop) -> None:
        """Start ``loop`` under supervision, beside the others."""
        task = asyncio.create_task(self.supervise(name, loop), name=f"agent {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def supervise(self, name: str, loop: Loop) -> None:
        """Run ``loop`` until it ends by itself (its work done), restarting it when it fails."""
        alert, delay = f"loop_{name}", RETRY_FIRST_S
        all_clear: asyncio.TimerHandle | None = None
        while True:
            began = time.monotonic()
            try:
                await loop()
                if all_clear is not None:
                    all_clear.cancel()
                self.health.clear(alert)  # ended by itself, its work done: nothing to alert
                return
            except Exception as exc:
                if all_clear is not None:
                    all_clear.cancel()
                if time.monotonic() - began > HEALTHY_S:
                    delay = RETRY_FIRST_S
                log.exception("agent.loop_failed", loop=name, retry_s=delay)
                self.health.raise_alert(alert, f"{name} loop failed, restarted: {exc!r}"[:300])
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            # The alert stays until the loop has run a while again without failing.
            all_clear = asyncio.get_running_loop().call_later(HEALTHY_S, self.health.clear, alert)

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
