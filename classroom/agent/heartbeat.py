"""The agent's heartbeat: every few seconds its status to disk (for `classroom agent status`)
and to the portal (one try; the next one follows), checked against the contract's Heartbeat
first; and while recording, a preview of the newest segment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from classroom.agent.client import PortalClient, PortalRefused, PortalRejected, PortalUnavailable
from classroom.agent.health import Health, write_status
from classroom.protocol.messages import Heartbeat
from streaming.preview import preview_jpeg

log = structlog.get_logger(__name__)


@dataclass
class Beat:
    status: Callable[[], dict[str, Any]]
    last_segment: Callable[[], Path | None]
    portal: PortalClient
    health: Health
    path: Path  # status.json
    every_s: float
    preview_s: float
    _previewed: Path | None = field(default=None, init=False)

    async def run(self) -> None:
        """Every few seconds: status to disk and to the portal (one try; the next one follows),
        and while recording, a preview of the newest segment."""
        next_preview = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self.health.check_links()
            status = self.status()
            await asyncio.to_thread(write_status, self.path, status)
            try:
                await self.portal.heartbeat(Heartbeat.model_validate(status))
            except ValidationError as exc:  # the portal would refuse it too: the file has it
                log.error("agent.heartbeat_invalid", error=str(exc)[:300])
            except PortalUnavailable:
                self.health.portal.failed()
            except (PortalRejected, PortalRefused):
                pass  # it answered: reachable, whatever it thought of this heartbeat
            else:
                self.health.portal.answered()
            seg = self.last_segment()
            if seg is not None and seg != self._previewed and loop.time() >= next_preview:
                next_preview = loop.time() + self.preview_s
                self._previewed = seg
                with contextlib.suppress(Exception):  # the segment may have moved on meanwhile
                    jpeg = await asyncio.to_thread(preview_jpeg, seg)
                    if jpeg:
                        await self.portal.preview(jpeg)
            await asyncio.sleep(self.every_s)
