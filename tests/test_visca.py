"""The VISCA-over-IP client against a simulated camera that follows the protocol and checks
what it receives (header, payload length, sequence numbers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hardware.visca import (
    PayloadType,
    Position,
    ViscaClient,
    ViscaError,
    ViscaTimeout,
    pack,
    unpack,
)
from storage.ports import free_port

pytestmark = pytest.mark.anyio


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


async def test_presets_moves_zoom_and_position(camera: tuple[SimulatedCamera, int]) -> None:
    cam, port = camera
    async with ViscaClient("127.0.0.1", port) as client:
        await client.pan_tilt(1, 1, pan_speed=5, tilt_speed=3)
        await client.stop()
        await client.preset_save(3)
        await client.home()
        assert await client.position() == Position(0, 0)
        await client.preset_recall(3)
        assert await client.position() == Position(50, 30)
        await client.zoom_to(0x1234)
        await client.pan_tilt(-1, -1, 2, 2)
        assert await client.position() == Position(30, 10)
    assert cam.zoom == 0x1234 and cam.problems == []
    assert cam.presets == {3: (50, 30)}


async def test_camera_errors_are_raised(camera: tuple[SimulatedCamera, int]) -> None:
    cam, port = camera
    async with ViscaClient("127.0.0.1", port) as client:
        with pytest.raises(ViscaError) as exc:
            await client.preset_recall(9)  # never saved
        assert exc.value.code == 0x41
        with pytest.raises(ViscaError) as exc:
            await client.command(b"\x81\x01\x7e\x00\xff")
        assert exc.value.code == 0x02
    assert cam.problems == []


async def test_a_lost_message_is_sent_again_with_the_same_sequence_number(
    camera: tuple[SimulatedCamera, int],
) -> None:
    cam, port = camera
    async with ViscaClient("127.0.0.1", port, timeout_s=0.2) as client:
        cam.drop_next = 1
        await client.preset_save(1)
        cam.drop_next = 2
        await client.home()
        cam.mute_next = 1  # the camera moves, but its answer is lost: the repeat is not re-run
        await client.pan_tilt(1, 0, 4, 1)
    assert cam.executed.count(b"\x81\x01\x06\x04\xff") == 1  # once, despite three sends
    assert sum(p[:4] == b"\x81\x01\x06\x01" for p in cam.executed) == 1
    assert cam.pos == (40, 0)
    assert cam.problems == []


async def test_a_silent_camera_times_out(camera: tuple[SimulatedCamera, int]) -> None:
    cam, port = camera
    client = ViscaClient("127.0.0.1", port, timeout_s=0.1, retries=2)
    await client.connect()
    cam.drop_next = 10
    with pytest.raises(ViscaTimeout):
        await client.home()
    await client.close()


def test_bad_arguments_are_refused_before_sending() -> None:
    client = ViscaClient("127.0.0.1")
    with pytest.raises(ValueError):
        asyncio.run(client.preset_recall(200))
    with pytest.raises(ValueError, match="length"):
        unpack(pack(PayloadType.COMMAND, 1, b"\x81\xff")[:-1])
