"""A stand-in IP camera for tests and benchmarks: ffmpeg encodes a picture the way a camera does
(H.264 constrained baseline, SPS/PPS repeated in-band, 1 s GOP) and publishes it, over RTSP
through Debian's rtsp-server-perl (as a camera serves its stream) or as MPEG-TS over UDP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from storage.ports import free_port
from streaming.ffmpeg_bin import resolve_ffmpeg


def camera_encode(fps: int, bitrate: str | None = None) -> list[str]:
    rate = ["-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate] if bitrate else []
    return [
        *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"),
        *("-profile:v", "baseline", "-g", str(fps), "-bsf:v", "dump_extra=freq=keyframe"),
        *rate,
    ]


async def _publish(
    source: Sequence[str], encode: Sequence[str], out: Sequence[str]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        resolve_ffmpeg(), "-v", "error", "-re", *source, *encode, *out
    )


async def _stop(*procs: asyncio.subprocess.Process | None) -> None:
    for proc in procs:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            await proc.wait()


@asynccontextmanager
async def rtsp_camera(source: Sequence[str], encode: Sequence[str]) -> AsyncIterator[str]:
    """Yields the rtsp:// URL readers use (RTP over UDP: the server offers no TCP)."""
    clients, sources = free_port(), free_port()
    server = await asyncio.create_subprocess_exec(
        *("rtsp-server-perl", "-c", str(clients), "-s", str(sources)),
        *("--rtp_start_port", str(20000 + clients % 20000)),
        *("--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    camera = None
    try:
        for _ in range(50):  # until it listens for sources
            try:
                _, w = await asyncio.open_connection("127.0.0.1", sources)
            except OSError:
                await asyncio.sleep(0.1)
            else:
                w.close()
                break
        out = ["-f", "rtsp", f"rtsp://127.0.0.1:{sources}/cam"]
        camera = await _publish(source, encode, out)
        await asyncio.sleep(1.5)  # announced and playing
        yield f"rtsp://127.0.0.1:{clients}/cam"
    finally:
        await _stop(camera, server)


@asynccontextmanager
async def udp_camera(source: Sequence[str], encode: Sequence[str]) -> AsyncIterator[str]:
    """Yields the udp:// URL of an MPEG-TS stream."""
    port = free_port()
    camera = await _publish(
        source, encode, ["-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"]
    )
    try:
        yield f"udp://127.0.0.1:{port}"
    finally:
        await _stop(camera)
