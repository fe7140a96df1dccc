"""Stopping the agent's tasks for certain, even when a cancellation is swallowed."""

from __future__ import annotations

import asyncio

import pytest

from classroom.agent.cancel import cancel_and_wait

pytestmark = pytest.mark.anyio


async def test_a_task_that_swallows_a_cancellation_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed == 0:  # as a cancellation lost in a race is
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    done = asyncio.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    async with asyncio.timeout(5):
        await cancel_and_wait(task, done, every_s=0.05)
    assert task.cancelled() and swallowed == 1 and done.done()
