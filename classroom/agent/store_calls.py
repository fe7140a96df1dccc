"""Calls to the object store, on threads of their own.

An upload retrying through a store outage holds its thread for as long as the outage lasts. On
asyncio's default pool (cores + 4 threads) a handful of them took every thread, and the capture
side queued behind them: segments went unchecked, status.json unwritten, until the store
returned. Store work runs here instead, a bounded number at once; the default pool is left to
capture (segment checks, audio levels, status, previews). Its threads never hold up the agent's
exit (DaemonPool).
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

STORE_THREADS = 4


class DaemonPool(Executor):
    """A fixed pool of daemon threads. A store that stops answering mid-request holds a thread
    in a socket read for as long as its timeouts allow (minutes, with retries);
    ThreadPoolExecutor's threads are joined when the interpreter exits, so the agent's shutdown
    would wait that long. These are not: what they were doing is in the upload journal, and the
    next start resumes it."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._workers, self._name = workers, name
        self._started = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        self._jobs.put((future, functools.partial(fn, *args, **kwargs)))
        with self._lock:
            if not self._started:
                self._started = True
                for i in range(self._workers):
                    name = f"{self._name}-{i}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, call = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to whoever awaits it
                future.set_exception(exc)
            else:
                future.set_result(result)


_POOL = DaemonPool(STORE_THREADS, "store")
# The reachability probe has a thread of its own: uploads backing off through an outage hold the
# store's threads, and the probe must still tell whether (and where) the store answers.
_PROBE = DaemonPool(1, "store-probe")


async def _on(pool: Executor, fn: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(pool, fn)


async def in_store_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    return await _on(_POOL, functools.partial(fn, *args, **kwargs))


async def in_probe_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    return await _on(_PROBE, functools.partial(fn, *args, **kwargs))
