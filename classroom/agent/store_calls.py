"""Calls to the object store, on threads of their own.

An upload retrying through a store outage holds its thread for as long as the outage lasts. On
asyncio's default pool (cores + 4 threads) a handful of them took every thread, and the capture
side queued behind them: segments went unchecked, status.json unwritten, until the store
returned. Store work runs here instead, a bounded number at once; the default pool is left to
capture (segment checks, audio levels, status, previews).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

STORE_THREADS = 4
_POOL = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store")
# The reachability probe has a thread of its own: uploads backing off through an outage hold the
# store's threads, and the probe must still tell whether (and where) the store answers.
_PROBE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-probe")


async def _on(pool: ThreadPoolExecutor, fn: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(pool, fn)


async def in_store_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    return await _on(_POOL, functools.partial(fn, *args, **kwargs))


async def in_probe_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    return await _on(_PROBE, functools.partial(fn, *args, **kwargs))
