"""Signals turned into an orderly stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

log = structlog.get_logger(__name__)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM; the caller then stops things in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("shutdown.already_stopping", signal=sig.name)
            return
        log.info("shutdown.requested", signal=sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, sig)
    return stop
