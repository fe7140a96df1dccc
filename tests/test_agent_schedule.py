"""The agent on schedule, in process against an in-process portal, with real ffmpeg, a real S3
server and a simulated VISCA camera: the session's preset is recalled at its start, the trainer
pauses and resumes, and the parts on either side of the pause become one recording."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from classroom.agent import supervisor
from classroom.agent.client import PortalUnavailable
from classroom.agent.outbox import Outbox
from classroom.agent.runner import Agent
from classroom.agent.schedule import ScheduleCache
from classroom.db.models import AgentCommand, CommandState
from classroom.protocol.messages import Ack, Command, CommandKind
from classroom.runtime import Services
from storage.seaweed import S3Connection
from streaming.gaps import RunEnd
from streaming.recorder import Segment
from tests.agent_helpers import Cuttable, running_agent, until
from tests.api_helpers import Portal, book_session, cancel_seeded_session, make_portal
from tests.live_helpers import ffmpeg_processes
from tests.visca_sim import SimulatedCamera, camera

__all__ = ["camera"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextlib.asynccontextmanager
async def recording_agent(
    portal: Portal, s3: S3Connection, bucket: str, data_dir: Path
) -> AsyncIterator[tuple[Agent, dict[str, Any]]]:
    """An agent recording the world's session, started by its trainer: the agent and the
    recording as the portal gave it."""
    sid = portal.world.session_id
    async with (
        portal.as_user("trainer") as trainer,
        running_agent(portal, s3, bucket, data_dir) as agent,
    ):
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.recorders, what="the recording")
        yield agent, rec


RECALL_4 = b"\x81\x01\x04\x3f\x02\x04\xff"


async def test_scheduled_recording_with_preset_pause_and_resume(
    services: Services,
    s3: S3Connection,
    bucket: str,
    tmp_path: Path,
    camera: tuple[SimulatedCamera, int],
) -> None:
    cam, port = camera
    cam.presets[4] = (70, 20)
    portal = await make_portal(services)
    await cancel_seeded_session(portal)
    start = datetime.now(UTC) + timedelta(seconds=1)
    async with portal.as_user("trainer") as trainer:
        room = portal.world.classroom_id
        r = await book_session(
            trainer, room, start, 10, "PTZ + pause", auto_record=True, ptz_preset=4
        )
        sid = r.json()["id"]
        ptz = {"ptz": f"visca://127.0.0.1:{port}"}
        async with running_agent(portal, s3, bucket, tmp_path / "agent", media=ptz) as agent:
            await until(lambda: RECALL_4 in cam.executed, what="the preset recall")
            assert cam.pos == (70, 20) and cam.problems == []

            async def state() -> dict[str, object]:
                recs = (await trainer.get(f"/api/v1/recordings?session_id={sid}")).json()
                return dict(recs[0]) if recs else {}

            rec: dict[str, object] = {}

            async def poll(states: set[str]) -> None:
                nonlocal rec
                deadline = time.monotonic() + 40
                while (rec := await state()).get("state") not in states:
                    assert time.monotonic() < deadline, rec
                    await asyncio.sleep(0.3)

            await poll({"recording"})  # the agent's "started" report arrived
            rid = int(rec["id"])  # type: ignore[call-overload]
            await asyncio.sleep(3)
            r = await trainer.post(f"/api/v1/sessions/{sid}/recording/pause")
            assert r.status_code == 200, r.text
            await until(lambda: rid not in agent.capture.recorders, what="the pause")
            await asyncio.sleep(3)  # paused: nothing is recorded, and the schedule waits
            assert rid not in agent.capture.recorders
            r = await trainer.post(f"/api/v1/sessions/{sid}/recording/resume")
            await until(lambda: rid in agent.capture.recorders, what="the resume")
            await asyncio.sleep(3)
            r = await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
            assert r.status_code == 202
            await poll({"available", "failed"})
    assert rec["state"] == "available", rec
    store = services.store
    keys = [
        str(o.object_name)
        for o in store.client.list_objects(store.bucket, f"recordings/session-{sid}/", True)
    ]
    runs = {k.rsplit("/", 1)[1].split("-")[0] for k in keys if "/segments/" in k}
    assert runs == {"r0001", "r0002"}  # before and after the pause
    # About 3 s + 3 s recorded; the 3 s pause is cut out, not filled.
    assert 4.0 <= float(rec["duration_s"]) <= 9.5, rec  # type: ignore[arg-type]


async def test_a_stop_cut_short_by_shutdown_is_finished_by_it(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """The agent is shut down while it stops a recording (ffmpeg told to quit, not yet gone):
    it keeps the recording until it has stopped, and the shutdown finishes the stop — ffmpeg
    ended and reaped, the last segment accepted — instead of leaving the encoder running."""
    portal = await make_portal(services)
    async with recording_agent(portal, s3, bucket, tmp_path / "agent") as (agent, rec):
        recorder = agent.capture.recorders[rec["id"]]
        await until(lambda: len(recorder.segments) >= 2, what="segments")
        began = asyncio.Event()
        stop = recorder.stop

        async def stop_signalled(why: RunEnd = RunEnd.STOPPED) -> list[Segment]:
            began.set()
            return await stop(why)

        recorder.stop = stop_signalled  # type: ignore[method-assign]
        segments_before = len(recorder.segments)
        stopping = asyncio.create_task(agent.capture.end(rec["id"], RunEnd.STOPPED))
        await began.wait()  # the stop now waits for ffmpeg to quit
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
        assert rec["id"] in agent.capture.recorders  # not stopped yet: still the agent's to stop
    assert not recorder.running and ffmpeg_processes() == 0
    assert len(recorder.segments) > segments_before  # the one open at the stop, accepted


async def test_the_camera_is_not_opened_twice(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """A start for a second recording while one records here (a command from a portal that let a
    double booking through): refused, acknowledged as failed with the reason, and the one
    recording keeps the camera — one encoder, one ffmpeg."""
    portal = await make_portal(services)
    sid = portal.world.session_id
    async with recording_agent(portal, s3, bucket, tmp_path / "agent") as (agent, rec):
        other = rec["id"] + 1000
        sent: list[tuple[str, BaseModel]] = []
        report = agent.commands.report

        async def keep(path: str, message: BaseModel) -> None:
            sent.append((path, message))

        agent.commands.report = keep
        try:
            await agent.commands.handle(
                Command(
                    id=99,
                    kind=CommandKind.START_RECORDING,
                    recording_id=other,
                    session_id=sid + 1000,
                    object_prefix=f"recordings/x-{other}/",
                )
            )
        finally:
            agent.commands.report = report
        assert list(agent.capture.recorders) == [rec["id"]] and ffmpeg_processes() == 1
        ((path, ack),) = sent
        assert path == "/agent/commands/99/ack" and isinstance(ack, Ack) and ack.ok is False
        assert "CameraBusy" in str(ack.error) and str(rec["id"]) in str(ack.error)


async def test_a_resume_refused_at_start_leaves_the_agent_taking_commands(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """Restarted with a recording to resume but the disk below its floor: the resume is refused
    with the alert, and the agent goes on (it used to end its main loop there, deaf to the
    trainer's Stop)."""
    portal = await make_portal(services)
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer, portal.agent() as device:
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        (cmd,) = (await device.get("/api/v1/agent/commands")).json()
        await device.post(f"/api/v1/agent/commands/{cmd['id']}/ack", json={"ok": True})
        at = datetime.now(UTC).isoformat()
        r = await device.post(f"/api/v1/agent/recordings/{rec['id']}/started", json={"at": at})
        assert r.json()["state"] == "recording"  # as if the agent went down mid-recording
    floor = {"min_free_mb": 2**40}
    async with (
        portal.as_user("trainer") as trainer,
        running_agent(portal, s3, bucket, tmp_path / "agent", agent=floor) as agent,
    ):
        await until(lambda: "capture_refused" in agent.health.alerts, what="the refusal")
        assert (await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")).status_code == 202
        await until(lambda: agent.recordings.marker(rec["id"], "stopped").exists(), what="the stop")
        assert agent.capture.recorders == {}


async def test_a_session_cancelled_while_the_agent_records_it_is_stopped(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """The agent began a scheduled session while the portal was out of its reach, and the
    session was cancelled meanwhile (the portal had not heard it start). When the agent hears
    the schedule again, the recording is stopped — nothing else would ever end it — and the
    camera goes to the next session."""
    portal = await make_portal(services)
    await cancel_seeded_session(portal)
    net = Cuttable(portal.transport)

    async def book(title: str, start: datetime) -> int:
        async with portal.as_user("trainer") as trainer:
            r = await book_session(
                trainer, portal.world.classroom_id, start, 10, title, auto_record=True
            )
            assert r.status_code == 201, r.text
            sid: int = r.json()["id"]
            return sid

    sid = await book("cancelled", datetime.now(UTC) + timedelta(seconds=3))
    async with running_agent(portal, s3, bucket, tmp_path / "agent", transport=net) as agent:
        await until(
            lambda: [e.session_id for e in agent.schedule.entries] == [sid], what="the schedule"
        )
        (entry,) = agent.schedule.entries
        net.down = True
        await until(
            lambda: entry.recording_id in agent.capture.recorders, what="the scheduled start"
        )
        async with portal.as_user("trainer") as trainer:
            assert (await trainer.delete(f"/api/v1/sessions/{sid}")).status_code == 204
        nxt = await book("next", datetime.now(UTC))
        net.down = False
        await asyncio.sleep(5)
        print()
        await until(lambda: entry.recording_id not in agent.capture.recorders, what="the stop")
        await until(
            lambda: any(r != entry.recording_id for r in agent.capture.recorders),
            what="the next session",
        )
        assert [e.session_id for e in agent.schedule.entries] == [nxt]


async def test_a_loop_that_fails_is_restarted(
    services: Services,
    s3: S3Connection,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk is full when the agent caches its schedule: the schedule loop fails, says so in
    an alert, and is started again — the session is recorded once the disk has room, and the
    alert clears. (A loop that failed once used to end for the life of the agent.)"""
    monkeypatch.setattr(supervisor, "HEALTHY_S", 1.0)
    full = {"left": 2}
    save = ScheduleCache.save

    def disk_full_twice(self: ScheduleCache, *args: Any) -> None:
        if full["left"]:
            full["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        save(self, *args)

    monkeypatch.setattr(ScheduleCache, "save", disk_full_twice)
    portal = await make_portal(services)
    await cancel_seeded_session(portal)
    start = datetime.now(UTC) + timedelta(seconds=1)
    async with portal.as_user("trainer") as trainer:
        r = await book_session(
            trainer, portal.world.classroom_id, start, 10, "disk full", auto_record=True
        )
        sid = r.json()["id"]
    async with running_agent(portal, s3, bucket, tmp_path / "agent") as agent:
        await until(lambda: "loop_schedule" in agent.health.alerts, what="the alert")
        assert "No space left" in agent.health.alerts["loop_schedule"].message
        await until(lambda: agent.capture.recorders, what="the scheduled recording")
        assert [e.session_id for e in agent.schedule.entries] == [sid] and full["left"] == 0
        await until(lambda: "loop_schedule" not in agent.health.alerts, what="the all-clear")


async def test_an_acknowledgement_the_outbox_cannot_keep_goes_straight_to_the_portal(
    services: Services,
    s3: S3Connection,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk is full when the agent would keep a command's acknowledgement: it is sent to the
    portal at once instead (a Stop waited minutes for disk space); when the portal cannot take it
    either, the command loop fails, is restarted and takes the command again — already done, so
    nothing is done twice — and acknowledges it then."""
    full = {"left": 2}
    put = Outbox.put

    async def disk_full(self: Outbox, method: str, path: str, body: dict[str, Any]) -> None:
        if path.endswith("/ack") and full["left"]:
            full["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        await put(self, method, path, body)

    monkeypatch.setattr(Outbox, "put", disk_full)
    portal = await make_portal(services)

    async def commands(state: CommandState) -> list[str]:
        async with portal.services.sessionmaker() as db:
            rows = await db.scalars(select(AgentCommand).where(AgentCommand.state == state))
            return [c.kind.value for c in rows]

    async def done(kinds: list[str]) -> None:
        deadline = time.monotonic() + 30
        while await commands(CommandState.DONE) != kinds:
            assert time.monotonic() < deadline, "timed out waiting for the acknowledgement"
            await asyncio.sleep(0.2)

    async with recording_agent(portal, s3, bucket, tmp_path / "agent") as (agent, _rec):
        await done(["start_recording"])  # the outbox refused it: sent straight
        assert full["left"] == 1 and "loop_commands" not in agent.health.alerts
        async with portal.as_user("trainer") as trainer:
            sid = portal.world.session_id
            original = agent.portal.once
            lost = {"left": 1}

            async def portal_down_for_the_ack(method: str, path: str, **kw: Any) -> Any:
                if path.endswith("/ack") and lost["left"]:  # the direct send fails too, once
                    lost["left"] -= 1
                    raise PortalUnavailable("portal unreachable (cut)")
                return await original(method, path, **kw)

            monkeypatch.setattr(agent.portal, "once", portal_down_for_the_ack)
            assert (await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")).status_code == 202
        await until(lambda: "loop_commands" in agent.health.alerts, what="the alert")
        await done(["start_recording", "stop_recording"])  # taken again, acknowledged then
        await until(lambda: not agent.capture.recorders, what="the stop")
