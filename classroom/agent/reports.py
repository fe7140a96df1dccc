"""Reports to the portal, delivered from the outbox in order whenever the portal answers: a
report the portal refuses as no longer fitting is logged and dropped (sending it again cannot
succeed); a token refused keeps everything until an administrator sets it right."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from pydantic import BaseModel

from classroom.agent.client import PortalClient, PortalRefused, PortalRejected, PortalUnavailable
from classroom.agent.health import Health
from classroom.agent.outbox import Outbox

log = structlog.get_logger(__name__)

Report = Callable[[str, BaseModel], Awaitable[None]]  # a path and the message, to the outbox


class ReportDelivery:
    def __init__(
        self, outbox: Outbox, portal: PortalClient, health: Health, retry_max_s: float
    ) -> None:
        self.outbox = outbox
        self.portal = portal
        self.health = health
        self.retry_max_s = retry_max_s

    async def run(self) -> None:
        """Until cancelled: deliver what waits, backing off while the portal does not answer."""
        delay = 0.5
        while True:
            if not await self.deliver_pending():
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
            else:
                delay = 0.5
                await self.outbox.wait(5.0)

    async def deliver_pending(self) -> bool:
        """Send what waits, in order; False when the portal did not answer."""
        for rep in self.outbox.pending():
            try:
                await self.portal.once(rep.method, rep.path, json=rep.body)
            except PortalUnavailable as exc:
                if self.health.portal.reachable is not False:
                    log.warning("agent.portal_unreachable", error=str(exc)[:200])
                self.health.portal.failed()
                return False
            except PortalRefused as exc:
                # This device's token was refused (revoked, or rotated without this agent being
                # told): keep everything until an administrator sets it right.
                log.error("agent.reports_refused", error=str(exc)[:300])
                self.health.portal.failed()
                return False
            except PortalRejected as exc:
                # It no longer fits the portal's state: keep it in the log, since sending it
                # again cannot succeed.
                log.error("agent.report_rejected", path=rep.path, error=str(exc)[:300])
            else:
                if self.health.portal.reachable is False:
                    log.info("agent.portal_back", waited=len(self.outbox.pending()))
                self.health.portal.answered()
            await self.outbox.done(rep.id)
        return True
