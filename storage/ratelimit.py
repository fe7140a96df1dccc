"""An upload bandwidth cap shared by every upload of the agent (a classroom's uplink is often
the school's too). Each part reserves its transfer time; a part waits until the bytes before it
have had theirs, so the average rate stays at the cap whatever the number of uploads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimit:
    def __init__(
        self,
        bytes_per_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if bytes_per_s <= 0:
            raise ValueError("the cap must be positive")
        self.bytes_per_s = bytes_per_s
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._free_at = 0.0

    def take(self, n: int) -> float:
        """Wait until ``n`` bytes may go; return how long that was."""
        with self._lock:
            now = self.clock()
            start = max(now, self._free_at)
            self._free_at = start + n / self.bytes_per_s
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return wait
