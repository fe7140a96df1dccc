"""The upload journal over a long life: done jobs of deleted copies forgotten, and what waits found
without reading the done ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage.upload_journal import UploadJournal

PART = 5 * 1024 * 1024


def _job(journal: UploadJournal, key: str, path: Path, done: bool) -> None:
    journal.add(key, path, "video/mp2t", 1000, "", PART, 1)
    if done:
        journal.done(key)


def test_done_jobs_under_a_deleted_directory_are_forgotten(tmp_path: Path) -> None:
    journal = UploadJournal(tmp_path / "uploads.db")
    one, twelve = tmp_path / "recording-1", tmp_path / "recording-12"
    _job(journal, "a", one / "segments" / "0.ts", done=True)
    _job(journal, "b", one / "screen" / "segments" / "0.ts", done=True)
    _job(journal, "c", one / "recording.mp4", done=False)  # not done: kept whatever happens
    _job(journal, "d", twelve / "segments" / "0.ts", done=True)  # a name sharing the prefix
    assert journal.forget_done_under(one) == 2
    assert [k for k in "abcd" if journal.get(k) is not None] == ["c", "d"]
    assert journal.depth()[0] == 1 and [p["key"] for p in journal.progress()] == ["c"]
    assert journal.forget_done_under(one) == 0


def test_the_done_keys_under_a_prefix_in_one_read(tmp_path: Path) -> None:
    """At Stop the agent asks which of a recording's segments are already up, all at once."""
    journal = UploadJournal(tmp_path / "uploads.db")
    seg = tmp_path / "0.ts"
    _job(journal, "rec-1/segments/r0001-00000.ts", seg, done=True)
    _job(journal, "rec-1/segments/r0001-00001.ts", seg, done=True)
    _job(journal, "rec-1/segments/r0001-00002.ts", seg, done=False)  # the last, still going
    _job(journal, "rec-1/segments2/x.ts", seg, done=True)  # a name sharing the prefix's start
    _job(journal, "rec-12/segments/r0001-00000.ts", seg, done=True)
    assert journal.done_under("rec-1/segments/") == {
        "rec-1/segments/r0001-00000.ts",
        "rec-1/segments/r0001-00001.ts",
    }
    assert journal.done_under("rec-2/segments/") == set()


def test_waiting_jobs_are_found_by_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A classroom adds some ten thousand segment jobs a day; the heartbeat's questions (depth,
    progress) must not read them all every few seconds: each runs on the waiting jobs' index."""
    journal = UploadJournal(tmp_path / "uploads.db")
    for i in range(50):
        _job(journal, f"done-{i}", tmp_path / f"{i}.ts", done=True)
    _job(journal, "late", tmp_path / "late.ts", done=False)
    journal.part_done("late", 1, "etag", 600)

    asked: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(asked.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    assert journal.depth()[0] == 1
    assert journal.progress() == [
        {"key": "late", "bytes": 1000, "bytes_sent": 600, "parts_done": 1, "parts_total": 1}
    ]
    monkeypatch.undo()
    selects = [q for q in asked if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    db = sqlite3.connect(tmp_path / "uploads.db")
    for query in selects:
        plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "USING INDEX uploads_waiting" in plan, plan
