"""End to end without a browser: real portal and agent processes, ffmpeg, S3, SQLite."""

from __future__ import annotations

import hashlib
import signal
import time

import av
import httpx
import pytest

from tests.live_stack import LiveStack

pytestmark = pytest.mark.slow


def wait_state(client: httpx.Client, rec_id: int, states: set[str], timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = client.get(f"/api/v1/recordings/{rec_id}").json()
        if rec["state"] in states:
            return rec
        time.sleep(0.25)
    raise TimeoutError(f"recording {rec_id} stuck in {rec['state']}")


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
    time.sleep(5)
    live.stop(live.agent, signal.SIGKILL)  # no chance to clean up
    live.start_agent()  # it learns from the portal that it was recording, and goes on
    time.sleep(6)
    assert trainer.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202
    rec = wait_state(trainer, rec_id, {"available", "failed"})
    assert rec["state"] == "available", (rec, live.tail())
    seg_keys = segment_keys(live, sid, rec_id)
    runs = {k.rsplit("/", 1)[1].split("-")[0] for k in seg_keys}
    assert runs == {"r0001", "r0002"}  # both parts, joined in order
    assert rec["duration_s"] >= 8.0


def test_portal_healthz_and_openapi(live: LiveStack) -> None:
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"
    spec = httpx.get(f"{live.url}/api/v1/openapi.json").json()
    assert "/api/v1/sessions/{session_id}/recording/start" in spec["paths"]
