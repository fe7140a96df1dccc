"""Live from the recorder's one encode: the synthetic camera and microphone recorded by one
ffmpeg, whose live branch is relayed over WebRTC to three viewers (real aiortc peers that decode
what they get) with no encoder per viewer, while the same encode is recorded in segments and
published as HLS."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from hardware.synthetic import SyntheticCamera, SyntheticMic
from storage.ports import free_udp_port
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.live import LiveError, LiveRelay, LiveSource
from streaming.recorder import EncodeSettings, LiveBranches, SegmentRecorder
from tests.agent_helpers import until
from tests.live_helpers import Viewer, ffmpeg_processes

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_one_encode_goes_to_three_viewers_the_recording_and_hls(tmp_path: Path) -> None:
    port = free_udp_port()
    hls = tmp_path / "hls"
    recorder = SegmentRecorder(
        resolve_ffmpeg(),
        SyntheticCamera(size="640x360", fps=30),
        SyntheticMic(),
        tmp_path / "rec",
        EncodeSettings(segment_seconds=2, x264_preset="ultrafast"),
        live=LiveBranches(udp_port=port, hls_dir=hls),
    )
    before = ffmpeg_processes()
    await recorder.start()
    relay = LiveRelay(LiveSource(port))
    viewers = [Viewer() for _ in range(3)]
    try:
        await viewers[0].join(relay)
        await until(lambda: viewers[0].frames >= 30, 30, "the first viewer's frames")
        encoders = ffmpeg_processes() - before
        for v in viewers[1:]:
            await v.join(relay)
        assert relay.viewers == 3
        await until(lambda: all(v.frames >= 60 for v in viewers), 30, "every viewer's frames")
        assert ffmpeg_processes() - before == encoders == 1  # one encode, however many watch
        assert all(v.sizes == {(640, 360)} and v.audio for v in viewers)
        # The same encode, as HLS: a playlist of 2-second segments that play.
        await until(lambda: len(list(hls.glob("*.ts"))) >= 2, 20, "HLS segments")
        with av.open(str(hls / "live.m3u8")) as hls_in:
            assert {s.type for s in hls_in.streams} == {"video", "audio"}
        # A viewer leaves (WHEP DELETE): the others go on.
        assert await relay.close(viewers[0].resource) and relay.viewers == 2
        assert not await relay.close(viewers[0].resource)  # already gone
        seen = viewers[1].frames
        await until(lambda: viewers[1].frames >= seen + 30, 15, "frames after one left")
    finally:
        for v in viewers:
            await v.leave()
        await relay.stop()
        segments = await recorder.stop()
    assert segments and all(s.media.has_audio for s in segments)


async def test_an_unusable_offer_or_no_stream_is_refused(tmp_path: Path) -> None:
    relay = LiveRelay(LiveSource(free_udp_port()))
    with pytest.raises(LiveError, match="no video"):
        await relay.offer("v=0\r\nthis is not an offer\r\n")
    viewer = Viewer()
    started = time.monotonic()
    with pytest.raises(LiveError, match="not running"):  # nothing sends: refused, in seconds
        await viewer.join(relay)
    assert time.monotonic() - started < 15 and relay.viewers == 0
    await viewer.leave()
    await relay.stop()
