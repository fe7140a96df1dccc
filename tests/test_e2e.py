"""End to end without a browser: real portal and agent processes, ffmpeg, S3, SQLite."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from datetime import UTC, datetime, timedelta

import av
import httpx
import pytest

from streaming.media_check import check_media
from tests.live_stack import LiveStack
from tests.recording_helpers import accounted_for, wait_state

pytestmark = pytest.mark.slow


def segment_keys(live: LiveStack, sid: int, rec_id: int) -> list[str]:
    prefix = f"recordings/session-{sid}/recording-{rec_id}/segments/"
    return [str(o.object_name) for o in live.store.client.list_objects(live.store.bucket, prefix)]


def decoded_seconds(path: str) -> tuple[float, float]:
    """Seconds of video and of audio that really decode."""
    with av.open(path) as c:
        times = [f.time for f in c.decode(c.streams.video[0]) if f.time is not None]
    with av.open(path) as c:
        samples = sum(f.samples for f in c.decode(c.streams.audio[0]))
        rate = c.streams.audio[0].rate
    return max(times) - min(times), samples / rate


def test_record_store_and_verify(live: LiveStack, tmp_path) -> None:
    trainer = live.login("trainer")
    sid = live.world.session_id
    r = trainer.post(f"/api/v1/sessions/{sid}/recording/start")
    assert r.status_code == 202, r.text
    rec_id = r.json()["id"]
    wait_state(trainer, rec_id, {"recording"}, timeout=20)
    time.sleep(6)
    assert trainer.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202
    rec = wait_state(trainer, rec_id, {"available", "failed"})
    assert rec["state"] == "available", (rec, live.tail())

    key = f"recordings/session-{sid}/recording-{rec_id}/recording.mp4"
    info = live.store.stat(key)
    assert info.sha256 == rec["sha256"] and info.size == rec["size_bytes"]
    local = tmp_path / "got.mp4"
    local.write_bytes(b"".join(live.store.open_range(key)))
    assert hashlib.sha256(local.read_bytes()).hexdigest() == rec["sha256"]
    video_s, audio_s = decoded_seconds(str(local))
    assert video_s >= 4.0 and audio_s >= 4.0
    assert rec["duration_s"] >= 4.0
    assert rec["complete"] is True and accounted_for(rec, slack_s=3.0) == []

    # The same bytes through the portal, whole and by range, for the player.
    whole = trainer.get(f"/api/v1/recordings/{rec_id}/media")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert hashlib.sha256(whole.content).hexdigest() == rec["sha256"]
    part = trainer.get(f"/api/v1/recordings/{rec_id}/media", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{rec['size_bytes']}"

    # The segments went up too, each with its hash.
    seg_keys = segment_keys(live, sid, rec_id)
    assert len(seg_keys) >= 3
    assert all(live.store.stat(k).sha256 for k in seg_keys)


def test_agent_killed_mid_recording_resumes_and_keeps_the_first_part(live: LiveStack) -> None:
    trainer = live.login("trainer")
    sid = live.world.session_id
    rec_id = trainer.post(f"/api/v1/sessions/{sid}/recording/start").json()["id"]
    wait_state(trainer, rec_id, {"recording"}, timeout=20)
    recording_since = time.monotonic()
    time.sleep(7)
    live.stop(live.agent, signal.SIGKILL)  # no chance to clean up
    killed_after = time.monotonic() - recording_since
    live.start_agent()  # it learns from the portal that it was recording, and goes on
    time.sleep(6)
    assert trainer.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202
    rec = wait_state(trainer, rec_id, {"available", "failed"})
    assert rec["state"] == "available", (rec, live.tail())
    seg_keys = segment_keys(live, sid, rec_id)
    runs = {k.rsplit("/", 1)[1].split("-")[0] for k in seg_keys}
    assert runs == {"r0001", "r0002"}  # both parts, joined in order
    assert rec["duration_s"] >= 8.0
    # Before the kill, everything but the segment open at that moment was kept: at most one
    # segment (2 s here) lost, plus ffmpeg's first second to open its inputs.
    before = 0.0
    for key in seg_keys:
        if "/r0001-" in key:
            local = live.data_dir / "check.ts"
            live.store.client.fget_object(live.store.bucket, key, str(local))
            before += check_media(local, need_audio=True).duration_s
    assert before >= killed_after - 2.0 - 1.0, (before, killed_after)
    # Said on the recording: where the agent was down, for how long; nothing else missing.
    gaps = accounted_for(rec, slack_s=3.0)
    assert [g["reason"] for g in gaps] == ["agent_down"]
    assert gaps[0]["at_s"] == pytest.approx(before, abs=0.1)


def test_portal_down_during_a_scheduled_session(live: LiveStack) -> None:
    """The agent records on schedule from its cached copy while the portal is stopped, uploads
    to the store meanwhile, and reports it all (with the real times) when the portal is back."""
    live.end_demo_session()
    trainer = live.login("trainer")
    start = datetime.now(UTC) + timedelta(seconds=6)
    r = trainer.post(
        "/api/v1/sessions",
        json={
            "title": "scheduled, portal down",
            "kind": "other",
            "course_id": 1,
            "classroom_id": live.world.classroom_id,
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(seconds=8)).isoformat(),
            "auto_record": True,
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    cache = live.data_dir / "agent" / f"classroom-{live.world.classroom_id}" / "schedule.json"
    deadline = time.monotonic() + 10
    while f'"session_id": {sid}' not in (cache.read_text() if cache.exists() else ""):
        assert time.monotonic() < deadline, live.tail()
        time.sleep(0.2)
    rec_id = json.loads(cache.read_text())["entries"][-1]["recording_id"]
    live.stop(live.portal)
    try:
        # Session: 8 s, then the post-roll (2 s), the join and the upload: all without a portal.
        final = f"recordings/session-{sid}/recording-{rec_id}/recording.mp4"
        deadline = time.monotonic() + 45
        while not any(True for _ in live.store.client.list_objects(live.store.bucket, final)):
            assert time.monotonic() < deadline, live.tail()
            time.sleep(0.5)
        assert live.portal is not None and live.portal.poll() is not None  # really down
    finally:
        live.start_portal()
    trainer = live.login("trainer")
    rec = wait_state(trainer, rec_id, {"available", "failed"}, timeout=30)
    assert rec["state"] == "available", (rec, live.tail())
    assert 7.0 <= rec["duration_s"] <= 13.0  # 8 s and the 2 s post-roll, give or take a segment
    session = trainer.get(f"/api/v1/sessions/{sid}").json()
    started = datetime.fromisoformat(session["actual_start"])
    assert abs((started - start).total_seconds()) < 3  # the agent's time, not the report's


def test_portal_healthz_and_openapi(live: LiveStack) -> None:
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"
    spec = httpx.get(f"{live.url}/api/v1/openapi.json").json()
    assert "/api/v1/sessions/{session_id}/recording/start" in spec["paths"]
