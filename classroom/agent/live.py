"""The agent's live side, while a session records: viewers' WHEP offers (long-polled from the
portal, as commands are) are answered by a relay of the recorder's one encode, and the recorder's
HLS branch is published to the object store, where the portal serves it to large audiences.

Nothing here is a record: a lost live segment is a gap for a viewer, never for the recording
(the recorder's segments go through the journaled uploader).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiortc import RTCIceServer

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.client import PortalClient, PortalRejected
from classroom.agent.store_calls import in_store_thread
from classroom.protocol.layout import live_hls_prefix
from classroom.protocol.live import VIEWERS_FULL, LiveAnswer, LiveRequest
from storage.object_store import ObjectStore
from storage.ports import free_udp_port
from streaming.live import LiveError, LiveRelay, LiveSource
from streaming.recorder import LiveBranches

log = structlog.get_logger(__name__)

PLAYLIST = "live.m3u8"
OFFER_TIMEOUT_S = 12.0  # the portal waits 15 s by default; an answer after it is wasted


class HlsPublisher:
    """Copies the recorder's live HLS to the store: each new segment the playlist names, then the
    playlist itself (so a player never sees a segment that is not there yet); segments that left
    the playlist are removed a round later (a player may still be fetching one)."""

    def __init__(self, hls_dir: Path, store: ObjectStore, prefix: str) -> None:
        self.hls_dir = hls_dir
        self.store = store
        self.prefix = prefix
        self._published: set[str] = set()
        self._previous: list[str] = []
        self._playlist = b""

    def publish_once(self) -> bool:
        """Publish what changed; True if the playlist did."""
        try:
            playlist = (self.hls_dir / PLAYLIST).read_bytes()
        except FileNotFoundError:
            return False
        if playlist == self._playlist:
            return False
        names = [
            line.strip()
            for line in playlist.decode("utf-8", "replace").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        for name in names:
            if name in self._published or "/" in name:
                continue
            try:
                data = (self.hls_dir / name).read_bytes()
            except FileNotFoundError:
                continue  # already rotated out by ffmpeg
            self.store.put_bytes(self.prefix + name, data, "video/mp2t")
            self._published.add(name)
        self.store.put_bytes(self.prefix + PLAYLIST, playlist, "application/vnd.apple.mpegurl")
        for gone in self._published - set(names) - set(self._previous):
            self.store.delete(self.prefix + gone)
            self._published.discard(gone)
        self._previous, self._playlist = names, playlist
        return True

    def clear(self) -> None:
        for name in [*self._published, PLAYLIST]:
            with contextlib.suppress(Exception):
                self.store.delete(self.prefix + name)
        self._published.clear()

    async def run(self, every_s: float = 0.25) -> None:
        while True:
            try:
                await in_store_thread(self.publish_once)
            except Exception as exc:  # the store is down: live HLS waits, the recording does not
                log.warning("live.hls_publish_failed", error=str(exc)[:200])
                await asyncio.sleep(2)
            await asyncio.sleep(every_s)


@dataclass
class _Feed:
    relay: LiveRelay
    publisher: HlsPublisher
    publishing: asyncio.Task[None]


class LiveDesk:
    """The live feeds of the recordings running here, and the portal's viewers for them."""

    def __init__(
        self,
        portal: PortalClient,
        store: ObjectStore,
        poll_wait_s: float,
        ptz: Callable[[int], Awaitable[None]] | None = None,
        *,
        max_viewers: int,
    ) -> None:
        self.portal = portal
        # The relay runs on the loop that also supervises capture and uploads: beyond this many
        # WebRTC viewers an offer is refused at once (the page then plays the store's HLS), so
        # a crowd never starves the recording.
        self.max_viewers = max_viewers
        self._joining = 0  # offers being answered: counted against the bound too
        self.ptz = ptz  # recall a preset now; None: the classroom has no PTZ camera
        self.store = store
        self.poll_wait_s = poll_wait_s
        self._feeds: dict[int, _Feed] = {}
        self._answering: set[asyncio.Task[None]] = set()
        self._clearing: set[asyncio.Task[None]] = set()

    @property
    def viewers(self) -> int:
        return sum(f.relay.viewers for f in self._feeds.values())

    def resources(self) -> list[str]:
        """The WHEP resources served now (the heartbeat tells the portal)."""
        return [r for f in self._feeds.values() for r in f.relay.resources]

    def branches(self, workdir: Path) -> LiveBranches:
        """Where the recorder also sends its encode: a free loopback UDP port, an HLS folder."""
        hls_dir = workdir / "live"
        shutil.rmtree(hls_dir, ignore_errors=True)  # an earlier run's playlist is not this one
        return LiveBranches(udp_port=free_udp_port(), hls_dir=hls_dir)

    @staticmethod
    def screen_branch() -> LiveBranches:
        """The screen's encode, for WebRTC only (HLS carries the camera)."""
        return LiveBranches(udp_port=free_udp_port())

    def open(
        self, recording_id: int, branches: LiveBranches, screen: LiveBranches | None = None
    ) -> None:
        assert branches.udp_port is not None and branches.hls_dir is not None
        screen_source = LiveSource(screen.udp_port) if screen and screen.udp_port else None
        publisher = HlsPublisher(branches.hls_dir, self.store, live_hls_prefix(recording_id))
        self._feeds[recording_id] = _Feed(
            LiveRelay(LiveSource(branches.udp_port), screen=screen_source),
            publisher,
            asyncio.create_task(publisher.run()),
        )
        log.info("live.open", recording=recording_id, udp_port=branches.udp_port)

    async def close(self, recording_id: int) -> None:
        feed = self._feeds.pop(recording_id, None)
        if feed is None:
            return
        await cancel_and_wait(feed.publishing)
        await feed.relay.stop()
        # Not awaited: a store that hangs must not hold up the Stop that closes the feed (the
        # recorder stops after this). Left over, the live copies are only overwritten next time.
        clearing = asyncio.create_task(in_store_thread(feed.publisher.clear))
        self._clearing.add(clearing)
        clearing.add_done_callback(self._clearing.discard)
        log.info("live.closed", recording=recording_id)

    async def close_all(self) -> None:
        for task in list(self._answering):
            await cancel_and_wait(task)
        for recording_id in list(self._feeds):
            await self.close(recording_id)

    async def serve(self) -> None:
        """Until cancelled: take viewers' requests from the portal and answer each."""
        while True:
            try:
                requests = await self.portal.live_requests(self.poll_wait_s)
            except PortalRejected as exc:  # a portal without live: ask again now and then
                log.warning("live.requests_refused", error=str(exc))
                await asyncio.sleep(30)
                continue
            for req in requests:
                task = asyncio.create_task(self._answer(req))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)

    async def _ptz(self, preset: int) -> LiveAnswer:
        if self.ptz is None:
            return LiveAnswer(error="this classroom has no PTZ camera")
        try:
            async with asyncio.timeout(15):
                await self.ptz(preset)
        except Exception as exc:  # the camera did not answer, or refused
            return LiveAnswer(error=f"the camera did not move: {type(exc).__name__}: {exc}"[:400])
        return LiveAnswer(resource=f"preset-{preset}")

    async def _answer(self, req: LiveRequest) -> None:
        body: LiveAnswer
        feed = self._feeds.get(req.recording_id or 0)
        try:
            if req.kind == "ptz":
                if req.preset is None:
                    raise ValueError("a PTZ request names its preset")
                body = await self._ptz(req.preset)
            elif req.kind == "close":
                resource = req.resource or ""
                closed = feed is not None and await feed.relay.close(resource)
                body = (
                    LiveAnswer(resource=resource) if closed else LiveAnswer(error="no such viewer")
                )
            elif feed is None:
                body = LiveAnswer(error="this recording is not running here")
            elif self.viewers + self._joining >= self.max_viewers:
                body = LiveAnswer(
                    error=f"{self.max_viewers} viewers are watching here: play HLS",
                    code=VIEWERS_FULL,
                )
            else:
                ice = [
                    RTCIceServer(
                        urls=s["urls"],
                        username=s.get("username"),
                        credential=s.get("credential"),
                    )
                    for s in req.ice_servers
                ]
                self._joining += 1
                try:
                    async with asyncio.timeout(OFFER_TIMEOUT_S):
                        sdp, resource = await feed.relay.offer(req.sdp or "", ice)
                finally:
                    self._joining -= 1
                body = LiveAnswer(sdp=sdp, resource=resource)
        except (LiveError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            body = LiveAnswer(error=(str(exc) or "the live stream did not answer in time")[:500])
        try:
            await self.portal.live_answer(req.id, body)
        except PortalRejected:  # the viewer gave up waiting: drop the peer made for it
            if feed is not None and body.sdp and body.resource:
                await feed.relay.close(body.resource)
