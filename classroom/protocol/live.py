"""The live exchange: a viewer's request reaches the classroom's agent by its long poll, and the
agent answers with an SDP answer and a resource, or with an error and, where the portal must act
on it, a code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# The agent relays to all the WebRTC viewers it takes: the portal answers 503 with this code,
# and the page plays the store's HLS instead.
VIEWERS_FULL = "viewers_full"


class LiveAnswer(BaseModel):
    """The agent's answer to one live request (an offer, a close, a PTZ preset)."""

    sdp: str | None = Field(default=None, max_length=64 * 1024)
    resource: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    error: str | None = Field(default=None, max_length=500)
    code: Literal["viewers_full"] | None = None
