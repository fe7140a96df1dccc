"""What the agent has to tell the portal, kept on disk until the portal has taken it.

Reports (a recording started or stopped on schedule, a command's acknowledgement, an upload
finished) go into a local SQLite file first, then one worker delivers them in order. The portal
being down, or the agent restarting, only delays them; since every report is idempotent on the
portal's side, delivering one twice (killed between sending and deleting) changes nothing.

Writes wait for the disk (synchronous=FULL: a report put is a report kept), and the agent's event
loop also carries the live relay's packets: they run on one thread of their own, in the order
they were asked for, while the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Report:
    id: int
    method: str
    path: str
    body: dict[str, Any]
    created_at: float


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a report accepted is a report kept
        self._db.executescript(_SCHEMA)
        self._wake = asyncio.Event()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")

    async def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self._db.execute, sql, args)

    async def put(self, method: str, path: str, body: dict[str, Any]) -> None:
        """Kept on disk when this returns."""
        await self._write(
            "INSERT INTO outbox (method, path, body, created_at) VALUES (?, ?, ?, ?)",
            (method, path, json.dumps(body), time.time()),
        )
        self._wake.set()

    def pending(self) -> list[Report]:
        rows = self._db.execute(
            "SELECT id, method, path, body, created_at FROM outbox ORDER BY id"
        ).fetchall()
        return [Report(i, m, p, json.loads(b), c) for i, m, p, b, c in rows]

    async def done(self, report_id: int) -> None:
        await self._write("DELETE FROM outbox WHERE id = ?", (report_id,))

    def depth(self) -> tuple[int, float | None]:
        """How many reports wait, and since when (epoch seconds) the oldest."""
        n, oldest = self._db.execute("SELECT count(*), min(created_at) FROM outbox").fetchone()
        return int(n), oldest

    async def wait(self, timeout_s: float) -> None:
        """Until something is put (or the timeout): the worker's idle wait."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()
        self._wake.clear()

    def close(self) -> None:
        self._writer.shutdown(wait=True)  # what was asked to be written is written
        self._db.close()
