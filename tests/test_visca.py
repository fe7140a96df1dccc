"""The VISCA-over-IP client against a simulated camera that follows the protocol and checks
what it receives (header, payload length, sequence numbers)."""

from __future__ import annotations

import asyncio

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
from tests.visca_sim import SimulatedCamera, camera

__all__ = ["camera"]  # the fixture, shared with the agent's tests

pytestmark = pytest.mark.anyio


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
