"""A viewer of the live stream for tests: a real aiortc peer that decodes what it receives."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.live import LiveRelay


class Viewer:
    """A WHEP-style viewer: recvonly audio and video (and, with ``screen``, a second video for the
    slides), counting the frames it decodes."""

    def __init__(self, screen: bool = False) -> None:
        self.pc = RTCPeerConnection()
        self.screen = screen
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.screen_frames = 0
        self.screen_sizes: set[tuple[int, int]] = set()
        self.audio = False
        self.resource = ""
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receivers = [t.receiver.track for t in self.pc.getTransceivers()]
            is_screen = track.kind == "video" and receivers.index(track) == 2
            self._tasks.append(asyncio.ensure_future(self._consume(track, is_screen)))

    async def _consume(self, track: MediaStreamTrack, is_screen: bool) -> None:
        try:
            while True:
                frame = await track.recv()
                if is_screen:
                    self.screen_frames += 1
                    self.screen_sizes.add((frame.width, frame.height))  # type: ignore[union-attr]
                elif track.kind == "video":
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
        if self.screen:
            self.pc.addTransceiver("video", direction="recvonly")
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


def ffmpeg_processes(parent: int | None = None) -> int:
    """The ffmpeg processes started by ``parent`` (this process by default): the encoders of an
    agent or a recorder, not those of anything else on the machine."""
    parent = os.getpid() if parent is None else parent
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or "ffmpeg" not in (proc / "comm").read_text():
                continue
            status = (proc / "status").read_text().splitlines()
            ppid = int(next(line.split()[1] for line in status if line.startswith("PPid:")))
        except (OSError, StopIteration):
            continue
        count += ppid == parent
    return count
