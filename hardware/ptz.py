"""Pan-tilt-zoom control as the agent uses it: recall a session's preset when recording starts.
VISCA over IP (our client, hardware/visca.py) or ONVIF PTZ (through the onvif-zeep library)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

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


@dataclass(frozen=True)
class OnvifPtz:
    """An ONVIF camera's PTZ service: GotoPreset on its first media profile. The preset number
    is the camera's preset token (cameras number them "1", "2", …)."""

    host: str
    port: int = 80
    user: str = ""
    password: str = field(default="", repr=False)

    def _recall(self, preset: int) -> None:
        from onvif import ONVIFCamera  # imported here: zeep and the WSDLs load in ~1 s

        cam: Any = ONVIFCamera(self.host, self.port, self.user, self.password)
        profiles = cam.create_media_service().GetProfiles()
        if not profiles:
            raise RuntimeError(f"ONVIF camera {self.host} has no media profile")
        cam.create_ptz_service().GotoPreset(
            {"ProfileToken": profiles[0].token, "PresetToken": str(preset)}
        )

    async def recall(self, preset: int) -> None:
        await asyncio.to_thread(self._recall, preset)


def ptz_from_url(url: str) -> PtzControl | None:
    """``visca://HOST[:PORT]`` (VISCA over IP, UDP) or ``onvif://USER:PASSWORD@HOST[:PORT]``;
    empty: no PTZ camera."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "visca" and parts.hostname:
        return ViscaPtz(parts.hostname, parts.port or PORT)
    if parts.scheme == "onvif" and parts.hostname:
        return OnvifPtz(
            parts.hostname,
            parts.port or 80,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
        )
    raise ValueError(
        f"unsupported PTZ address {url!r} (expected visca://host[:port] or "
        "onvif://user:password@host[:port])"
    )
