"""The on-site agent: its loops wired together, started, and stopped.

Each loop is a module of its own and runs under the supervisor: capture (capture.py), the
portal's commands (commands.py), the schedule (schedule.py), reports through the outbox
(reports.py), the heartbeat (heartbeat.py), finishing after Stop (finishing.py), the live relay
(live.py), the door camera (door.py), the card reader (cards.py), the store's probe and
retention. Where each keeps its files: local.py. Uploads go through the resumable uploader and
its journal: an outage of the store or a restart delays them, never drops them. Local copies
are deleted only after verified upload (retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.capture import Capture
from classroom.agent.cards import read_cards
from classroom.agent.client import PortalClient
from classroom.agent.commands import CommandDesk
from classroom.agent.config import AgentConfig
from classroom.agent.door import DoorDesk
from classroom.agent.finishing import Finisher
from classroom.agent.health import Health, alerts_json, iso_utc, state_of
from classroom.agent.heartbeat import Beat
from classroom.agent.live import LiveDesk
from classroom.agent.local import OUTBOX, PAUSED, SCHEDULE, STATUS, STOPPED, UPLOADED, Recordings
from classroom.agent.metrics import agent_metrics, serve_metrics
from classroom.agent.outbox import Outbox
from classroom.agent.reports import ReportDelivery
from classroom.agent.retention import sweep
from classroom.agent.schedule import ScheduleCache, ScheduleFollower
from classroom.agent.store_calls import in_probe_thread, in_store_thread
from classroom.agent.supervisor import Supervisor
from hardware.card_reader import SerialCardReader
from hardware.ptz import PtzControl
from hardware.sources import CameraSource, MicSource
from storage.multipart import ResumableUploader
from storage.object_store import ObjectStore
from storage.seaweed import S3Connection

log = structlog.get_logger(__name__)

# On shutdown, uploads in flight get this long to finish; the rest resume at the next start.
SHUTDOWN_GRACE_S = 20.0
# Then, with their back-off cut short, this long for them to let go.
SHUTDOWN_STUCK_S = 5.0
ORPHAN_AGE = timedelta(days=1)
RETENTION_EVERY_S = 600.0


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        portal: PortalClient,
        store: ObjectStore,
        camera: CameraSource,
        mic: MicSource | None,
        uploader: ResumableUploader,
        ptz: PtzControl | None = None,
        screen: CameraSource | None = None,
        card_reader: SerialCardReader | None = None,
        door_camera: CameraSource | None = None,
        find_store: Callable[[], S3Connection | None] | None = None,
    ) -> None:
        self.config = config
        # Where the store is now, when it stops answering where it was (the embedded store's
        # connection.json); None: a configured store, which does not move.
        self.find_store = find_store
        self.card_reader = card_reader
        self.portal = portal
        self.store = store
        self.uploader = uploader
        self.recordings = Recordings(config.workdir)
        self.outbox = Outbox(config.workdir / OUTBOX)
        self.health = Health(config.silence_alert_s, unreachable_alert_s=config.unreachable_alert_s)
        self.delivery = ReportDelivery(self.outbox, portal, self.health, config.report_retry_max_s)
        self.supervisor = Supervisor(self.health)
        self._metrics: asyncio.Server | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self._finishing_ids: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()
        self.live = LiveDesk(
            portal,
            store,
            config.poll_wait_s,
            ptz.recall if ptz is not None else None,
            max_viewers=config.live_max_viewers,
        )
        self.finisher = Finisher(
            config.ffmpeg,
            uploader,
            self.health,
            self.report,
            self.recordings.free_bytes,
            need_audio=mic is not None,
            composite=config.composite,
        )
        self.capture = Capture(
            config,
            self.recordings,
            camera,
            mic,
            screen,
            ptz,
            self.live,
            self.health,
            self.finisher.upload,
            lambda coro: self._spawn(coro, self._background),
        )
        self.schedule = ScheduleFollower(
            portal,
            ScheduleCache(config.workdir / SCHEDULE),
            self.capture,
            self.report,
            self.finish,
            preroll=timedelta(seconds=config.preroll_s),
            postroll=timedelta(seconds=config.postroll_s),
            refresh_s=config.schedule_refresh_s,
        )
        self.commands = CommandDesk(
            portal,
            self.capture,
            self.report,
            self.finish,
            self.schedule.preset_of,
            config.poll_wait_s,
        )
        self.door = (
            DoorDesk(
                portal,
                self.report,
                self.health,
                config.ffmpeg,
                door_camera,
                config.workdir,
                config.gallery_sync_s,
            )
            if door_camera is not None
            else None
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], into: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(coro)
        into.add(task)
        task.add_done_callback(into.discard)

    async def report(self, path: str, message: BaseModel) -> None:
        """Tell the portal, through the outbox: in order, and whenever it answers."""
        await self.outbox.put("POST", path, message.model_dump(mode="json"))

    async def run(self) -> None:
        """Until cancelled: follow the schedule (from the cache if need be) and deliver reports
        at once; say hello when the portal answers, then take its commands."""
        loops: dict[str, Callable[[], Awaitable[None]]] = {
            "bucket": self._ensure_bucket,
            "store_probe": self._probe_store,
            "reports": self.delivery.run,
            "schedule": self.schedule.run,
            "heartbeat": Beat(
                self.status,
                lambda: self.capture.last_segment,
                self.portal,
                self.health,
                self.config.workdir / STATUS,
                self.config.heartbeat_s,
                self.config.preview_s,
            ).run,
            "retention": self._retention,
        }
        if self.config.live:
            loops["live"] = self.live.serve
        if (reader := self.card_reader) is not None:
            loops["card_reader"] = lambda: read_cards(reader, self.report, self.health)
        if self.door is not None:
            loops["door"] = self.door.serve
        for name, loop in loops.items():
            self.supervisor.register(name, loop)
        if self.config.metrics_port:
            self._metrics = await serve_metrics(
                self.config.metrics_port, lambda: agent_metrics(self.status())
            )
        info = await self.portal.hello(self.config.classroom_id)
        log.info("agent.registered", device=info.name, classroom=self.config.classroom_id)
        for active in info.active_recordings:
            # pyCA's rule: restarted mid-recording, record the rest and keep the earlier part.
            # The recorder continues in a new run directory; the runs are joined at the end.
            rid = active.recording_id
            if any(self.recordings.marker(rid, m).exists() for m in (STOPPED, PAUSED)):
                continue  # stopped or paused here; the portal hears it from the outbox
            log.warning("agent.resuming", recording=rid)
            try:
                await self.capture.start(rid, active.object_prefix)
            except Exception:  # disk low, camera busy: said so; commands must still be taken
                log.exception("agent.resume_failed", recording=rid)
        self._spawn(self._abort_orphans(), self._background)
        for finishing in info.finishing_recordings:
            # Stopped, but not yet uploaded when the agent went down: finish from the journal.
            log.warning("agent.finishing_after_restart", recording=finishing.recording_id)
            self.finish(finishing.recording_id, finishing.object_prefix)
        await self.supervisor.supervise("commands", self.commands.run)

    async def _probe_store(self) -> None:
        """Every heartbeat: does the object store answer? For the status and its alert. One
        that does not may have moved (an embedded store restarted on another port): where it is
        now is looked up, and everything talks to it there."""
        while True:
            try:
                await in_probe_thread(self.store.reachable)
            except Exception:
                self.health.store.failed()
                moved = self.find_store() if self.find_store is not None else None
                if moved is not None and moved != self.store.connection:
                    log.warning(
                        "agent.store_moved", old=self.store.connection.endpoint, new=moved.endpoint
                    )
                    self.store.connect(moved)
                    continue
            else:
                self.health.store.answered()
            await asyncio.sleep(self.config.heartbeat_s)

    async def _ensure_bucket(self) -> None:
        """The recordings' bucket exists, once the store answers. A store that is down at start
        does not keep the classroom from recording: uploads wait in the journal meanwhile, and
        this loop, supervised, tries again with back-off (alert loop_bucket until it answers)."""
        await in_store_thread(self.store.ensure_bucket)

    def status(self) -> dict[str, Any]:
        """What the heartbeat carries, and `classroom agent status` shows."""
        uploads, oldest_upload = self.uploader.journal.depth()
        reports, oldest_report = self.outbox.depth()
        now = time.time()
        free = self.recordings.free_bytes()
        if free < self.config.min_free_bytes:
            self.health.raise_alert(
                "disk_low",
                f"{free / 1024**2:.0f} MiB free, floor {self.config.min_free_bytes / 1024**2:.0f}",
            )
        else:
            self.health.clear("disk_low")
        level = self.health.audio
        camera, mic = self.capture.camera, self.capture.mic
        last = self.health.last_segment_at
        return {
            "at": iso_utc(datetime.now(UTC)),
            "state": state_of(
                bool(self.capture.recorders),
                uploads,
                reports,
                self.health.portal.reachable,
                set(self.health.alerts),
            ),
            "recordings": sorted(self.capture.recorders),
            "live_viewers": self.live.resources(),
            "devices": {
                "camera": getattr(camera, "name", type(camera).__name__),
                "mic": getattr(mic, "name", None) if mic else None,
                "ptz": self.capture.ptz is not None,
            },
            "door_camera": (
                {
                    "gallery_people": self.door.gallery.people,
                    "gallery_version": self.door.gallery.version[:12] or None,
                    "checked_in": self.door.checked_in,
                }
                if self.door is not None
                else None
            ),
            "disk_free_bytes": free,
            "disk_min_free_bytes": self.config.min_free_bytes,
            "uploads_pending": uploads,
            "uploads": self.uploader.journal.progress(),
            "oldest_upload_age_s": round(now - oldest_upload, 1) if oldest_upload else None,
            "reports_pending": reports,
            "oldest_report_age_s": round(now - oldest_report, 1) if oldest_report else None,
            "audio_rms_dbfs": round(level.rms_dbfs, 1) if level else None,
            "audio_peak_dbfs": round(level.peak_dbfs, 1) if level else None,
            "last_segment_at": iso_utc(last) if last else None,
            **self.health.links_json(),  # portal_reachable, portal_since, store_…
            "alerts": alerts_json(self.health.alerts),
            "faults": list(self.health.faults),
            "segments_total": self.health.segments_total,
            "faults_total": self.health.faults_total,
        }

    async def _retention(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:
                log.exception("agent.retention_failed")
            await asyncio.sleep(RETENTION_EVERY_S)

    def sweep(self) -> list[Path]:
        """Delete the local copies the retention policy allows, and their done upload jobs."""
        removed = sweep(self.config.workdir, self.config.retention_days, self.config.min_free_bytes)
        for directory in removed:
            self.uploader.journal.forget_done_under(directory)
        return removed

    async def _abort_orphans(self) -> None:
        """Incomplete uploads nobody will finish cost storage: abort those a day old. (An agent
        offline longer that comes back finds its upload gone and simply starts it again.)"""
        try:
            n = await in_store_thread(self.uploader.abort_orphans, "recordings/", ORPHAN_AGE)
        except Exception as exc:  # the store may be down now; the next start tries again
            log.warning("agent.orphan_check_failed", error=str(exc)[:200])
        else:
            if n:
                log.info("agent.orphans_aborted", count=n)

    def finish(self, recording_id: int, prefix: str) -> None:
        """Begin finishing a stopped recording (once, however often asked), in the background."""
        if recording_id in self._finishing_ids:
            return
        self._finishing_ids.add(recording_id)

        async def finish() -> None:
            try:
                workdir = self.recordings.dir(recording_id)
                if await self.finisher.finish(recording_id, workdir, prefix):
                    self.recordings.mark(recording_id, UPLOADED, True)  # retention may delete
            finally:
                self._finishing_ids.discard(recording_id)

        self._spawn(finish(), self._finishing)

    async def shutdown(self) -> None:
        """Stop every recording gracefully and finish its upload before returning. Recordings
        are not marked stopped: a restarted agent records the rest of their sessions."""
        if self._metrics is not None:
            self._metrics.close()
        await self.supervisor.stop()
        await self.capture.end_all()
        pending = self._finishing | self._background
        if pending:
            # No grace while the store does not answer: nothing in flight would finish in it.
            grace = 0.0 if self.health.store.reachable is False else SHUTDOWN_GRACE_S
            _, late = await asyncio.wait(pending, timeout=grace)
            if late:
                log.warning("agent.uploads_deferred", count=len(late))
                self.uploader.cancel_waits()  # their back-off ends; the journal keeps them
                # One stuck in a request to a store that stopped answering is left to its
                # thread (a daemon): the journal has it, and the next start resumes it.
                _, stuck = await asyncio.wait(late, timeout=SHUTDOWN_STUCK_S)
                if stuck:
                    log.warning("agent.uploads_left_in_flight", count=len(stuck))
                    await cancel_and_wait(*stuck)
        with contextlib.suppress(TimeoutError):  # what is not sent now is sent at the next start
            async with asyncio.timeout(5):
                await self.delivery.deliver_pending()
        self.outbox.close()
