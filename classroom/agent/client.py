"""The agent's HTTP client for the portal, with retries for a flaky network."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)


class PortalRefused(RuntimeError):
    """The portal answered and said no (bad token, wrong classroom): retrying will not help."""


@dataclass(frozen=True)
class Command:
    id: int
    kind: str
    recording_id: int
    session_id: int
    object_prefix: str


class PortalClient:
    def __init__(self, base_url: str, token: str, backoff_max_s: float = 30.0) -> None:
        self.backoff_max_s = backoff_max_s
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=75.0),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Retry network faults and 5xx with back-off until the portal answers; 4xx is final."""
        delay = 0.5
        while True:
            try:
                resp = await self._http.request(method, path, **kw)
            except httpx.TransportError as exc:
                log.warning("portal.unreachable", path=path, error=str(exc) or type(exc).__name__)
            else:
                if resp.status_code < 500:
                    if resp.status_code in (401, 403):
                        raise PortalRefused(f"{resp.status_code} {resp.json().get('detail')}")
                    resp.raise_for_status()
                    return resp
                log.warning("portal.error", path=path, status=resp.status_code)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)

    async def hello(self, classroom_id: int) -> dict[str, Any]:
        resp = await self._call("POST", "/agent/hello", json={"classroom_id": classroom_id})
        data: dict[str, Any] = resp.json()
        return data

    async def commands(self, wait_s: float) -> list[Command]:
        resp = await self._call("GET", "/agent/commands", params={"wait": wait_s})
        return [Command(**c) for c in resp.json()]

    async def ack(self, command_id: int, ok: bool, error: str | None = None) -> None:
        await self._call(
            "POST", f"/agent/commands/{command_id}/ack", json={"ok": ok, "error": error}
        )

    async def uploaded(self, recording_id: int, report: dict[str, Any]) -> None:
        await self._call("POST", f"/agent/recordings/{recording_id}/upload", json=report)

    async def failed(self, recording_id: int, error: str) -> None:
        await self._call("POST", f"/agent/recordings/{recording_id}/failure", json={"error": error})
