"""Stopping tasks for certain."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(*tasks: asyncio.Task[Any], every_s: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until they are done, cancelling again every ``every_s``: one
    cancellation can be swallowed where it meets another ending at the same moment (an anyio
    cancel scope closing, or ``asyncio.wait_for`` in Python 3.11, CPython gh-86296) — a task
    cancelled once could then run on for ever, and whoever waits for it with it."""
    pending = {t for t in tasks if not t.done()}
    rounds = 0
    while pending:
        if rounds:
            log.warning("task.cancel_again", tasks=sorted(t.get_name() for t in pending))
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
        rounds += 1
