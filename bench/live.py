"""Live, 720p30 from the synthetic camera with the clock burnt in as blocks (streaming/latency.py),
the recorder's one encode (the production settings: x264 veryfast, 2.5 Mbit/s, 1 s GOP), all on
this machine over loopback:

1. Glass-to-glass latency, from the moment ffmpeg draws a frame to the decoded frame at the
   receiver: through the WebRTC relay to a Python receiver (aiortc) and to headless Chromium
   (requestVideoFrameCallback, at the frame's expected display time). Baseline in the same run:
   the same encode read straight off the recorder's UDP branch with PyAV (encode + transport,
   no WebRTC). Goals: Python median ≤ 100 ms, Chromium median ≤ 150 ms.
2. HLS: how far behind live hls.js plays in Chromium (the bundled hls.js, the viewer page's
   settings, segments served over HTTP from the recorder's folder). Baseline: WebRTC in Chromium.
   Goal ≤ 6 s.
3. Viewers in a separate process (bench/live_viewers.py: real peers — ICE, DTLS, SRTP keys — that
   count the video frames delivered, by the RTP marker bit, without decrypting or decoding them,
   which is each viewer's own machine's work): how many hold ≥ 25 fps with the relay against
   aiortc encoding for each viewer, and the sender's CPU per viewer (this process's CPU over the
   idle relay's, divided by the viewers). Goals: ≥ 40 viewers, ≤ 0.01 core per viewer.
   Also what one more viewer costs the sender (the slope of its cores over the steps that held)
   and the step where its process saturates (its cores grow by less than half that): the
   agent's bound on WebRTC viewers (live.webrtc_max_viewers) must sit well below it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import itertools
import json
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from playwright.async_api import async_playwright

from bench.common import Result
from classroom.settings import LiveSettings
from hardware.synthetic import SyntheticCamera, SyntheticMic
from storage.ports import free_port, free_udp_port
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.latency import frame_clock, latency_ms
from streaming.live import UDP_INPUT_OPTIONS, LiveRelay, LiveSource
from streaming.recorder import EncodeSettings, LiveBranches, SegmentRecorder

SECONDS = float(os.environ.get("BENCH_LIVE_S", "10"))
RELAY_STEPS = [
    int(n) for n in os.environ.get("BENCH_LIVE_RELAY", "1,10,20,40,60,80,100,120").split(",")
]
ENCODE_STEPS = [int(n) for n in os.environ.get("BENCH_LIVE_ENCODE", "1,2,4,6,8,10").split(",")]
HOLD_FPS = 25.0
WARM_UP_S = 2.0
HLS_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor" / "hls.light.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# Reads the blocks of each frame as it is about to be shown; wall-clock latency into window.lat.
READER_JS = """() => {
window.lat = [];
window.measure = (video) => {
  const canvas = document.createElement("canvas");
  canvas.width = 768; canvas.height = 64;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const step = (now, meta) => {
    ctx.drawImage(video, 0, 0, 768, 64, 0, 0, 768, 64);
    const px = ctx.getImageData(0, 0, 768, 64).data;
    const rows = [0, 0];
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < 24; i++) {
        rows[r] = rows[r] * 2 + (px[((16 + 32 * r) * 768 + 16 + 32 * i) * 4] > 128 ? 1 : 0);
      }
    }
    if (rows[0] === rows[1]) {
      const shown = Math.round(performance.timeOrigin + meta.expectedDisplayTime) % 16777216;
      window.lat.push((shown - rows[0] + 16777216) % 16777216);
    }
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
};
}"""

WEBRTC_JS = """async () => {
  const video = document.querySelector("video");
  const pc = new RTCPeerConnection();
  const vt = pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  vt.setCodecPreferences([...codecs.filter((c) => c.mimeType === "video/H264"),
                          ...codecs.filter((c) => c.mimeType !== "video/H264")]);
  pc.ontrack = (e) => {
    if (e.track.kind === "video") video.srcObject = new MediaStream([e.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
    setTimeout(ok, 3000);
  });
  const answer = await window.whep(pc.localDescription.sdp);
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  window.measure(video);
}"""

HLS_PAGE = """<!doctype html><meta charset="utf-8"><video muted autoplay playsinline></video>
<script src="hls.light.min.js"></script><script>
const video = document.querySelector("video");
const hls = new Hls({ liveSyncDurationCount: 2 });  // as the viewer page (web/static/live.js)
hls.loadSource("live.m3u8"); hls.attachMedia(video); video.play();
</script>"""


def _summary(values: list[int]) -> tuple[float, float]:
    if len(values) < 20:
        raise RuntimeError(f"only {len(values)} frames measured")
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95)]


def _udp_url(port: int) -> str:
    return f"udp://127.0.0.1:{port}"


def _direct(port: int, seconds: float) -> list[int]:
    """Baseline: decode the recorder's live branch here, with no WebRTC in between."""
    out: list[int] = []
    with av.open(_udp_url(port), format="mpegts", options=UDP_INPUT_OPTIONS) as c:
        start = time.monotonic()
        for frame in c.decode(video=0):
            now = time.monotonic()
            if now - start > WARM_UP_S + seconds:
                break
            stamp = frame_clock(frame)
            if now - start > WARM_UP_S and stamp is not None:
                out.append(latency_ms(stamp))
    return out


async def _python_viewer(relay: LiveRelay, seconds: float) -> list[int]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    out: list[int] = []
    done = asyncio.Event()
    readers: list[asyncio.Future[None]] = []

    @pc.on("track")
    def on_track(track):  # type: ignore[no-untyped-def]
        if track.kind != "video":
            return

        async def read() -> None:
            start = time.monotonic()
            while time.monotonic() - start < WARM_UP_S + seconds:
                frame = await track.recv()
                stamp = frame_clock(frame)
                if time.monotonic() - start > WARM_UP_S and stamp is not None:
                    out.append(latency_ms(stamp))
            done.set()

        readers.append(asyncio.ensure_future(read()))

    await pc.setLocalDescription(await pc.createOffer())
    answer, viewer = await relay.offer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    async with asyncio.timeout(WARM_UP_S + seconds + 30):
        await done.wait()
    await relay.close(viewer)
    await pc.close()
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve(folder: Path):  # type: ignore[no-untyped-def]
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


async def _chromium(relay: LiveRelay, hls_dir: Path, seconds: float) -> tuple[list[int], list[int]]:
    """WebRTC and HLS latencies in headless Chromium."""
    viewers: list[str] = []

    async def whep(sdp: str) -> str:
        answer, viewer = await relay.offer(sdp)
        viewers.append(viewer)
        return answer

    async def measured(page, settle_s: float) -> list[int]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 60
        while not await page.evaluate("window.lat.length > 0"):
            if time.monotonic() > deadline:
                raise RuntimeError("Chromium showed no frame with the clock")
            await asyncio.sleep(0.2)
        await asyncio.sleep(settle_s)
        await page.evaluate("window.lat.length = 0")
        await asyncio.sleep(seconds)
        return list(await page.evaluate("window.lat"))

    shutil.copy(HLS_JS, hls_dir / HLS_JS.name)
    (hls_dir / "index.html").write_text(HLS_PAGE, encoding="utf-8")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.expose_function("whep", whep)
            await page.set_content("<video muted autoplay playsinline></video>")
            await page.evaluate(READER_JS)
            await page.evaluate(WEBRTC_JS)
            webrtc = await measured(page, WARM_UP_S)
            await page.close()
            for viewer in viewers:
                await relay.close(viewer)
            with _serve(hls_dir) as url:
                page = await browser.new_page()
                await page.goto(f"{url}/index.html")
                await page.evaluate(READER_JS)
                await page.evaluate("window.measure(document.querySelector('video'))")
                hls = await measured(page, WARM_UP_S)
        finally:
            await browser.close()
    return webrtc, hls


async def _viewers(
    answer: Callable[[str], Awaitable[str]], count: int, seconds: float
) -> tuple[list[float], float]:
    """Per-viewer frame rates, and the sender's (this process's) CPU in cores meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.live_viewers",
        str(count),
        str(seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        limit=64 * 1024 * 1024,  # one line carries every viewer's SDP offer
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(120 + seconds):
            offers = json.loads(await proc.stdout.readline())["offers"]
            answers = [await answer(o) for o in offers]
            proc.stdin.write((json.dumps({"answers": answers}) + "\n").encode())
            await proc.stdin.drain()
            json.loads(await proc.stdout.readline())  # connected
            await asyncio.sleep(WARM_UP_S)
            cpu, wall = time.process_time(), time.monotonic()
            fps = [float(x) for x in json.loads(await proc.stdout.readline())["fps"]]
            cores = (time.process_time() - cpu) / (time.monotonic() - wall)
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return fps, cores


async def _idle_cores(seconds: float = 3.0) -> float:
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


@dataclass
class Scaling:
    held: int  # the most viewers that all held ≥ 25 fps
    marginal: float  # the sender's cores per added viewer, below saturation (least squares)
    saturated_at: int | None  # the first step whose viewers no longer got more of the sender


async def _scale(
    steps: list[int],
    answer: Callable[[str], Awaitable[str]],
    after_step: Callable[[], Awaitable[None]],
    label: str,
) -> Scaling:
    """Each step's viewers and the sender's cores: how many hold 25 fps, what one more viewer
    costs, and where the sender's process stops growing (saturated: every viewer gets less)."""
    idle = await _idle_cores()
    held, points = 0, [(0, idle)]
    for count in steps:
        fps, cores = await _viewers(answer, count, SECONDS)
        await after_step()
        ok = sum(f >= HOLD_FPS for f in fps)
        print(
            f"  {label}: {count} viewers, {ok} at ≥{HOLD_FPS:.0f} fps "
            f"(min {min(fps):.1f}), sender {cores:.2f} cores",
            file=sys.stderr,
            flush=True,
        )
        points.append((count, cores))
        if ok < count:
            break
        held = count
    growing = [p for p in points if p[0] <= held] or points[:2]
    n = [float(c) for c, _ in growing]
    cores = [c for _, c in growing]
    marginal = statistics.linear_regression(n, cores).slope if len(growing) > 1 else float("nan")
    saturated_at = next(
        (
            b[0]
            for a, b in itertools.pairwise(points)
            if b[1] - a[1] < 0.5 * marginal * (b[0] - a[0])
        ),
        None,
    )
    return Scaling(held, marginal, saturated_at)


class _EncodeEach:
    """The usual alternative: decode the stream once, and let aiortc encode it for each viewer."""

    def __init__(self, port: int) -> None:
        self.player = MediaPlayer(
            _udp_url(port), format="mpegts", options=UDP_INPUT_OPTIONS, decode=True
        )
        self.player._throttle_playback = False  # live already (see streaming/live.py)
        self.relay = MediaRelay()
        self.peers: list[RTCPeerConnection] = []

    async def answer(self, sdp: str) -> str:
        pc = RTCPeerConnection()
        self.peers.append(pc)
        for track in (self.player.video, self.player.audio):
            if track is not None:
                pc.addTrack(self.relay.subscribe(track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def close_peers(self) -> None:
        for pc in self.peers:
            await pc.close()
        self.peers.clear()

    def stop(self) -> None:
        for track in (self.player.video, self.player.audio):
            if track is not None:
                track.stop()


async def _measure(workdir: Path) -> list[Result]:
    port, hls_dir = free_udp_port(), workdir / "hls"
    recorder = SegmentRecorder(
        resolve_ffmpeg(),
        SyntheticCamera(size="1280x720", fps=30, clock_blocks=True),
        SyntheticMic(),
        workdir / "rec",
        EncodeSettings(segment_seconds=4),
        live=LiveBranches(udp_port=port, hls_dir=hls_dir),
    )
    await recorder.start()
    try:
        await asyncio.sleep(3)
        direct = await asyncio.to_thread(_direct, port, SECONDS)
        relay = LiveRelay(LiveSource(port))
        python = await _python_viewer(relay, SECONDS)
        chromium, hls = await _chromium(relay, hls_dir, SECONDS)
        for name, values in (("direct", direct), ("python", python), ("chromium", chromium)):
            print(f"  {name}: median {_summary(values)[0]:.0f} ms", file=sys.stderr, flush=True)
        print(f"  hls: median {_summary(hls)[0]:.0f} ms", file=sys.stderr, flush=True)

        resources: list[str] = []

        async def relay_answer(sdp: str) -> str:
            answer, viewer = await relay.offer(sdp)
            resources.append(viewer)
            return answer

        async def relay_reset() -> None:
            for viewer in resources:
                await relay.close(viewer)
            resources.clear()

        relay_scaled = await _scale(RELAY_STEPS, relay_answer, relay_reset, "relay")
        await relay.stop()
        each = _EncodeEach(port)
        try:
            encode_scaled = await _scale(ENCODE_STEPS, each.answer, each.close_peers, "encode each")
        finally:
            await each.close_peers()
            each.stop()
    finally:
        await recorder.stop()
    d_med, d_p95 = _summary(direct)
    p_med, p_p95 = _summary(python)
    c_med, c_p95 = _summary(chromium)
    h_med, _ = _summary(hls)
    base = "UDP branch → PyAV, no WebRTC"
    return [
        Result(
            "live", "WebRTC → Python (aiortc), median", f"{base}, median", "ms", p_med, d_med, False
        ),
        Result("live", "WebRTC → Python (aiortc), p95", f"{base}, p95", "ms", p_p95, d_p95, False),
        Result("live", "WebRTC → Chromium, median", f"{base}, median", "ms", c_med, d_med, False),
        Result("live", "WebRTC → Chromium, p95", f"{base}, p95", "ms", c_p95, d_p95, False),
        Result(
            "live",
            "HLS (hls.js) → Chromium, median",
            "WebRTC → Chromium, median",
            "ms",
            h_med,
            c_med,
            False,
        ),
        Result(
            "live",
            "viewers at ≥25 fps, relay",
            "aiortc encoding each viewer",
            "viewers",
            relay_scaled.held,
            max(encode_scaled.held, 1),
            True,
        ),
        Result(
            "live",
            "sender CPU per added viewer, relay",
            "aiortc encoding each viewer",
            "cores",
            relay_scaled.marginal,
            encode_scaled.marginal,
            False,
        ),
        Result(
            "live",
            "relay saturated at (viewers; 0: not within the steps)",
            "the agent's bound (live.webrtc_max_viewers)",
            "viewers",
            relay_scaled.saturated_at or 0,
            LiveSettings().webrtc_max_viewers,
            True,
        ),
    ]


def run(workdir: Path) -> list[Result]:
    workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_measure(workdir))
