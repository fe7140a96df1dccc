"""The live exchange: a viewer's request reaches the classroom's agent by its long poll, and the
agent answers with an SDP answer and a resource, or with an error and, where the portal must act
on it, a code."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

# The agent relays to all the WebRTC viewers it takes: the portal answers 503 with this code,
# and the page plays the store's HLS instead.
VIEWERS_FULL = "viewers_full"


class LiveRequest(BaseModel):
    """What the agent is asked: answer an offer, close a viewer, or move the camera to a preset
    (the console's PTZ buttons: an action of the moment, so it travels here, not as a command
    that would wait for an agent that is offline)."""

    kind: Literal["offer", "close", "ptz"]
    recording_id: int | None = None
    sdp: str | None = None
    resource: str | None = None
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    preset: int | None = None
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)


class LiveAnswer(BaseModel):
    """The agent's answer to one live request (an offer, a close, a PTZ preset)."""

    sdp: str | None = Field(default=None, max_length=64 * 1024)
    resource: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    error: str | None = Field(default=None, max_length=500)
    code: Literal["viewers_full"] | None = None
