"""The agent's HTTP client for the portal, with retries for a flaky network."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import structlog

from classroom.protocol.live import LiveAnswer, LiveRequest
from classroom.protocol.messages import (
    Command,
    Gallery,
    Heartbeat,
    Hello,
    HelloAnswer,
    ScheduleEntry,
)

log = structlog.get_logger(__name__)


class PortalRefused(RuntimeError):
    """The portal answered and said no (bad token, wrong classroom): retrying will not help."""


class PortalRejected(RuntimeError):
    """The portal answered 4xx to a report (it no longer fits): sending it again will not help."""


class PortalUnavailable(RuntimeError):
    """No answer (network, 5xx): try again later."""


class PortalClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        backoff_max_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,  # an in-process portal, in tests
    ) -> None:
        self.backoff_max_s = backoff_max_s
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=75.0),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def once(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One attempt: PortalUnavailable for network faults and 5xx, PortalRefused for 401/403,
        PortalRejected for any other 4xx."""
        try:
            resp = await self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise PortalUnavailable(str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise PortalUnavailable(f"{resp.status_code} from the portal")
        if resp.status_code in (401, 403):
            raise PortalRefused(f"{resp.status_code} {_detail(resp)}")
        if resp.status_code >= 400:
            raise PortalRejected(f"{resp.status_code} {_detail(resp)}")
        return resp

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Retry network faults and 5xx with back-off until the portal answers; 4xx is final."""
        delay = 0.5
        while True:
            try:
                return await self.once(method, path, **kw)
            except PortalUnavailable as exc:
                log.warning("portal.unreachable", path=path, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)

    async def hello(self, classroom_id: int) -> HelloAnswer:
        hello = Hello(classroom_id=classroom_id).model_dump(mode="json")
        resp = await self._call("POST", "/agent/hello", json=hello)
        return HelloAnswer.model_validate(resp.json())

    async def commands(self, wait_s: float) -> list[Command]:
        resp = await self._call("GET", "/agent/commands", params={"wait": wait_s})
        return [Command.model_validate(c) for c in resp.json()]

    async def live_requests(self, wait_s: float) -> list[LiveRequest]:
        """Viewers' WHEP requests for this classroom (long poll)."""
        resp = await self._call("GET", "/agent/live", params={"wait": wait_s})
        return [LiveRequest.model_validate(r) for r in resp.json()]

    async def live_answer(self, request_id: str, answer: LiveAnswer) -> None:
        """One attempt: a viewer waits seconds at most, an answer later is of no use."""
        body = answer.model_dump(exclude_none=True)
        await self.once("POST", f"/agent/live/{request_id}", json=body)

    async def gallery(self, version: str) -> Gallery | None:
        """One attempt: the door camera's face gallery, None if ``version`` is still current."""
        headers = {"If-None-Match": f'"{version}"'} if version else {}
        resp = await self.once("GET", "/agent/gallery", headers=headers)
        if resp.status_code == 304:
            return None
        return Gallery.model_validate(resp.json())

    async def heartbeat(self, beat: Heartbeat) -> None:
        """One attempt: the next heartbeat follows in seconds."""
        await self.once("POST", "/agent/heartbeat", json=beat.model_dump(mode="json"))

    async def preview(self, jpeg: bytes) -> None:
        """One attempt: the newest segment's picture, for the dashboard."""
        headers = {"Content-Type": "image/jpeg"}
        await self.once("POST", "/agent/preview", content=jpeg, headers=headers)

    async def schedule(self) -> list[ScheduleEntry]:
        """One attempt: when the portal does not answer, the agent goes on from its cache."""
        rows = (await self.once("GET", "/agent/schedule")).json()
        return [ScheduleEntry.model_validate(r) for r in rows]


def _detail(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("detail"))
    except ValueError:
        return resp.text[:200]
