"""Pan-tilt-zoom control as the agent uses it: recall a session's preset when recording starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from hardware.visca import PORT, ViscaClient


class PtzControl(Protocol):
    async def recall(self, preset: int) -> None: ...


@dataclass(frozen=True)
class ViscaPtz:
    host: str
    port: int = PORT

    async def recall(self, preset: int) -> None:
        async with ViscaClient(self.host, self.port) as cam:
            await cam.preset_recall(preset)


def ptz_from_url(url: str) -> PtzControl | None:
    """``visca://HOST[:PORT]`` (VISCA over IP, UDP); empty: no PTZ camera."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "visca" and parts.hostname:
        return ViscaPtz(parts.hostname, parts.port or PORT)
    raise ValueError(f"unsupported PTZ address {url!r} (expected visca://host[:port])")
