"""A simulated VISCA-over-IP camera: follows the protocol (header, sequence numbers, ACK and
completion, errors) and checks what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hardware.visca import PayloadType, pack, unpack
from storage.ports import free_port


def _nib(value: int, count: int) -> bytes:
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * i)) & 0x0F for i in reversed(range(count)))


class SimulatedCamera(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.last_seq: int | None = None
        self.executed: list[bytes] = []
        self.presets: dict[int, tuple[int, int]] = {}
        self.pos = (0, 0)
        self.zoom = 0
        self.drop_next = 0  # lose the next requests
        self.mute_next = 0  # carry out the next commands but lose the answers
        self.problems: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def reply(self, addr: object, seq: int, payload: bytes, kind: int = PayloadType.REPLY) -> None:
        assert self.transport is not None
        self.transport.sendto(pack(PayloadType(kind), seq, payload), addr)  # type: ignore[arg-type]

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            kind, seq, payload = unpack(data)
        except ValueError as exc:
            self.problems.append(str(exc))
            return
        if self.drop_next:
            self.drop_next -= 1
            return
        if kind == PayloadType.CONTROL:
            if payload != b"\x01":
                self.problems.append(f"unknown control {payload!r}")
            self.last_seq = None  # sequence reset
            self.reply(addr, seq, b"\x01", PayloadType.CONTROL_REPLY)
            return
        repeat = seq == self.last_seq
        if not repeat and self.last_seq is not None and seq != self.last_seq + 1:
            self.problems.append(f"sequence jumped from {self.last_seq} to {seq}")
        self.last_seq = seq
        if payload[-1:] != b"\xff" or payload[:1] != b"\x81":
            self.reply(addr, seq, b"\x90\x60\x02\xff")
            return
        if kind == PayloadType.INQUIRY:
            if payload == b"\x81\x09\x06\x12\xff":
                self.reply(
                    addr, seq, b"\x90\x50" + _nib(self.pos[0], 4) + _nib(self.pos[1], 4) + b"\xff"
                )
            else:
                self.reply(addr, seq, b"\x90\x60\x02\xff")
            return
        error = None if repeat else self.execute(payload)
        if self.mute_next:
            self.mute_next -= 1
            return
        if error is not None:
            self.reply(addr, seq, bytes([0x90, 0x61, error, 0xFF]))
            return
        self.reply(addr, seq, b"\x90\x41\xff")  # ACK, socket 1
        self.reply(addr, seq, b"\x90\x51\xff")  # completion

    def execute(self, p: bytes) -> int | None:
        self.executed.append(p)
        if p == b"\x81\x01\x06\x04\xff":
            self.pos = (0, 0)
        elif p[:4] == b"\x81\x01\x06\x01" and len(p) == 9:
            dx = {1: -1, 2: 1, 3: 0}[p[6]]
            dy = {1: 1, 2: -1, 3: 0}[p[7]]
            self.pos = (self.pos[0] + dx * 10 * p[4], self.pos[1] + dy * 10 * p[5])
        elif p[:5] == b"\x81\x01\x04\x3f\x01":
            self.presets[p[5]] = self.pos
        elif p[:5] == b"\x81\x01\x04\x3f\x02":
            if p[5] not in self.presets:
                return 0x41
            self.pos = self.presets[p[5]]
        elif p[:4] == b"\x81\x01\x04\x47" and len(p) == 9:
            self.zoom = int.from_bytes(bytes([(p[4] << 4) | p[5], (p[6] << 4) | p[7]]), "big")
        else:
            return 0x02
        return None


@pytest.fixture
async def camera() -> AsyncIterator[tuple[SimulatedCamera, int]]:
    port = free_port()
    loop = asyncio.get_running_loop()
    transport, cam = await loop.create_datagram_endpoint(
        SimulatedCamera, local_addr=("127.0.0.1", port)
    )
    yield cam, port
    transport.close()
