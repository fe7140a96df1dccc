"""WHEP signalling between a viewer's browser and the classroom's agent, through the portal.

The agent sits behind the classroom's NAT with no open port, as for commands: it long-polls the
portal for viewers' requests (an SDP offer to answer, a resource to close) and posts each answer
back. The broker holds those requests in memory while a viewer's request waits for its answer —
they live for seconds, and a restarted portal loses nothing a viewer cannot simply ask again.
One portal process holds the broker: the agent and the viewers must reach the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from classroom.protocol.live import LiveRequest


class AgentSilent(RuntimeError):
    """The classroom's agent did not take or answer the request in time."""


@dataclass(frozen=True)
class Viewer:
    """A WHEP resource: whose it is and where it plays, so only its owner (or staff) ends it."""

    resource: str
    classroom_id: int
    session_id: int
    recording_id: int
    person_id: int
    since: float = field(default_factory=time.monotonic)


class LiveBroker:
    def __init__(self) -> None:
        self._queued: dict[int, list[LiveRequest]] = {}
        self._wake: dict[int, asyncio.Event] = {}
        self._waiting: dict[str, tuple[int, asyncio.Future[dict[str, Any]]]] = {}
        self.viewers: dict[str, Viewer] = {}
        self.closed = False

    def close(self) -> None:
        """The portal is stopping: the agents' long polls answer now (see CommandSignal)."""
        self.closed = True
        for event in self._wake.values():
            event.set()

    def _event(self, classroom_id: int) -> asyncio.Event:
        return self._wake.setdefault(classroom_id, asyncio.Event())

    async def ask(
        self, classroom_id: int, request: LiveRequest, timeout_s: float
    ) -> dict[str, Any]:
        """Queue ``request`` for the classroom's agent and wait for its answer."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = (classroom_id, future)
        self._queued.setdefault(classroom_id, []).append(request)
        self._event(classroom_id).set()
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise AgentSilent("the classroom's agent did not answer in time") from None
        finally:
            self._waiting.pop(request.id, None)
            queue = self._queued.get(classroom_id, [])
            if request in queue:  # never taken: the agent must not answer it later
                queue.remove(request)

    async def take(self, classroom_id: int, wait_s: float) -> list[LiveRequest]:
        """The agent's long poll: the requests queued for its classroom, as soon as there are."""
        event = self._event(classroom_id)
        if not self._queued.get(classroom_id) and not self.closed:
            event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await event.wait()
        return self._queued.pop(classroom_id, [])

    def answer(self, classroom_id: int, request_id: str, body: dict[str, Any]) -> bool:
        """The agent's answer; False if nobody waits for it (timed out, or not this room's)."""
        waiting = self._waiting.get(request_id)
        if waiting is None or waiting[0] != classroom_id or waiting[1].done():
            return False
        waiting[1].set_result(body)
        return True

    def watching(self, session_id: int, recording_id: int | None) -> int:
        """Viewers of the session's live recording (none once it is no longer live)."""
        return sum(
            1
            for v in self.viewers.values()
            if v.session_id == session_id and v.recording_id == recording_id
        )

    def reconcile(self, classroom_id: int, alive: set[str], grace_s: float = 10.0) -> None:
        """The agent's heartbeat lists the viewers it still serves: those it dropped (a page
        closed without DELETE, a connection lost) leave the count. Viewers younger than
        ``grace_s`` stay: the heartbeat may have been written before they joined."""
        now = time.monotonic()
        for resource, v in list(self.viewers.items()):
            if v.classroom_id == classroom_id and resource not in alive and now - v.since > grace_s:
                del self.viewers[resource]
