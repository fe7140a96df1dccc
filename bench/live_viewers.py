"""Viewers for bench/live.py, in a process of their own: N aiortc peers (ICE, DTLS, SRTP keys
negotiated for real) that count the video frames the sender delivers — the RTP packets with the
marker bit set — without decrypting or decoding them. RTP headers travel in the clear under SRTP;
decrypting and decoding is each viewer's own machine's work, and here it would make this
process, not the sender, the limit on a 2-core machine.

Protocol on stdin/stdout, one JSON object a line: this process prints {"offers": [...]}, reads
{"answers": [...]}, prints {"connected": n} once every peer is connected, then after
``seconds`` of counting prints {"fps": [...]} (one rate per viewer) and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport

_frames: dict[int, list[float]] = defaultdict(list)  # per DTLS transport: frame arrivals
_video_types: set[int] = set()  # the answers' video payload types


def _keep_encrypted(self: pylibsrtp.Session, packet: bytes) -> bytes:
    return packet  # the header is readable as it is; the payload is not looked at


async def _count(self: RTCDtlsTransport, data: bytes, arrival_time_ms: int) -> None:
    if data[1] & 0x80 and data[1] & 0x7F in _video_types:  # marker: a video frame's last packet
        _frames[id(self)].append(time.monotonic())


pylibsrtp.Session.unprotect = _keep_encrypted  # type: ignore[method-assign]
RTCDtlsTransport._handle_rtp_data = _count  # type: ignore[method-assign]


def _transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    return pc.getTransceivers()[0].receiver.transport


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
    for sdp in answers:
        for line in sdp.splitlines():
            if line.startswith("m=video "):
                _video_types.update(int(pt) for pt in line.split()[3:])
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
    counts = [_frames.get(id(_transport(pc))) for pc in peers]
    fps = [sum(start <= t < end for t in c or []) / (end - start) for c in counts]
    _say({"fps": fps})
    for pc in peers:
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
