"""Live WebRTC from the recorder's one encode: the H.264 (and Opus) the recorder's ffmpeg sends
to a loopback UDP port is read once, without decoding, and relayed to every viewer — no encoder
per viewer, so a classroom PC holds dozens of them. One small class per role, as in aiortc's own
examples: ``LiveSource`` reads the stream, ``LiveRelay`` answers viewers' offers (the WHEP
exchange: an SDP offer in, an SDP answer and a resource id out, a resource closed on leave)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import structlog
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

log = structlog.get_logger(__name__)

# Browsers decode it in hardware and it is what the recorder encodes: offered first, or aiortc
# would put VP8 first and label H.264 packets as VP8 (the page would decode nothing).
H264_BASELINE = "42e01f"


# The recorder's live branch as an input: a deep socket buffer (a late reader drops nothing),
# losses survived, and no stream within 2 s (the recorder is not running) fails instead of waiting.
UDP_INPUT_OPTIONS = {"fifo_size": "100000", "overrun_nonfatal": "1", "timeout": "2000000"}


class LiveError(RuntimeError):
    """The live stream cannot be offered (not running, or the offer is unusable)."""


class LiveSource:
    """The recorder's live branch (MPEG-TS over UDP on loopback), opened without decoding."""

    def __init__(self, udp_port: int) -> None:
        self.url = f"udp://127.0.0.1:{udp_port}"
        self._player: MediaPlayer | None = None

    def open(self) -> MediaPlayer:
        if self._player is None:
            self._player = MediaPlayer(
                self.url,
                format="mpegts",
                options=UDP_INPUT_OPTIONS,
                decode=False,
            )
            # MPEG-TS is not a format aiortc considers live: it would pace it again and fall
            # behind by seconds when opened after the stream began. There is no public switch.
            self._player._throttle_playback = False
        return self._player

    def close(self) -> None:
        if self._player is not None:
            for track in (self._player.video, self._player.audio):
                if track is not None:
                    track.stop()
            self._player = None


@dataclass
class _Viewer:
    pc: RTCPeerConnection
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class LiveRelay:
    """Answers viewers' offers with the one live stream. ``ice_servers`` (STUN/TURN URLs, with
    credentials where TURN needs them) are for viewers outside the classroom's network."""

    def __init__(
        self,
        source: LiveSource,
        ice_servers: list[RTCIceServer] | None = None,
        screen: LiveSource | None = None,
    ) -> None:
        self.source = source
        self.screen = screen  # the screen's own encode, sent as a second video to viewers asking
        self.ice_servers = ice_servers or []
        self._relay = MediaRelay()
        self._viewers: dict[str, _Viewer] = {}

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def resources(self) -> list[str]:
        return list(self._viewers)

    async def _tracks(self) -> list[MediaStreamTrack]:
        try:  # opening probes the stream: blocking, and seconds if it does not come
            player = await asyncio.to_thread(self.source.open)
        except Exception as exc:
            raise LiveError(f"the live stream is not running: {exc}") from None
        tracks = [t for t in (player.video, player.audio) if t is not None]
        if not tracks:
            raise LiveError("the live stream has no audio or video")
        # buffered: a slow viewer queues its own packets instead of holding up the others.
        return [self._relay.subscribe(t, buffered=True) for t in tracks]

    async def _screen_track(self) -> MediaStreamTrack | None:
        if self.screen is None:
            return None
        try:
            player = await asyncio.to_thread(self.screen.open)
        except Exception as exc:  # no screen stream: the camera alone
            log.warning("live.screen_unavailable", error=str(exc)[:200])
            return None
        return self._relay.subscribe(player.video, buffered=True) if player.video else None

    async def offer(
        self, sdp: str, ice_servers: list[RTCIceServer] | None = None
    ) -> tuple[str, str]:
        """A viewer's SDP offer → (SDP answer, resource id). ``ice_servers``, if given, replace
        the relay's own for this viewer (the portal's settings travel with each offer)."""
        try:
            media = SessionDescription.parse(sdp).media
        except Exception as exc:
            raise LiveError(f"not an SDP offer: {exc}") from None
        videos = sum(m.kind == "video" for m in media)
        if not videos:
            raise LiveError("the offer asks for no video")
        offer = RTCSessionDescription(sdp=sdp, type="offer")
        tracks = await self._tracks()
        # A second video section asks for the screen; a track nobody negotiates would only
        # queue frames, so it is subscribed only then.
        screen = await self._screen_track() if videos > 1 else None
        if screen is not None:
            tracks.append(screen)
        servers = self.ice_servers if ice_servers is None else ice_servers
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        viewer = _Viewer(pc)
        try:
            for track in tracks:
                transceiver = pc.addTransceiver(track, direction="sendonly")
                codecs = RTCRtpSender.getCapabilities(track.kind).codecs
                if track.kind == "video":
                    # Only H.264 baseline: it is what the packets are; VP8 must not be offered.
                    codecs = [
                        c
                        for c in codecs
                        if c.mimeType == "video/H264"
                        and f"profile-level-id={H264_BASELINE}" in _fmtp(c)
                    ]
                else:
                    codecs = [c for c in codecs if c.mimeType == "audio/opus"]
                transceiver.setCodecPreferences(codecs)
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
        except LiveError:
            await pc.close()
            raise
        except Exception as exc:  # a malformed or incompatible offer
            await pc.close()
            raise LiveError(f"the offer cannot be answered: {exc}") from None

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(viewer.id)

        self._viewers[viewer.id] = viewer
        log.info("live.viewer_joined", viewer=viewer.id, viewers=self.viewers)
        return pc.localDescription.sdp, viewer.id

    async def close(self, viewer_id: str) -> bool:
        """The viewer left (WHEP DELETE); False if there was no such viewer."""
        viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        await viewer.pc.close()
        log.info("live.viewer_left", viewer=viewer_id, viewers=self.viewers)
        return True

    async def stop(self) -> None:
        for viewer_id in list(self._viewers):
            await self.close(viewer_id)
        for source in (self.source, self.screen):
            if source is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(source.close)


def _fmtp(codec: object) -> str:
    params = getattr(codec, "parameters", {}) or {}
    return ";".join(f"{k}={v}" for k, v in params.items())
