"""Capture: the camera (and the screen, a track of its own) recorded into segments while a
recording runs here, each accepted segment sent to the store at once.

One camera, one encoder: a second recording would open the device twice (a V4L2 camera refuses;
an RTSP one would be encoded twice), so a start while another records is refused here too, though
the portal refuses double bookings. Below the disk's free-space floor no capture starts (what is
recorded stays). The camera's one encode also feeds the live relay and HLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog

from classroom.agent.config import AgentConfig
from classroom.agent.health import Health
from classroom.agent.live import LiveDesk
from classroom.agent.local import PAUSED, STOPPED, UPLOADED, Recordings
from classroom.protocol.layout import segments_prefix
from hardware.ptz import PtzControl
from hardware.sources import CameraSource, MicSource
from storage.multipart import UploadCancelled
from streaming.gaps import RunEnd
from streaming.levels import audio_level
from streaming.recorder import LiveBranches, RecorderFault, Segment, SegmentRecorder

log = structlog.get_logger(__name__)

Upload = Callable[[str, Path, str], Awaitable[object]]  # key, file, content type
Spawn = Callable[[Coroutine[Any, Any, None]], None]  # a task the agent waits for at shutdown

# Made by finishing from the segments: recording again (resumed, restarted) makes them stale.
JOINED = ("recording.mp4", "screen.mp4", "composite.mp4")


class CameraBusy(RuntimeError):
    """A recording was asked to start while another one records here."""


class DiskLow(RuntimeError):
    """Below the free-space floor: no new capture starts (what is recorded stays)."""


class Capture:
    def __init__(
        self,
        config: AgentConfig,
        recordings: Recordings,
        camera: CameraSource,
        mic: MicSource | None,
        screen: CameraSource | None,
        ptz: PtzControl | None,
        live: LiveDesk,
        health: Health,
        upload: Upload,
        spawn: Spawn,
    ) -> None:
        self.config = config
        self.recordings = recordings
        self.camera = camera
        self.mic = mic
        self.screen = screen
        self.ptz = ptz
        self.live = live
        self.health = health
        self.upload = upload
        self.spawn = spawn
        self.recorders: dict[int, SegmentRecorder] = {}
        self.screen_recorders: dict[int, SegmentRecorder] = {}
        self.prefixes: dict[int, str] = {}  # the object prefix of each recording started here
        self.last_segment: Path | None = None

    async def start(self, recording_id: int, prefix: str, ptz_preset: int | None = None) -> None:
        """Record, unless it records already (a repeated command)."""
        self.prefixes[recording_id] = prefix
        if recording_id in self.recorders:
            return
        if self.recorders:
            raise CameraBusy(f"the camera is busy with recording {min(self.recorders)}")
        free, floor = self.recordings.free_bytes(), self.config.min_free_bytes
        if free < floor:
            message = (
                f"only {free / 1024**2:.0f} MiB free, below the {floor / 1024**2:.0f} MiB floor: "
                "no new capture starts until space is freed"
            )
            self.health.raise_alert("capture_refused", message)
            raise DiskLow(message)
        self.health.clear("capture_refused")
        self.recordings.mark(recording_id, UPLOADED, False)
        if ptz_preset is not None and self.ptz is not None:
            self.spawn(self._recall(ptz_preset))
        workdir = self.recordings.dir(recording_id)
        for made in JOINED:
            (workdir / made).unlink(missing_ok=True)
        live = self.live.branches(workdir) if self.config.live else None
        recorder = self._recorder(
            self.camera, self.mic, workdir, segments_prefix(prefix), live, level=True
        )
        await recorder.start()
        self.recorders[recording_id] = recorder
        screen_live = None
        if self.screen is not None:
            # Its own encode, segments and watchdog: a dead screen capture never stops the camera's.
            screen = self._recorder(
                self.screen,
                None,
                workdir / "screen",
                segments_prefix(prefix, "screen"),
                self.live.screen_branch() if live is not None else None,
                level=False,
            )
            try:
                await screen.start()
            except Exception as exc:
                self.health.fault(f"screen capture did not start: {exc}", [])
            else:
                self.screen_recorders[recording_id] = screen
                screen_live = screen.live
        if live is not None:
            self.live.open(recording_id, live, screen_live)

    def _recorder(
        self,
        source: CameraSource,
        mic: MicSource | None,
        workdir: Path,
        key_prefix: str,
        live: LiveBranches | None,
        level: bool,
    ) -> SegmentRecorder:
        async def accepted(seg: Segment) -> None:
            self._upload_later(key_prefix + seg.path.name, seg.path)
            if not level:
                return
            self.last_segment = seg.path
            try:
                measured = await asyncio.to_thread(audio_level, seg.path)
            except Exception:  # the level is for the dashboard; the segment is already valid
                measured = None
            self.health.segment(measured)

        def on_fault(fault: RecorderFault) -> None:
            self.health.fault(fault.message, fault.log_tail)

        return SegmentRecorder(
            self.config.ffmpeg,
            source,
            mic,
            workdir,
            self.config.encode,
            on_segment=accepted,
            on_fault=on_fault,
            live=live,
        )

    def _upload_later(self, key: str, segment: Path) -> None:
        """An accepted segment becomes an upload job at once (journaled, capped, verified), so
        the store holds the recording as it grows. Not awaited by the recorder: a slow store
        must not hold up accepting segments."""

        async def put() -> None:
            try:
                await self.upload(key, segment, "video/mp2t")
            except UploadCancelled:
                pass
            except Exception as exc:  # the journal cannot take it (the disk full): finishing will
                log.warning("agent.upload_later_failed", key=key, error=str(exc)[:200])

        self.spawn(put())

    async def _recall(self, preset: int) -> None:
        assert self.ptz is not None
        try:
            async with asyncio.timeout(15):
                await self.ptz.recall(preset)
        except Exception as exc:  # a camera that does not answer must not stop the recording
            log.warning("agent.ptz_preset_failed", preset=preset, error=str(exc)[:200])
        else:
            log.info("agent.ptz_preset", preset=preset)

    async def pause(self, recording_id: int) -> None:
        self.recordings.mark(recording_id, PAUSED, True)
        await self.end(recording_id, RunEnd.PAUSED)

    async def resume(self, recording_id: int, prefix: str) -> None:
        self.recordings.mark(recording_id, PAUSED, False)
        await self.start(recording_id, prefix)

    async def stop(self, recording_id: int) -> None:
        """Stopped for good: never started again here, by the schedule or a restart."""
        self.recordings.mark(recording_id, STOPPED, True)
        self.recordings.mark(recording_id, PAUSED, False)
        await self.end(recording_id, RunEnd.STOPPED)
        if not self.recorders:
            self.health.recording_stopped()

    async def end(self, recording_id: int, why: RunEnd) -> None:
        """End this run of the recording's capture (the markers say whether another follows)."""
        await self.live.close(recording_id)
        for recorders in (self.recorders, self.screen_recorders):
            recorder = recorders.get(recording_id)
            if recorder is not None:
                # Let go of it only once it has stopped: a stop cut short (the agent shut down
                # meanwhile) leaves it here for end_all() to finish — ffmpeg escalated to a
                # signal if it will not quit, its last segment accepted.
                await recorder.stop(why)
                recorders.pop(recording_id, None)

    async def end_all(self) -> None:
        """At shutdown, unmarked: a restarted agent records the rest of their sessions."""
        await self.live.close_all()
        for recording_id in list(self.recorders) + list(self.screen_recorders):
            log.info("agent.stopping_recording", recording=recording_id)
            await self.end(recording_id, RunEnd.SHUTDOWN)
