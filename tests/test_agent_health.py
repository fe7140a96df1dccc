"""The agent's health, end to end in process: heartbeat to the dashboard with the audio level
and a "no audio" alert, a preview frame, the disk guard refusing new captures, an agent that
stops reporting flagged; retention deleting only verified local copies, oldest first."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from classroom.agent.launch import build_agent
from classroom.agent.metrics import serve_metrics
from classroom.agent.retention import UPLOADED, sweep
from classroom.runtime import Services
from storage.multipart import DEFAULT_PART, default_workers
from storage.ports import free_port
from storage.seaweed import S3Connection
from tests.agent_helpers import running_agent, until
from tests.api_helpers import Portal, make_portal
from tests.conftest import make_settings


@pytest.mark.anyio
@pytest.mark.slow
async def test_heartbeat_dashboard_alerts_preview_and_disk_guard(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    services.settings.web.agent_offline_after_s = 5
    portal = await make_portal(services)
    sid = portal.world.session_id
    data_dir = tmp_path / "agent"
    port = free_port()
    trainer = portal.client()
    await portal.log_in(trainer, "trainer")

    async def room() -> dict:
        rooms = (await trainer.get("/api/v1/classrooms/status")).json()
        return next(r for r in rooms if r["id"] == portal.world.classroom_id)

    async with running_agent(
        portal,
        s3,
        bucket,
        data_dir,
        media={"mic": "silent"},
        agent={"heartbeat_s": 1, "preview_s": 1, "silence_alert_s": 2, "metrics_port": port},
    ) as agent:
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()

        async def alert_seen(code: str) -> dict:
            deadline = time.monotonic() + 30
            while True:
                (a,) = (await room())["agents"]
                codes = [x["code"] for x in (a["status"] or {}).get("alerts", [])]
                if code in codes:
                    return a
                assert time.monotonic() < deadline, a
                await asyncio.sleep(0.3)

        a = await alert_seen("no_audio")  # the mic is muted: alert after 2 s of silence
        assert a["online"] and a["status"]["state"] == "recording"
        assert a["status"]["audio_peak_dbfs"] <= -59
        assert a["status"]["recordings"] == [rec["id"]]
        assert a["status"]["devices"]["mic"] == "synthetic-mic"
        await until(lambda: portal.services.previews, what="a preview")
        jpeg = await trainer.get(f"/api/v1/classrooms/{portal.world.classroom_id}/preview.jpg")
        assert jpeg.status_code == 200 and jpeg.content[:3] == b"\xff\xd8\xff"
        page = await trainer.get("/classrooms")
        assert page.status_code == 200
        assert "无声音" in page.text and 'data-state="recording"' in page.text
        local = json.loads((agent.config.workdir / "status.json").read_text())
        assert local["state"] == "recording"  # what `classroom agent status` reads
        cli = await _agent_status(data_dir, "--json")
        assert cli.returncode == 1  # an alert is up
        shown = json.loads(cli.stdout)
        assert shown["running"] and shown["state"] == "recording"
        assert [a["code"] for a in shown["alerts"]] == ["no_audio"]
        table = await _agent_status(data_dir)
        assert "ALERT no_audio" in table.stdout and "recording" in table.stdout
        async with httpx.AsyncClient() as scrape:
            m = (await scrape.get(f"http://127.0.0.1:{port}/metrics")).text
            assert (await scrape.get(f"http://127.0.0.1:{port}/other")).status_code == 404
        assert 'classroom_agent_state{state="recording"} 1' in m
        assert 'classroom_agent_alert{code="no_audio"} 1' in m
        assert "# TYPE classroom_agent_segments counter" in m
        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
        deadline = time.monotonic() + 30
        while (await trainer.get(f"/api/v1/recordings/{rec['id']}")).json()["state"] not in (
            "processing",
            "available",
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)

        # The disk guard: below the floor, a new capture is refused and said why.
        agent.config.min_free_bytes = 1 << 60
        r = await trainer.post(f"/api/v1/sessions/{sid}/recording/start")
        second = r.json()["id"]
        assert second != rec["id"]
        deadline = time.monotonic() + 20
        while (got := (await trainer.get(f"/api/v1/recordings/{second}")).json())[
            "state"
        ] != "failed":
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.3)
        assert "below the" in got["error"] and "MiB floor" in got["error"]
        a = await alert_seen("capture_refused")
        assert a["status"]["state"] == "fault"
        assert {"disk_low", "capture_refused"} <= {x["code"] for x in a["status"]["alerts"]}
    # The agent is gone: after agent_offline_after_s the dashboard says so.
    deadline = time.monotonic() + 20
    while (await room())["agents"][0]["online"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    page = await trainer.get("/classrooms")
    assert 'data-offline="1"' in page.text
    await trainer.aclose()
    assert (await _agent_status(data_dir)).returncode == 3  # not running: the status is stale


async def _agent_status(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")},
        "CLASSROOM_DATA_DIR": str(data_dir),
        "CLASSROOM_AGENT__HEARTBEAT_S": "1",
    }
    cmd = [sys.executable, "-m", "classroom.cli", "agent", "status", "--classroom", "1", *args]
    return await asyncio.to_thread(
        subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.anyio
async def test_portal_metrics_for_the_scraper_and_admins_only(services: Services) -> None:
    services.settings.web.metrics_token = "scrape-secret-0123456789"
    portal = await make_portal(services)
    async with portal.agent() as agent:
        beat = {
            "at": "2026-11-26T00:00:00+00:00",
            "state": "uploading",
            "disk_free_bytes": 5_000_000_000,
            "disk_min_free_bytes": 2_000_000_000,
            "uploads_pending": 3,
            "reports_pending": 1,
            "alerts": [{"code": "no_audio", "message": "m", "since": "s"}],
        }
        assert (await agent.post("/api/v1/agent/heartbeat", json=beat)).status_code == 204
    async with portal.client() as anon:
        assert (await anon.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await anon.get("/metrics", headers=wrong)).status_code == 401
        ok = {"Authorization": "Bearer scrape-secret-0123456789"}
        r = await anon.get("/metrics", headers=ok)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    labels = 'agent="demo-agent",classroom="1"'
    assert f"classroom_agent_up{{{labels}}} 1" in r.text
    assert f"classroom_agent_uploads_pending{{{labels}}} 3" in r.text
    assert f'classroom_agent_alert{{{labels},code="no_audio"}} 1' in r.text
    assert 'classroom_recordings{state="available"}' in r.text
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.get("/metrics")).status_code == 403
    async with portal.as_user("admin") as admin:
        assert (await admin.get("/metrics")).status_code == 200


@pytest.mark.anyio
async def test_who_sees_the_dashboard_and_what_agents_may_send(services: Services) -> None:
    portal: Portal = await make_portal(services)
    room = portal.world.classroom_id
    async with portal.as_user("officer1") as officer:
        assert (await officer.get("/api/v1/classrooms/status")).status_code == 403
        assert (await officer.get(f"/api/v1/classrooms/{room}/preview.jpg")).status_code == 403
        assert (await officer.get("/classrooms")).status_code == 403
    async with portal.agent() as agent:
        assert (await agent.get("/api/v1/classrooms/status")).status_code == 401
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
        r = await agent.post("/api/v1/agent/preview", content=png)
        assert r.status_code == 415
        big = b"\xff\xd8\xff" + b"\0" * (600 * 1024) + b"\xff\xd9"
        assert (await agent.post("/api/v1/agent/preview", content=big)).status_code == 413
        r = await agent.post("/api/v1/agent/heartbeat", json={"state": "dancing"})
        assert r.status_code == 422
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.get(f"/api/v1/classrooms/{room}/preview.jpg")).status_code == 404


def _recording(root: Path, rid: int, uploaded_days_ago: float | None) -> Path:
    d = root / f"recording-{rid}"
    (d / "segments").mkdir(parents=True)
    (d / "segments" / "r0001-00000.ts").write_bytes(b"x" * 1000)
    if uploaded_days_ago is not None:
        marker = d / UPLOADED
        marker.touch()
        t = time.time() - uploaded_days_ago * 86400
        os.utime(marker, (t, t))
    return d


def test_retention_deletes_only_verified_copies_oldest_first(tmp_path: Path) -> None:
    old = _recording(tmp_path, 1, uploaded_days_ago=20)
    newer = _recording(tmp_path, 2, uploaded_days_ago=3)
    newest = _recording(tmp_path, 3, uploaded_days_ago=1)
    unverified = _recording(tmp_path, 4, uploaded_days_ago=None)
    # Plenty of space: only what is past the retention period goes.
    assert sweep(tmp_path, keep_days=14, min_free_bytes=0) == [old]
    # Disk low: verified copies go oldest first until there is room again...
    free = iter([100, 5000])
    removed = sweep(tmp_path, keep_days=14, min_free_bytes=1000, free_bytes=lambda: next(free))
    assert removed == [newer] and newest.exists()
    # ...and never what is not yet verified in the store, however full the disk.
    removed = sweep(tmp_path, keep_days=14, min_free_bytes=10**18)
    assert removed == [newest]
    assert unverified.exists() and (unverified / "segments" / "r0001-00000.ts").exists()


@pytest.mark.anyio
@pytest.mark.slow
async def test_retention_forgets_the_upload_jobs_of_the_copies_it_deleted(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """The agent's sweep: the copy past its retention period goes, and with it its done jobs in
    the upload journal (they could never be queued again; kept, the journal only grows)."""
    portal = await make_portal(services)
    settings = make_settings(tmp_path / "agent", s3, bucket, agent={"min_free_mb": 0})
    world = portal.world
    agent = await build_agent(
        settings, world.classroom_id, "http://testserver", world.agent_token, portal.transport
    )
    try:
        await asyncio.to_thread(agent.store.ensure_bucket)
        old = _recording(agent.config.workdir, 1, uploaded_days_ago=20)
        kept = _recording(agent.config.workdir, 12, uploaded_days_ago=1)
        for d in (old, kept):
            key = f"recordings/{d.name}/segments/r0001-00000.ts"
            seg = d / "segments" / "r0001-00000.ts"
            await asyncio.to_thread(agent.uploader.enqueue, key, seg, "video/mp2t")
            await asyncio.to_thread(agent.uploader.upload, key)
        assert await asyncio.to_thread(agent.sweep) == [old]
        journal = agent.uploader.journal
        assert journal.get("recordings/recording-1/segments/r0001-00000.ts") is None
        job = journal.get("recordings/recording-12/segments/r0001-00000.ts")
        assert job is not None and job.state == "done" and kept.exists()
    finally:
        await agent.portal.aclose()


@pytest.mark.anyio
async def test_agent_metrics_endpoint_answers_bad_requests_too() -> None:
    """The agent's scrape endpoint: its metrics at GET /metrics, 404 elsewhere, and a request
    line too long for its reader answered 400 (not a connection dropped with a traceback)."""
    port = free_port()
    server = await serve_metrics(port, lambda: "classroom_agent_up 1\n")

    async def ask(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    try:
        ok = await ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200") and ok.endswith(b"classroom_agent_up 1\n")
        assert (await ask(b"GET /other HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        huge = b"GET /metrics?" + b"x" * 100_000 + b" HTTP/1.1\r\n\r\n"
        assert (await ask(huge)).startswith(b"HTTP/1.1 400")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.anyio
async def test_the_parts_in_flight_setting_reaches_the_uploader(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    """agent.upload_parts_in_flight: 0 picks by the host's cores; a number is taken as it is,
    and an upload sent that many parts at a time arrives whole and verified."""
    portal = await make_portal(services)
    world = portal.world
    for wanted, expected in ((0, default_workers(DEFAULT_PART)), (6, 6)):
        settings = make_settings(
            tmp_path / f"agent-{wanted}", s3, bucket, agent={"upload_parts_in_flight": wanted}
        )
        agent = await build_agent(
            settings, world.classroom_id, "http://testserver", world.agent_token, portal.transport
        )
        try:
            assert agent.uploader.workers == expected
            await asyncio.to_thread(agent.store.ensure_bucket)
            big = tmp_path / f"big-{wanted}.bin"
            big.write_bytes(os.urandom(13 * 1024 * 1024))  # three parts
            await asyncio.to_thread(agent.uploader.enqueue, f"in-flight/{wanted}", big, "video/mp4")
            info = await asyncio.to_thread(agent.uploader.upload, f"in-flight/{wanted}")
            assert info.size == big.stat().st_size
            assert info.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
        finally:
            await agent.portal.aclose()
