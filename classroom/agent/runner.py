"""The on-site agent: takes the portal's commands, records, uploads, reports.

Local layout, per recording: ``<data_dir>/agent/classroom-<id>/recording-<id>/`` with the
recorder's ``cache/``, ``segments/`` (accepted), ``rejected/`` and the final ``recording.mp4``.
Uploads go through the resumable uploader and its journal (``uploads.db``): an outage of the
store or a restart of the agent delays them, never drops them. Local files are kept after upload
(retention by policy comes later in step 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog

from classroom.agent.client import Command, PortalClient
from hardware.sources import CameraSource, MicSource
from storage.multipart import ResumableUploader, UploadCancelled
from storage.object_store import ObjectInfo, ObjectStore
from streaming.finalize import join_segments
from streaming.media_check import InvalidMedia, MediaInfo, check_media
from streaming.recorder import EncodeSettings, Segment, SegmentRecorder

log = structlog.get_logger(__name__)

# On shutdown, uploads in flight get this long to finish; the rest resume at the next start.
SHUTDOWN_GRACE_S = 20.0
ORPHAN_AGE = timedelta(days=1)


@dataclass
class AgentConfig:
    classroom_id: int
    workdir: Path
    ffmpeg: str
    encode: EncodeSettings
    poll_wait_s: float = 20.0


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        portal: PortalClient,
        store: ObjectStore,
        camera: CameraSource,
        mic: MicSource | None,
        uploader: ResumableUploader,
    ) -> None:
        self.config = config
        self.portal = portal
        self.store = store
        self.uploader = uploader
        self.stop_uploads = threading.Event()
        uploader.sleep = self._sleep_unless_stopping
        self.camera = camera
        self.mic = mic
        self.recorders: dict[int, SegmentRecorder] = {}
        self._prefixes: dict[int, str] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()

    def _sleep_unless_stopping(self, seconds: float) -> None:
        """The uploader's back-off: cut short, and the upload left to the journal, on shutdown."""
        if self.stop_uploads.wait(seconds):
            raise UploadCancelled

    def _spawn(self, coro: Any, into: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(coro)
        into.add(task)
        task.add_done_callback(into.discard)

    def _workdir(self, recording_id: int) -> Path:
        return self.config.workdir / f"recording-{recording_id}"

    async def run(self) -> None:
        """Until cancelled: say hello, then take commands."""
        info = await self.portal.hello(self.config.classroom_id)
        log.info("agent.registered", device=info.get("name"), classroom=self.config.classroom_id)
        for active in info.get("active_recordings", []):
            # pyCA's rule: restarted mid-recording, record the rest and keep the earlier part.
            # The recorder continues in a new run directory; the runs are joined at the end.
            log.warning("agent.resuming", recording=active["recording_id"])
            await self._start(
                Command(
                    0,
                    "start_recording",
                    active["recording_id"],
                    active["session_id"],
                    active["object_prefix"],
                )
            )
        self._spawn(self._abort_orphans(), self._background)
        for finishing in info.get("finishing_recordings", []):
            # Stopped, but not yet uploaded when the agent went down: finish from the journal.
            rid = finishing["recording_id"]
            log.warning("agent.finishing_after_restart", recording=rid)
            self._prefixes[rid] = finishing["object_prefix"]
            self._spawn(self._finish(rid), self._finishing)
        while True:
            for cmd in await self.portal.commands(self.config.poll_wait_s):
                await self.handle(cmd)

    async def _abort_orphans(self) -> None:
        """Incomplete uploads nobody will finish cost storage: abort those a day old. (An agent
        offline longer that comes back finds its upload gone and simply starts it again.)"""
        try:
            n = await asyncio.to_thread(self.uploader.abort_orphans, "recordings/", ORPHAN_AGE)
        except Exception as exc:  # the store may be down now; the next start tries again
            log.warning("agent.orphan_check_failed", error=str(exc)[:200])
        else:
            if n:
                log.info("agent.orphans_aborted", count=n)

    async def handle(self, cmd: Command) -> None:
        log.info("agent.command", id=cmd.id, kind=cmd.kind, recording=cmd.recording_id)
        try:
            if cmd.kind == "start_recording":
                await self._start(cmd)
            elif cmd.kind == "stop_recording":
                await self._stop(cmd)
            else:
                raise ValueError(f"unknown command {cmd.kind!r}")
        except Exception as exc:
            log.exception("agent.command_failed", id=cmd.id)
            await self.portal.ack(cmd.id, ok=False, error=f"{type(exc).__name__}: {exc}")
            return
        await self.portal.ack(cmd.id, ok=True)

    async def _start(self, cmd: Command) -> None:
        self._prefixes[cmd.recording_id] = cmd.object_prefix
        if cmd.recording_id in self.recorders:  # a repeated command: already recording
            return
        prefix = cmd.object_prefix

        async def put_segment(seg: Segment) -> None:
            key = f"{prefix}segments/{seg.path.name}"
            # Best effort while recording; the end of the recording sends anything missed.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.put_file, key, seg.path, "video/mp2t")

        async def upload_segment(seg: Segment) -> None:
            # Not awaited by the recorder: a slow store must not hold up accepting segments.
            self._spawn(put_segment(seg), self._background)

        recorder = SegmentRecorder(
            self.config.ffmpeg,
            self.camera,
            self.mic,
            self._workdir(cmd.recording_id),
            self.config.encode,
            on_segment=upload_segment,
        )
        await recorder.start()
        self.recorders[cmd.recording_id] = recorder

    async def _stop(self, cmd: Command) -> None:
        self._prefixes.setdefault(cmd.recording_id, cmd.object_prefix)
        recorder = self.recorders.pop(cmd.recording_id, None)
        if recorder is not None:
            await recorder.stop()
        self._spawn(self._finish(cmd.recording_id), self._finishing)

    async def _finish(self, recording_id: int) -> None:
        """Join, upload (segments and MP4, each verified by SHA-256) and report."""
        workdir = self._workdir(recording_id)
        prefix = self._prefixes[recording_id]
        segments = sorted((workdir / "segments").glob("*.ts"))
        try:
            if not segments:
                raise RuntimeError("no valid segment was recorded")
            final = workdir / "recording.mp4"
            info = await self._joined(segments, final)
            seg_keys = []
            for seg in segments:
                key = f"{prefix}segments/{seg.name}"
                await self._upload(key, seg, "video/mp2t")
                seg_keys.append(key)
            key = f"{prefix}recording.mp4"
            stored = await self._upload(key, final, "video/mp4")
        except UploadCancelled:
            log.warning("agent.upload_deferred", recording=recording_id)
            return
        except Exception as exc:
            log.exception("agent.finish_failed", recording=recording_id)
            await self.portal.failed(recording_id, f"{type(exc).__name__}: {exc}")
            return
        await self.portal.uploaded(
            recording_id,
            {
                "object_key": key,
                "segment_keys": seg_keys,
                "duration_s": round(info.duration_s, 3),
                "size_bytes": stored.size,
                "sha256": stored.sha256,
            },
        )
        log.info("agent.recording_uploaded", recording=recording_id, key=key, size=stored.size)

    async def _joined(self, segments: list[Path], final: Path) -> MediaInfo:
        """The joined MP4: the one already made (before a restart) if it is whole, else anew."""
        if final.exists():
            with contextlib.suppress(InvalidMedia):
                return await asyncio.to_thread(check_media, final, need_audio=False)
        return await join_segments(self.config.ffmpeg, segments, final)

    async def _upload(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        """Queue the file in the journal and upload it (resumably; until the store has it whole)."""
        await asyncio.to_thread(self.uploader.enqueue, key, path, content_type)
        return await asyncio.to_thread(self.uploader.upload, key)

    async def shutdown(self) -> None:
        """Stop every recording gracefully and finish its upload before returning."""
        for recording_id, recorder in list(self.recorders.items()):
            log.info("agent.stopping_recording", recording=recording_id)
            await recorder.stop()
            self.recorders.pop(recording_id, None)
        pending = self._finishing | self._background
        if pending:
            _, late = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_S)
            if late:
                log.warning("agent.uploads_deferred", count=len(late))
                self.stop_uploads.set()  # their back-off ends; the journal keeps them
                await asyncio.gather(*late, return_exceptions=True)
