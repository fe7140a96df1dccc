"""A viewer of the live stream for tests: a real aiortc peer that decodes what it receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.live import LiveRelay


class Viewer:
    """A WHEP-style viewer: recvonly audio and video, counting the video frames it decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.audio = False
        self.resource = ""
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.frames += 1
                    self.sizes.add((frame.width, frame.height))  # type: ignore[union-attr]
                else:
                    self.audio = True
        except MediaStreamError:
            pass

    async def offer(self) -> str:
        """The SDP offer, its ICE candidates gathered (aiortc does not trickle)."""
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: str) -> None:
        assert "H264" in answer and "VP8" not in answer and "opus" in answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def join(self, relay: LiveRelay) -> None:
        answer, self.resource = await relay.offer(await self.offer())
        await self.accept(answer)

    async def leave(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.pc.close()


def ffmpeg_processes() -> int:
    count = 0
    for pid in Path("/proc").iterdir():
        try:
            if pid.name.isdigit() and "ffmpeg" in (pid / "comm").read_text():
                count += 1
        except OSError:
            continue
    return count
