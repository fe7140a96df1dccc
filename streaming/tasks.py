"""Waiting for a task that has a job of its own to finish (a supervisor, a log reader)."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def settled(task: asyncio.Task[T]) -> T | None:
    """The task's result once it has ended (None if it was cancelled), its exception raised.
    Waited for, not awaited: a caller cancelled meanwhile stays cancelled and the task runs on
    to its end — an awaited task would be cancelled with the caller, or swallow its cancellation
    if the caller suppressed the task's."""
    await asyncio.wait({task})
    return None if task.cancelled() else task.result()
