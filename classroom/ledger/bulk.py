"""Building a bureau's year without cyclic-GC pauses.

The loaders and the ledger allocate some hundred thousand small, acyclic records (named tuples of
numbers) within a second. Each allocation burst triggers the collector, and every older-generation
pass rescans all of them: measured at 5,000 officers, that is 0.7 s of a 1.9 s report. None of it
can form a cycle, so collection waits until the report is built. Reference counting still frees
everything as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause cyclic collection while the body runs; nested and concurrent uses are counted, and
    the collector's state before the first is restored after the last."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
