"""Viewers for bench/live.py, in a process of their own: N aiortc peers that receive the live
stream and count the video frames they get, without decoding them (a viewer's decoding is the
browser's work, not the sender's; here it would only make this process the bottleneck).

Protocol on stdin/stdout, one JSON object a line: this process prints {"offers": [...]}, reads
{"answers": [...]}, prints {"connected": n} once every peer is connected, then after
``seconds`` of counting prints {"fps": [...]} (one rate per viewer) and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import aiortc.rtcrtpreceiver
from aiortc import RTCPeerConnection, RTCSessionDescription

_counters: list[list[float]] = []
_lock = threading.Lock()


class _CountingDecoder:
    """Stands in for the video decoder: counts each assembled frame and its arrival."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        with _lock:
            _counters.append(self.arrivals)

    def decode(self, encoded: Any) -> list[Any]:
        self.arrivals.append(time.monotonic())
        return []


_real_get_decoder = aiortc.rtcrtpreceiver.get_decoder


def _get_decoder(codec: Any) -> Any:
    if codec.mimeType.lower().startswith("video/"):
        return _CountingDecoder()
    return _real_get_decoder(codec)


aiortc.rtcrtpreceiver.get_decoder = _get_decoder


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main(count: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    peers = [RTCPeerConnection() for _ in range(count)]
    offers = []
    for pc in peers:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offers.append(pc.localDescription.sdp)
    _say({"offers": offers})
    answers = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["answers"]
    for pc, sdp in zip(peers, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    deadline = time.monotonic() + 60
    while any(pc.connectionState != "connected" for pc in peers):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    _say({"connected": sum(pc.connectionState == "connected" for pc in peers)})
    await asyncio.sleep(2)  # past the first keyframe and the jitter buffer's start
    start = time.monotonic()
    await asyncio.sleep(seconds)
    end = time.monotonic()
    with _lock:
        fps = [sum(start <= t < end for t in c) / (end - start) for c in _counters]
    fps += [0.0] * (count - len(fps))  # a viewer that never got video
    _say({"fps": fps})
    for pc in peers:
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
