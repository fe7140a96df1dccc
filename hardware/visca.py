"""VISCA over IP (Sony's message format on UDP 52381): pan/tilt/zoom, home, presets.

Each message is an 8-byte header — payload type, payload length, sequence number — and a VISCA
payload. A command is answered by an ACK (``90 4y FF``) and later a Completion (``90 5y FF``),
or by an error (``90 6y 0e FF``). With no answer in time, the same message is sent again with the
same sequence number, so a camera that did get it can tell it is a repeat. The sequence number is
reset (control command ``01``) when the client connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import struct
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

PORT = 52381
HEADER = struct.Struct(">HHI")


class PayloadType(enum.IntEnum):
    COMMAND = 0x0100
    INQUIRY = 0x0110
    REPLY = 0x0111
    CONTROL = 0x0200
    CONTROL_REPLY = 0x0201


ERRORS = {
    0x01: "message length error",
    0x02: "syntax error",
    0x03: "command buffer full",
    0x04: "command canceled",
    0x05: "no socket",
    0x41: "command not executable",
}


class ViscaError(RuntimeError):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"VISCA error {code:#04x}: {ERRORS.get(code, 'unknown')}")


class ViscaTimeout(TimeoutError):
    pass


def pack(kind: PayloadType, seq: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload), seq) + payload


def unpack(datagram: bytes) -> tuple[int, int, bytes]:
    if len(datagram) < HEADER.size:
        raise ValueError("datagram shorter than the VISCA-over-IP header")
    kind, length, seq = HEADER.unpack_from(datagram)
    payload = datagram[HEADER.size :]
    if length != len(payload):
        raise ValueError(f"payload length {len(payload)} != header's {length}")
    return kind, seq, payload


def _nibbles(value: int, count: int) -> bytes:
    return bytes((value >> (4 * i)) & 0x0F for i in reversed(range(count)))


@dataclass(frozen=True)
class Position:
    pan: int
    tilt: int


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[tuple[int, int, bytes]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        with contextlib.suppress(ValueError):  # not VISCA: ignore it
            self.replies.put_nowait(unpack(data))


class ViscaClient:
    """One camera. Not for concurrent use: commands go one at a time, as cameras expect."""

    def __init__(
        self,
        host: str,
        port: int = PORT,
        timeout_s: float = 1.0,
        retries: int = 2,
        completion_timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.timeout_s, self.retries = timeout_s, retries
        self.completion_timeout_s = completion_timeout_s
        self._seq = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._proto: _Protocol | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            _Protocol, remote_addr=(self.host, self.port)
        )
        self._transport, self._proto = transport, proto
        await self._exchange(PayloadType.CONTROL, b"\x01", control=True)
        self._seq = 0

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> ViscaClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _exchange(self, kind: PayloadType, payload: bytes, control: bool = False) -> bytes:
        assert self._transport is not None and self._proto is not None, "connect() first"
        async with self._lock:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            seq = self._seq
            message = pack(kind, seq, payload)
            for attempt in range(self.retries + 1):
                self._transport.sendto(message)
                try:
                    return await self._await_reply(seq, kind, control)
                except ViscaTimeout:
                    log.warning("visca.retry", host=self.host, seq=seq, attempt=attempt + 1)
            raise ViscaTimeout(f"no answer from {self.host}:{self.port} to seq {seq}")

    async def _await_reply(self, seq: int, kind: PayloadType, control: bool) -> bytes:
        assert self._proto is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        acked = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ViscaTimeout
            try:
                async with asyncio.timeout(remaining):
                    rkind, rseq, payload = await self._proto.replies.get()
            except TimeoutError:
                raise ViscaTimeout from None
            if rseq != seq:
                continue  # a late answer to an earlier message
            if control:
                if rkind == PayloadType.CONTROL_REPLY:
                    return payload
                continue
            if len(payload) >= 3 and payload[1] & 0xF0 == 0x60:
                raise ViscaError(payload[2])
            if kind == PayloadType.INQUIRY and payload[1] == 0x50:
                return payload
            if payload[1] & 0xF0 == 0x40 and not acked:
                acked = True  # the camera took it; completion may take a while (a preset move)
                deadline = loop.time() + self.completion_timeout_s
                continue
            if payload[1] & 0xF0 == 0x50:
                return payload

    async def command(self, payload: bytes) -> None:
        await self._exchange(PayloadType.COMMAND, payload)

    async def inquiry(self, payload: bytes) -> bytes:
        return await self._exchange(PayloadType.INQUIRY, payload)

    # The commands a classroom needs.
    async def home(self) -> None:
        await self.command(b"\x81\x01\x06\x04\xff")

    async def pan_tilt(self, pan: int, tilt: int, pan_speed: int = 8, tilt_speed: int = 8) -> None:
        """Move: pan/tilt -1, 0 or 1 (left/right, down/up); 0 and 0 stops."""
        if not (1 <= pan_speed <= 0x18 and 1 <= tilt_speed <= 0x17):
            raise ValueError("pan speed 1–24, tilt speed 1–23")
        pan_code = {-1: 1, 1: 2, 0: 3}[pan]
        tilt_code = {1: 1, -1: 2, 0: 3}[tilt]
        await self.command(
            bytes([0x81, 0x01, 0x06, 0x01, pan_speed, tilt_speed, pan_code, tilt_code, 0xFF])
        )

    async def stop(self) -> None:
        await self.pan_tilt(0, 0)

    async def zoom(self, direction: int, speed: int = 3) -> None:
        """-1 wide, 1 tele, 0 stop."""
        if not 0 <= speed <= 7:
            raise ValueError("zoom speed 0–7")
        code = {0: 0x00, 1: 0x20 | speed, -1: 0x30 | speed}[direction]
        await self.command(bytes([0x81, 0x01, 0x04, 0x07, code, 0xFF]))

    async def zoom_to(self, position: int) -> None:
        if not 0 <= position <= 0x4000:
            raise ValueError("zoom position 0–16384")
        await self.command(b"\x81\x01\x04\x47" + _nibbles(position, 4) + b"\xff")

    async def preset_save(self, number: int) -> None:
        await self.command(bytes([0x81, 0x01, 0x04, 0x3F, 0x01, self._preset(number), 0xFF]))

    async def preset_recall(self, number: int) -> None:
        await self.command(bytes([0x81, 0x01, 0x04, 0x3F, 0x02, self._preset(number), 0xFF]))

    @staticmethod
    def _preset(number: int) -> int:
        if not 0 <= number <= 127:
            raise ValueError("preset 0–127")
        return number

    async def position(self) -> Position:
        reply = await self.inquiry(b"\x81\x09\x06\x12\xff")
        digits = reply[2:10]
        pan = int.from_bytes(
            bytes(((digits[0] << 4) | digits[1], (digits[2] << 4) | digits[3])), "big", signed=True
        )
        tilt = int.from_bytes(
            bytes(((digits[4] << 4) | digits[5], (digits[6] << 4) | digits[7])), "big", signed=True
        )
        return Position(pan, tilt)
