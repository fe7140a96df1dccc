"""The uploader's journal: which files are to go up, their multipart upload ids and finished
parts. A local SQLite file, written before and after each step, so a restarted agent resumes
exactly where it stopped (only missing parts are sent)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,         -- '' until the upload has read the whole file
    part_size INTEGER NOT NULL,
    upload_id TEXT,
    state TEXT NOT NULL,          -- pending | completed (assembled, hash not yet sealed) | done
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    mtime_ns INTEGER              -- the file's, when queued: a changed file starts over
);
CREATE TABLE IF NOT EXISTS parts (
    key TEXT NOT NULL REFERENCES uploads(key) ON DELETE CASCADE,
    part_no INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (key, part_no)
);
-- What waits, oldest first, without reading the done jobs: a classroom adds some ten thousand
-- segment jobs a day, and the heartbeat asks every few seconds.
CREATE INDEX IF NOT EXISTS uploads_waiting ON uploads (created_at) WHERE state != 'done';
"""


@dataclass(frozen=True)
class UploadJob:
    key: str
    path: Path
    content_type: str
    size: int
    sha256: str  # '' until known: computed from the bytes as they are sent
    part_size: int
    upload_id: str | None
    state: str
    attempts: int
    last_error: str | None
    created_at: float
    mtime_ns: int | None = None  # None: a job from before fingerprints (its sha256 is known)

    @property
    def parts_total(self) -> int:
        return max(1, -(-self.size // self.part_size))


class _Serialized:
    """The journal's one connection, shared by upload threads: each statement (with its rows)
    and each ``with`` block (a real transaction) runs under one lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.RLock()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> _Rows:
        with self._lock:
            return _Rows(self._conn.execute(sql, params).fetchall())

    def execute_lazily(self, sql: str, params: tuple[Any, ...]) -> None:
        """Commit without waiting for the disk (WAL, synchronous=NORMAL): the row is safe from a
        crash of this process, and the next durable commit carries it through a power cut."""
        with self._lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                self._conn.execute(sql, params)
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")

    def executescript(self, sql: str) -> None:
        with self._lock:
            self._conn.executescript(sql)

    def __enter__(self) -> _Serialized:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Rows(list[Any]):
    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class UploadJournal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per journal, serialized: segments and recordings upload side by side.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a finished part survives a power cut
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(uploads)")}
        if "mtime_ns" not in columns:  # a journal from before fingerprints
            conn.execute("ALTER TABLE uploads ADD COLUMN mtime_ns INTEGER")
        self._db = _Serialized(conn)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _job(row: Any) -> UploadJob | None:
        if row is None:
            return None
        key, path, ct, size, sha, part_size, upload_id, state, attempts, err, created, mt = row
        return UploadJob(
            key, Path(path), ct, size, sha, part_size, upload_id, state, attempts, err, created, mt
        )

    _COLS = (
        "key, path, content_type, size, sha256, part_size, upload_id, state, attempts, "
        "last_error, created_at, mtime_ns"
    )

    def get(self, key: str) -> UploadJob | None:
        row = self._db.execute(f"SELECT {self._COLS} FROM uploads WHERE key = ?", (key,)).fetchone()
        return self._job(row)

    def add(
        self,
        key: str,
        path: Path,
        content_type: str,
        size: int,
        sha256: str,
        part_size: int,
        mtime_ns: int | None = None,
    ) -> UploadJob:
        """A new job, or the same job again; a different file under the same key starts over."""
        now = time.time()
        old = self.get(key)
        if old is not None and (old.sha256, old.size, old.path, old.mtime_ns) == (
            sha256,
            size,
            path,
            mtime_ns,
        ):
            return old
        with self._db:
            self._db.execute("DELETE FROM uploads WHERE key = ?", (key,))
            self._db.execute(
                "INSERT INTO uploads (key, path, content_type, size, sha256, part_size, state, "
                "created_at, updated_at, mtime_ns) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (key, str(path), content_type, size, sha256, part_size, now, now, mtime_ns),
            )
        job = self.get(key)
        assert job is not None
        return job

    def pending(self) -> list[UploadJob]:
        rows = self._db.execute(
            f"SELECT {self._COLS} FROM uploads WHERE state != 'done' ORDER BY created_at"
        ).fetchall()
        return [j for j in map(self._job, rows) if j is not None]

    def set_upload_id(self, key: str, upload_id: str | None) -> None:
        """A new multipart upload (or none): its parts start from nothing."""
        with self._db:
            self._db.execute("DELETE FROM parts WHERE key = ?", (key,))
            self._db.execute(
                "UPDATE uploads SET upload_id = ?, state = 'pending', updated_at = ? WHERE key = ?",
                (upload_id, time.time(), key),
            )

    def completed(self, key: str, sha256: str) -> None:
        """The store assembled the object; ``sha256`` is what was read and sent."""
        with self._db:
            self._db.execute("DELETE FROM parts WHERE key = ?", (key,))
            self._db.execute(
                "UPDATE uploads SET state = 'completed', sha256 = ?, upload_id = NULL, "
                "updated_at = ? WHERE key = ?",
                (sha256, time.time(), key),
            )

    def part_done(self, key: str, part_no: int, etag: str, size: int) -> None:
        # Not flushed to disk at once (an fsync per part held each part's worker while the disk
        # was busy with the store's writes): a part lost to a power cut is only sent again.
        self._db.execute_lazily(
            "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?)", (key, part_no, etag, size)
        )

    def parts(self, key: str) -> dict[int, tuple[str, int]]:
        rows = self._db.execute("SELECT part_no, etag, size FROM parts WHERE key = ?", (key,))
        return {int(n): (str(e), int(s)) for n, e, s in rows}

    def failed_attempt(self, key: str, error: str) -> None:
        self._db.execute(
            "UPDATE uploads SET attempts = attempts + 1, last_error = ?, updated_at = ? "
            "WHERE key = ?",
            (error[:2000], time.time(), key),
        )

    def done(self, key: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM parts WHERE key = ?", (key,))
            self._db.execute(
                "UPDATE uploads SET state = 'done', upload_id = NULL, "
                "last_error = NULL, updated_at = ? WHERE key = ?",
                (time.time(), key),
            )

    def done_under(self, key_prefix: str) -> set[str]:
        """The keys starting with ``key_prefix`` whose upload is done and verified, in one read of
        the key's index (a recording's thousand segments at Stop, without a question each)."""
        rows = self._db.execute(
            "SELECT key FROM uploads WHERE key >= ? AND key < ? AND state = 'done'",
            (key_prefix, key_prefix + "\U0010ffff"),
        ).fetchall()
        return {str(key) for (key,) in rows}

    def forget_done_under(self, directory: Path) -> int:
        """Drop the done jobs of files under ``directory`` (deleted by retention, say): they can
        never be queued again, and the journal would otherwise only grow. Jobs not done stay."""
        prefix = f"{directory.resolve()}/"
        with self._db:
            self._db.execute(
                "DELETE FROM uploads WHERE state = 'done' AND substr(path, 1, ?) = ?",
                (len(prefix), prefix),
            )
            return int(self._db.execute("SELECT changes()").fetchone()[0])

    def depth(self) -> tuple[int, float | None]:
        """How many uploads wait, and since when (epoch seconds) the oldest. On a connection of
        its own: status readers (the heartbeat, `classroom agent status`) run beside uploads."""
        with contextlib.closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)) as db:
            n, oldest = db.execute(
                "SELECT count(*), min(created_at) FROM uploads WHERE state != 'done'"
            ).fetchone()
        return int(n), oldest

    def progress(self, limit: int = 5) -> list[dict[str, int | str]]:
        """The oldest waiting uploads: key, size, and parts sent of the total."""
        with contextlib.closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT u.key, u.size, u.part_size, "
                "(SELECT count(*) FROM parts p WHERE p.key = u.key), "
                "(SELECT coalesce(sum(p.size), 0) FROM parts p WHERE p.key = u.key) "
                "FROM uploads u WHERE u.state != 'done' ORDER BY u.created_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "key": key,
                "bytes": size,
                "bytes_sent": sent,
                "parts_done": done,
                "parts_total": max(1, -(-size // part_size)),
            }
            for key, size, part_size, done, sent in rows
        ]

    def upload_ids(self) -> set[str]:
        rows = self._db.execute("SELECT upload_id FROM uploads WHERE upload_id IS NOT NULL")
        return {str(r[0]) for r in rows}
