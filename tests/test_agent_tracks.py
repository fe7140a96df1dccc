"""Camera and screen as two tracks (each its own encode and segments), both kept and uploaded,
plus the side-by-side composite made after the session; each verified by the portal."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import pytest

from classroom.runtime import Services
from storage.seaweed import S3Connection
from streaming.recorder import noted_durations
from tests.agent_helpers import running_agent, until
from tests.api_helpers import make_portal

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _video(data: bytes, path: Path) -> tuple[int, int, int, float]:
    path.write_bytes(data)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f for f in c.decode(v)]
        return v.codec_context.width, v.codec_context.height, len(frames), float(frames[-1].time)


async def test_camera_and_screen_tracks_and_the_composite(
    services: Services, s3: S3Connection, bucket: str, tmp_path: Path
) -> None:
    portal = await make_portal(services)
    sid = portal.world.session_id
    media = {"screen": "synthetic", "screen_size": "320x180", "screen_fps": 5, "composite": True}
    async with (
        portal.as_user("trainer") as trainer,
        running_agent(portal, s3, bucket, tmp_path / "agent", media=media) as agent,
    ):
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        await until(lambda: rec["id"] in agent.capture.screen_recorders, what="the screen capture")
        await asyncio.sleep(4)
        await trainer.post(f"/api/v1/sessions/{sid}/recording/stop")
        deadline = time.monotonic() + 60
        while (got := (await trainer.get(f"/api/v1/recordings/{rec['id']}")).json())[
            "state"
        ] not in ("available", "failed"):
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.3)
        assert got["state"] == "available", got
        # watchable first, at Stop; whole (the MP4s, chapters) after
        assert got["playable_at"] and got["playable_at"] <= got["available_at"], got
        assert set(got["tracks"]) == {"screen", "composite", "hls", "screen_hls", "chapters"}
        # HLS over the uploaded segments, for each track: every segment named is served.
        for track in ("camera", "screen"):
            hls = f"/api/v1/recordings/{rec['id']}/hls/{track}"
            r = await trainer.get(f"{hls}/index.m3u8")
            assert r.status_code == 200 and "#EXT-X-ENDLIST" in r.text, r.text
            names = [line for line in r.text.splitlines() if line.endswith(".ts")]
            lengths = [
                float(x.split(":")[1].rstrip(","))
                for x in r.text.splitlines()
                if x.startswith("#EXTINF")
            ]
            assert names and len(lengths) == len(names)
            if track == "camera":
                assert abs(sum(lengths) - got["duration_s"]) < 0.5
                # written from the durations noted as each segment was accepted
                noted = noted_durations(agent.recordings.dir(rec["id"]) / "segments")
                assert lengths == pytest.approx([noted[n] for n in names], abs=1e-3)
            seg = await trainer.get(f"{hls}/{names[-1]}")
            assert seg.status_code == 200 and seg.content[:1] == b"\x47"
        bad = f"/api/v1/recordings/{rec['id']}/hls"
        assert (await trainer.get(f"{bad}/camera/..%2Frecording.mp4")).status_code == 404
        newline = f"{bad}/camera/{names[0]}%0A"  # a name must match whole: "$" takes a newline
        assert (await trainer.get(newline)).status_code == 404
        assert (await trainer.get(f"{bad}/composite/index.m3u8")).status_code == 422
        # Chapters where the slides change, each with a thumbnail.
        chapters = (await trainer.get(f"/api/v1/recordings/{rec['id']}/chapters")).json()
        assert chapters and chapters[0]["start_s"] == 0
        thumb = await trainer.get(chapters[0]["thumbnail"])
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
        base = f"/api/v1/recordings/{rec['id']}/media"
        cam = _video((await trainer.get(base)).content, tmp_path / "cam.mp4")
        scr = _video((await trainer.get(f"{base}?track=screen")).content, tmp_path / "s.mp4")
        both = _video((await trainer.get(f"{base}?track=composite")).content, tmp_path / "c.mp4")
        assert (await trainer.get(f"{base}?track=slides")).status_code == 422
    assert cam[:2] == (320, 240) and scr[:2] == (320, 180)
    assert scr[2] >= 10  # 5 fps for some seconds: the slides really were recorded
    assert both[:2] == (960 + 1280, 720)  # each side scaled to 720 lines, side by side
    assert both[3] >= min(cam[3], scr[3]) - 1.0
    store = services.store
    prefix = f"recordings/session-{sid}/recording-{rec['id']}/"
    keys = {str(o.object_name) for o in store.client.list_objects(store.bucket, prefix, True)}
    assert any(k.startswith(prefix + "screen/segments/") for k in keys)
    assert {prefix + "screen.mp4", prefix + "composite.mp4", prefix + "recording.mp4"} <= keys
