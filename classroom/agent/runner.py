"""The on-site agent: takes the portal's commands, records, uploads, reports.

Local layout, per recording: ``<data_dir>/agent/classroom-<id>/recording-<id>/`` with the
recorder's ``cache/``, ``segments/`` (accepted), ``rejected/``, the final ``recording.mp4``, and
two markers: ``stopped`` (never start it again) and ``paused`` (the trainer paused it).
Uploads go through the resumable uploader and its journal (``uploads.db``): an outage of the
store or a restart of the agent delays them, never drops them. Reports to the portal go through
the outbox (``outbox.db``), in order, whenever the portal answers. The schedule is cached in
``schedule.json``: sessions recorded on schedule start and stop on this machine's clock, with
or without the portal. ``status.json`` holds the last heartbeat (for `classroom agent status`).
Local copies are deleted only after verified upload, by the retention policy (retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.client import (
    PortalClient,
    PortalRefused,
    PortalRejected,
    PortalUnavailable,
)
from classroom.agent.door import DoorDesk
from classroom.agent.finishing import Finisher
from classroom.agent.health import Health, alerts_json, iso_utc, state_of
from classroom.agent.heartbeat import Beat
from classroom.agent.live import LiveDesk
from classroom.agent.metrics import agent_metrics, serve_metrics
from classroom.agent.outbox import Outbox
from classroom.agent.reports import ReportDelivery
from classroom.agent.retention import UPLOADED, sweep
from classroom.agent.schedule import ScheduleCache, decide
from classroom.agent.store_calls import in_probe_thread, in_store_thread
from classroom.agent.supervisor import Supervisor
from classroom.protocol.layout import segments_prefix
from classroom.protocol.messages import (
    CHECKIN_PATH,
    Ack,
    AgentEvent,
    Checkin,
    Command,
    CommandKind,
    ack_path,
    recording_path,
)
from hardware.card_reader import SerialCardReader
from hardware.ptz import PtzControl
from hardware.sources import CameraSource, MicSource
from storage.multipart import ResumableUploader, UploadCancelled
from storage.object_store import ObjectStore
from storage.seaweed import S3Connection
from streaming.gaps import RunEnd
from streaming.levels import audio_level
from streaming.recorder import (
    EncodeSettings,
    RecorderFault,
    Segment,
    SegmentRecorder,
)

log = structlog.get_logger(__name__)

# On shutdown, uploads in flight get this long to finish; the rest resume at the next start.
SHUTDOWN_GRACE_S = 20.0
# Then, with their back-off cut short, this long for them to let go.
SHUTDOWN_STUCK_S = 5.0
ORPHAN_AGE = timedelta(days=1)
# A marker in a recording's directory: the schedule started it (not a trainer's command).
BY_SCHEDULE = "by-schedule"


@dataclass
class AgentConfig:
    classroom_id: int
    workdir: Path
    ffmpeg: str
    encode: EncodeSettings
    poll_wait_s: float = 20.0
    preroll_s: float = 60.0
    postroll_s: float = 120.0
    schedule_refresh_s: float = 30.0
    report_retry_max_s: float = 30.0
    heartbeat_s: float = 5.0
    preview_s: float = 5.0
    silence_alert_s: float = 30.0
    unreachable_alert_s: float = 60.0
    min_free_bytes: int = 2 * 1024**3
    retention_days: float = 14.0
    metrics_port: int = 0  # Prometheus /metrics on 127.0.0.1; 0: off
    composite: bool = False  # camera and screen side by side, made after the session
    live: bool = True  # send the camera live (WebRTC relay, HLS) while recording
    live_max_viewers: int = 40  # WebRTC viewers relayed here; the rest play HLS
    gallery_sync_s: float = 300.0  # the door camera's face gallery, fetched again this often


class CameraBusy(RuntimeError):
    """A recording was asked to start while another one records here."""


class DiskLow(RuntimeError):
    """Below the free-space floor: no new capture starts (what is recorded stays)."""


def _now() -> datetime:
    return datetime.now(UTC)


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
        self.ptz = ptz
        self.screen = screen
        self.screen_recorders: dict[int, SegmentRecorder] = {}
        self.outbox = Outbox(config.workdir / "outbox.db")
        self.schedule_cache = ScheduleCache(config.workdir / "schedule.json")
        self.schedule, _ = self.schedule_cache.load()
        self._handled: set[int] = set()
        self.health = Health(config.silence_alert_s, unreachable_alert_s=config.unreachable_alert_s)
        self.delivery = ReportDelivery(self.outbox, portal, self.health, config.report_retry_max_s)
        self._last_segment: Path | None = None
        self._metrics: asyncio.Server | None = None
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
        self._finishing_ids: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()
        self.supervisor = Supervisor(self.health)
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
            self.free_bytes,
            need_audio=mic is not None,
            composite=config.composite,
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

    def _marker(self, recording_id: int, name: str) -> Path:
        return self._workdir(recording_id) / name

    def _mark(self, recording_id: int, name: str, on: bool) -> None:
        marker = self._marker(recording_id, name)
        if on:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def _marked(self, ids: set[int], name: str) -> set[int]:
        return {rid for rid in ids if self._marker(rid, name).exists()}

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
            "schedule": self._follow_schedule,
            "heartbeat": Beat(
                self.status,
                lambda: self._last_segment,
                self.portal,
                self.health,
                self.config.workdir / "status.json",
                self.config.heartbeat_s,
                self.config.preview_s,
            ).run,
            "retention": self._retention,
        }
        if self.config.live:
            loops["live"] = self.live.serve
        if (reader := self.card_reader) is not None:
            loops["card_reader"] = lambda: self._read_cards(reader)
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
            if self._marker(rid, "stopped").exists() or self._marker(rid, "paused").exists():
                continue  # stopped or paused here; the portal hears it from the outbox
            log.warning("agent.resuming", recording=rid)
            try:
                await self._start(rid, active.object_prefix)
            except Exception:  # disk low, camera busy: said so; commands must still be taken
                log.exception("agent.resume_failed", recording=rid)
        self._spawn(self._abort_orphans(), self._background)
        for finishing in info.finishing_recordings:
            # Stopped, but not yet uploaded when the agent went down: finish from the journal.
            rid = finishing.recording_id
            log.warning("agent.finishing_after_restart", recording=rid)
            self._prefixes[rid] = finishing.object_prefix
            self._begin_finish(rid)
        await self.supervisor.supervise("commands", self._take_commands)

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

    async def _take_commands(self) -> None:
        while True:
            for cmd in await self.portal.commands(self.config.poll_wait_s):
                if cmd.id in self._handled:
                    continue  # handled; its acknowledgement waits in the outbox
                self._handled.add(cmd.id)
                try:
                    await self.handle(cmd)
                except BaseException:
                    # Not acknowledged (the outbox could not take it: disk full): the portal
                    # keeps the command, and the next poll takes it again — commands are
                    # idempotent, so one half done is finished, and acknowledged then.
                    self._handled.discard(cmd.id)
                    raise

    async def _read_cards(self, reader: SerialCardReader) -> None:
        """Each tap becomes a check-in event with its own id, through the outbox: while the
        portal is unreachable they queue on disk, and the portal stores each exactly once."""
        while True:
            try:
                await asyncio.to_thread(reader.open)
                self.health.clear("card_reader")
                async for card in reader.cards():
                    log.info("agent.card", card=card[-4:])  # the last digits, not the number
                    tap = Checkin(event_uid=uuid.uuid4(), card_no=card, at=_now())
                    await self.report(CHECKIN_PATH, tap)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unplugged: say so, and try again
                self.health.raise_alert("card_reader", f"card reader: {exc}"[:300])
                log.warning("agent.card_reader_failed", error=str(exc)[:200])
            finally:
                reader.close()
            await asyncio.sleep(5)

    async def _refresh_schedule(self) -> None:
        try:
            entries = await self.portal.schedule()
        except (PortalUnavailable, PortalRejected, PortalRefused) as exc:
            log.info("agent.schedule_from_cache", error=str(exc)[:200], entries=len(self.schedule))
            return
        self.schedule = entries
        await asyncio.to_thread(self.schedule_cache.save, self.schedule, _now())
        listed = {e.recording_id for e in self.schedule}
        for rid in sorted(self._marked(set(self.recorders), BY_SCHEDULE) - listed):
            # Its session was cancelled on the portal after this agent began it (in its pre-roll,
            # or while the portal was out of reach): nothing in the schedule would ever end it,
            # and it would keep the camera from the sessions after it. What it recorded is kept.
            log.warning("agent.schedule_dropped", recording=rid)
            await self.report(recording_path(rid, "stopped"), AgentEvent(at=_now()))
            await self._stop(rid)
            self._begin_finish(rid)

    async def _follow_schedule(self) -> None:
        loop = asyncio.get_running_loop()
        next_fetch = 0.0
        while True:
            if loop.time() >= next_fetch:
                await self._refresh_schedule()
                next_fetch = loop.time() + self.config.schedule_refresh_s
            await self.apply_schedule(_now())
            await asyncio.sleep(1.0)

    async def apply_schedule(self, now: datetime) -> None:
        ids = {e.recording_id for e in self.schedule}
        decision = decide(
            self.schedule,
            now,
            running=set(self.recorders),
            finished=self._marked(ids, "stopped"),
            paused=self._marked(ids, "paused"),
            preroll=timedelta(seconds=self.config.preroll_s),
            postroll=timedelta(seconds=self.config.postroll_s),
        )
        for e in decision.stop:  # first: a session in its post-roll hands over the camera
            log.info("agent.schedule_stop", recording=e.recording_id, session=e.session_id)
            self._prefixes.setdefault(e.recording_id, e.object_prefix)
            await self.report(recording_path(e.recording_id, "stopped"), AgentEvent(at=now))
            await self._stop(e.recording_id)
            self._begin_finish(e.recording_id)
        for e in decision.start:
            log.info("agent.schedule_start", recording=e.recording_id, session=e.session_id)
            try:
                await self._start(e.recording_id, e.object_prefix, e.ptz_preset)
            except Exception:
                log.exception("agent.schedule_start_failed", recording=e.recording_id)
                continue
            self._mark(e.recording_id, BY_SCHEDULE, True)
            await self.report(recording_path(e.recording_id, "started"), AgentEvent(at=now))

    def status(self) -> dict[str, Any]:
        """What the heartbeat carries, and `classroom agent status` shows."""
        uploads, oldest_upload = self.uploader.journal.depth()
        reports, oldest_report = self.outbox.depth()
        now = time.time()
        free = self.free_bytes()
        if free < self.config.min_free_bytes:
            self.health.raise_alert(
                "disk_low",
                f"{free / 1024**2:.0f} MiB free, floor {self.config.min_free_bytes / 1024**2:.0f}",
            )
        else:
            self.health.clear("disk_low")
        level = self.health.audio
        last = self.health.last_segment_at
        return {
            "at": iso_utc(_now()),
            "state": state_of(
                bool(self.recorders),
                uploads,
                reports,
                self.health.portal.reachable,
                set(self.health.alerts),
            ),
            "recordings": sorted(self.recorders),
            "live_viewers": self.live.resources(),
            "devices": {
                "camera": getattr(self.camera, "name", type(self.camera).__name__),
                "mic": getattr(self.mic, "name", None) if self.mic else None,
                "ptz": self.ptz is not None,
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
            await asyncio.sleep(600)

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

    async def handle(self, cmd: Command) -> None:
        log.info("agent.command", id=cmd.id, kind=cmd.kind, recording=cmd.recording_id)
        rid = cmd.recording_id
        self._prefixes.setdefault(rid, cmd.object_prefix)
        try:
            if cmd.kind == CommandKind.START_RECORDING:
                preset = cmd.ptz_preset if cmd.ptz_preset is not None else self._preset_of(rid)
                await self._start(rid, cmd.object_prefix, preset)
            elif cmd.kind == CommandKind.STOP_RECORDING:
                await self._stop(rid)
            elif cmd.kind == CommandKind.PAUSE_RECORDING:
                await self._pause(rid)
            elif cmd.kind == CommandKind.RESUME_RECORDING:
                self._mark(rid, "paused", False)
                await self._start(rid, cmd.object_prefix)
            else:
                raise ValueError(f"unknown command {cmd.kind!r}")
        except Exception as exc:
            log.exception("agent.command_failed", id=cmd.id)
            ack = Ack(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
        else:
            ack = Ack(ok=True)
        await self._acknowledge(cmd.id, ack)
        if cmd.kind == CommandKind.STOP_RECORDING and ack.ok:
            # Only now: the portal hears of the stop before it hears the recording is playable.
            self._begin_finish(rid)

    async def _acknowledge(self, command_id: int, ack: Ack) -> None:
        """Through the outbox; straight to the portal if the outbox cannot take it (the disk
        full): a Stop must be acknowledged at once. Neither: raised, so the command is taken
        again at the next poll."""
        path = ack_path(command_id)
        try:
            await self.report(path, ack)
        except (OSError, sqlite3.Error) as exc:
            log.warning("agent.ack_direct", command=command_id, error=str(exc)[:200])
            await self.portal.once("POST", path, json=ack.model_dump(mode="json"))

    def _preset_of(self, recording_id: int) -> int | None:
        return next((e.ptz_preset for e in self.schedule if e.recording_id == recording_id), None)

    async def _recall(self, preset: int) -> None:
        assert self.ptz is not None
        try:
            async with asyncio.timeout(15):
                await self.ptz.recall(preset)
        except Exception as exc:  # a camera that does not answer must not stop the recording
            log.warning("agent.ptz_preset_failed", preset=preset, error=str(exc)[:200])
        else:
            log.info("agent.ptz_preset", preset=preset)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.config.workdir).free

    async def _start(self, recording_id: int, prefix: str, ptz_preset: int | None = None) -> None:
        self._prefixes[recording_id] = prefix
        if recording_id in self.recorders:  # a repeated command: already recording
            return
        if self.recorders:
            # One camera, one encoder: a second recording would open the device twice (a V4L2
            # camera refuses; an RTSP one would be encoded twice). The portal refuses double
            # bookings; this is the agent's own guard.
            raise CameraBusy(f"the camera is busy with recording {min(self.recorders)}")
        free, floor = self.free_bytes(), self.config.min_free_bytes
        if free < floor:
            message = (
                f"only {free / 1024**2:.0f} MiB free, below the {floor / 1024**2:.0f} MiB floor: "
                "no new capture starts until space is freed"
            )
            self.health.raise_alert("capture_refused", message)
            raise DiskLow(message)
        self.health.clear("capture_refused")
        self._mark(recording_id, UPLOADED, False)
        if ptz_preset is not None and self.ptz is not None:
            self._spawn(self._recall(ptz_preset), self._background)
        # Recording again (resumed, restarted): a join made earlier no longer covers it all.
        for made in ("recording.mp4", "screen.mp4", "composite.mp4"):
            (self._workdir(recording_id) / made).unlink(missing_ok=True)

        async def upload_segment(seg: Segment) -> None:
            self._upload_later(segments_prefix(prefix) + seg.path.name, seg.path)
            self._last_segment = seg.path
            try:
                level = await asyncio.to_thread(audio_level, seg.path)
            except Exception:  # the level is for the dashboard; the segment is already valid
                level = None
            self.health.segment(level)

        def on_fault(fault: RecorderFault) -> None:
            self.health.fault(fault.message, fault.log_tail)

        # The camera's one encode also feeds the live relay and HLS (never a second encoder).
        live = self.live.branches(self._workdir(recording_id)) if self.config.live else None
        recorder = SegmentRecorder(
            self.config.ffmpeg,
            self.camera,
            self.mic,
            self._workdir(recording_id),
            self.config.encode,
            on_segment=upload_segment,
            on_fault=on_fault,
            live=live,
        )
        await recorder.start()
        self.recorders[recording_id] = recorder
        screen_live = None
        if self.screen is not None:
            # The screen is a track of its own: its own encode, its own segments and watchdog;
            # a dead screen capture never stops the camera's.
            async def upload_screen(seg: Segment) -> None:
                self._upload_later(segments_prefix(prefix, "screen") + seg.path.name, seg.path)

            screen = SegmentRecorder(
                self.config.ffmpeg,
                self.screen,
                None,
                self._workdir(recording_id) / "screen",
                self.config.encode,
                on_segment=upload_screen,
                on_fault=on_fault,
                live=self.live.screen_branch() if live is not None else None,
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

    async def _stop_capture(self, recording_id: int, why: RunEnd) -> None:
        await self.live.close(recording_id)
        for recorders in (self.recorders, self.screen_recorders):
            recorder = recorders.get(recording_id)
            if recorder is not None:
                # Let go of it only once it has stopped: a stop cut short (the agent shut down
                # meanwhile) leaves it here for shutdown() to finish — ffmpeg escalated to a
                # signal if it will not quit, its last segment accepted.
                await recorder.stop(why)
                recorders.pop(recording_id, None)

    def _upload_later(self, key: str, segment: Path) -> None:
        """An accepted segment becomes an upload job at once (journaled, capped, verified), so
        the store holds the recording as it grows. Not awaited by the recorder: a slow store
        must not hold up accepting segments."""

        async def put() -> None:
            try:
                await self.finisher.upload(key, segment, "video/mp2t")
            except UploadCancelled:
                pass
            except Exception as exc:  # the journal cannot take it (the disk full): finishing will
                log.warning("agent.upload_later_failed", key=key, error=str(exc)[:200])

        self._spawn(put(), self._background)

    async def _pause(self, recording_id: int) -> None:
        self._mark(recording_id, "paused", True)
        await self._stop_capture(recording_id, RunEnd.PAUSED)

    async def _stop(self, recording_id: int) -> None:
        self._mark(recording_id, "stopped", True)
        self._mark(recording_id, "paused", False)
        await self._stop_capture(recording_id, RunEnd.STOPPED)
        if not self.recorders:
            self.health.recording_stopped()

    def _begin_finish(self, recording_id: int) -> None:
        if recording_id in self._finishing_ids:
            return
        self._finishing_ids.add(recording_id)

        async def finish() -> None:
            try:
                workdir, prefix = self._workdir(recording_id), self._prefixes[recording_id]
                if await self.finisher.finish(recording_id, workdir, prefix):
                    self._mark(recording_id, UPLOADED, True)  # all verified: retention may delete
            finally:
                self._finishing_ids.discard(recording_id)

        self._spawn(finish(), self._finishing)

    async def shutdown(self) -> None:
        """Stop every recording gracefully and finish its upload before returning. Recordings
        are not marked stopped: a restarted agent records the rest of their sessions."""
        if self._metrics is not None:
            self._metrics.close()
        await self.supervisor.stop()
        await self.live.close_all()
        for recording_id in list(self.recorders) + list(self.screen_recorders):
            log.info("agent.stopping_recording", recording=recording_id)
            await self._stop_capture(recording_id, RunEnd.SHUTDOWN)
        pending = self._finishing | self._background
        if pending:
            # No grace while the store does not answer: nothing in flight would finish in it.
            grace = 0.0 if self.health.store.reachable is False else SHUTDOWN_GRACE_S
            _, late = await asyncio.wait(pending, timeout=grace)
            if late:
                log.warning("agent.uploads_deferred", count=len(late))
                self.stop_uploads.set()  # their back-off ends; the journal keeps them
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
