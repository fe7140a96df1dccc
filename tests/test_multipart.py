"""Resumable, verified multipart uploads against a real S3 server (SeaweedFS)."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import google_crc32c
import pytest
from minio.error import S3Error

from storage.multipart import (
    CRC32C,
    IN_FLIGHT_MAX,
    MIN_PART,
    Backoff,
    ResumableUploader,
    UploadCancelled,
    default_workers,
)
from storage.object_store import UNSIGNED, ObjectStore
from storage.ports import free_port
from storage.ratelimit import RateLimit
from storage.seaweed import EmbeddedSeaweed, S3Connection
from storage.upload_journal import UploadJournal

pytestmark = pytest.mark.slow

FAST = Backoff(base_s=0.2, cap_s=2.0)


def big_file(path: Path, mib: int) -> str:
    h = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(mib):
            chunk = os.urandom(1024 * 1024)
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest()


def incomplete(store: ObjectStore) -> list[str]:
    return [u.object_name for u in store.client._list_multipart_uploads(store.bucket).uploads]


def test_restarted_uploader_sends_only_the_missing_parts(
    store: ObjectStore, tmp_path: Path
) -> None:
    src = tmp_path / "lecture.mp4"
    digest = big_file(src, 42)  # 9 parts of 5 MiB
    journal_path = tmp_path / "journal.db"
    sent: list[int] = []

    def crash_after_four(job, number, size):
        sent.append(number)
        if len(sent) == 4:
            raise UploadCancelled  # as if the agent died right after the fourth part

    first = ResumableUploader(store, UploadJournal(journal_path), MIN_PART, FAST)
    first.enqueue("r/lecture.mp4", src, "video/mp4")
    with pytest.raises(UploadCancelled):
        first.upload("r/lecture.mp4", crash_after_four)
    first.journal.close()
    assert incomplete(store) == ["r/lecture.mp4"]

    resent: list[int] = []
    again = ResumableUploader(store, UploadJournal(journal_path), MIN_PART, FAST)
    assert [j.key for j in again.journal.pending()] == ["r/lecture.mp4"]
    info = again.upload("r/lecture.mp4", lambda job, n, size: resent.append(n))
    # Parts go three at a time: those in flight at the crash finished and were journaled too.
    assert len(sent) >= 4 and not set(sent) & set(resent)
    assert sorted(sent + resent) == list(range(1, 10))  # each part sent exactly once
    assert info.sha256 == digest and info.size == 42 * 1024 * 1024
    assert hashlib.sha256(b"".join(store.open_range("r/lecture.mp4"))).hexdigest() == digest
    assert incomplete(store) == []
    assert again.journal.pending() == []


def test_a_changed_file_is_caught_and_uploaded_again(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    big_file(src, 40)  # 8 parts; three are read ahead at a time
    slept: list[float] = []
    up = ResumableUploader(
        store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST, sleep=slept.append
    )
    up.enqueue("k/a.bin", src, "application/octet-stream")

    tampered: list[int] = []

    def tamper(job, number, size):
        if number == 1 and not tampered:
            tampered.append(number)
            with src.open("r+b") as f:  # the file changes under the upload, in a part not read yet
                f.seek(38 * 1024 * 1024)
                f.write(b"tampered")

    info = up.upload("k/a.bin", tamper)
    assert len(slept) == 1  # the retry that read the new version was backed off, not looped
    # What went up is the file as it is now, verified end to end; nothing half-old, half-new.
    assert info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert b"".join(store.open_range("k/a.bin")) == src.read_bytes()
    assert incomplete(store) == []


def test_orphaned_uploads_are_aborted(store: ObjectStore, tmp_path: Path) -> None:
    up = ResumableUploader(store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST)
    store.client._create_multipart_upload(store.bucket, "old/orphan.ts", {})
    src = tmp_path / "x.bin"
    big_file(src, 6)
    up.enqueue("mine/x.bin", src, "application/octet-stream")
    with pytest.raises(UploadCancelled):
        up.upload("mine/x.bin", lambda *a: (_ for _ in ()).throw(UploadCancelled()))
    assert sorted(incomplete(store)) == ["mine/x.bin", "old/orphan.ts"]
    assert up.abort_orphans(older_than=timedelta(hours=1)) == 0  # too young to be sure
    assert up.abort_orphans(older_than=timedelta(seconds=0)) == 1  # ours is kept
    assert incomplete(store) == ["mine/x.bin"]


def test_s3_down_for_a_minute_mid_upload(tmp_path: Path) -> None:
    """The store stops for ≥60 s during a ≥200 MB upload; the upload completes when it returns,
    no finished part is sent twice, the SHA-256 matches, and no incomplete upload remains."""
    port = free_port()
    weed = EmbeddedSeaweed(tmp_path / "s3", s3_port=port)
    conn: S3Connection = weed.start()
    store = ObjectStore(conn, "outage")
    store.ensure_bucket()
    src = tmp_path / "long-lecture.mp4"
    digest = big_file(src, 210)
    up = ResumableUploader(store, UploadJournal(tmp_path / "j.db"), 8 * 1024 * 1024, FAST)
    up.enqueue("rec/long-lecture.mp4", src, "video/mp4")
    finished: Counter[int] = Counter()
    half = threading.Event()

    def on_part(job, number, size):
        finished[number] += 1
        if number == 10:
            half.set()

    result: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("info", up.upload("rec/long-lecture.mp4", on_part))
    )
    worker.start()
    try:
        assert half.wait(120)
        weed.stop()
        down_at = time.monotonic()
        time.sleep(62)
        assert worker.is_alive()  # still trying, not given up
        weed = EmbeddedSeaweed(tmp_path / "s3", s3_port=port)
        weed.start()
        worker.join(300)
        assert not worker.is_alive()
        assert time.monotonic() - down_at >= 60
        info = result["info"]
        assert info.sha256 == digest  # type: ignore[attr-defined]
        parts = -(-210 // 8)
        assert sorted(finished) == list(range(1, parts + 1))
        assert max(finished.values()) == 1  # no finished part was sent again
        assert incomplete(store) == []
        assert (
            hashlib.sha256(b"".join(store.open_range("rec/long-lecture.mp4"))).hexdigest() == digest
        )
    finally:
        weed.stop()


def test_what_the_store_already_holds_whole_is_not_sent_again(
    store: ObjectStore, tmp_path: Path
) -> None:
    src = tmp_path / "seg.ts"
    digest = big_file(src, 6)
    store.put_file("r/seg.ts", src, "video/mp2t")  # sent while recording
    sent: list[int] = []
    up = ResumableUploader(store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST)
    up.enqueue("r/seg.ts", src, "video/mp2t")
    assert up.upload("r/seg.ts", lambda job, n, size: sent.append(n)).sha256 == digest
    assert sent == [] and up.journal.pending() == [] and incomplete(store) == []


def test_an_object_lost_from_the_store_is_sent_again(store: ObjectStore, tmp_path: Path) -> None:
    """A job the journal has as done whose object the store no longer holds (deleted, or lost by
    the store): asked for again, the local file goes up again instead of the upload failing."""
    src = tmp_path / "seg.ts"
    digest = big_file(src, 6)  # 2 parts
    slept: list[float] = []
    up = ResumableUploader(
        store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST, sleep=slept.append
    )
    up.enqueue("r/seg.ts", src, "video/mp2t")
    up.upload("r/seg.ts")
    store.delete("r/seg.ts")
    sent: list[int] = []
    assert up.enqueue("r/seg.ts", src, "video/mp2t").state == "done"  # the job is kept
    info = up.upload("r/seg.ts", lambda job, n, size: sent.append(n))
    assert sorted(sent) == [1, 2] and len(slept) == 1
    assert info.sha256 == digest == store.stat("r/seg.ts").sha256
    assert b"".join(store.open_range("r/seg.ts")) == src.read_bytes()
    job = up.journal.get("r/seg.ts")
    assert job is not None and job.state == "done" and incomplete(store) == []


def test_bandwidth_cap_paces_parts_across_uploads(store: ObjectStore, tmp_path: Path) -> None:
    """Two uploads at once under one 10 MiB/s cap: each part waits for the bytes reserved before
    it, so together they can never go faster than the cap."""
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)
        time.sleep(seconds)

    cap = 10 * 1024 * 1024
    limit = RateLimit(cap, sleep=record)
    uploader = ResumableUploader(
        store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST, limit=limit
    )
    for name in ("a", "b"):
        big_file(tmp_path / name, 15)  # 3 parts each
        uploader.enqueue(name, tmp_path / name, "application/octet-stream")
    threads = [threading.Thread(target=uploader.upload, args=(n,)) for n in ("a", "b")]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = 30 * 1024 * 1024
    assert store.stat("a").size == store.stat("b").size == 15 * 1024 * 1024
    # Six parts of 5 MiB: the last starts no sooner than the five before it took at the cap.
    assert waits and all(w > 0 for w in waits)
    assert elapsed >= (total - MIN_PART) / cap - 0.05  # never faster than the cap allows


def test_rate_limit_reserves_time_in_order() -> None:
    now = [100.0]
    slept: list[float] = []
    limit = RateLimit(1000, clock=lambda: now[0], sleep=slept.append)
    assert limit.take(500) == 0  # the first bytes go at once
    assert limit.take(500) == pytest.approx(0.5)
    now[0] += 5  # idle: no debt is carried
    assert limit.take(1000) == 0
    assert slept == [pytest.approx(0.5)]
    with pytest.raises(ValueError):
        RateLimit(0)


def test_the_same_key_from_two_threads_goes_up_once(store: ObjectStore, tmp_path: Path) -> None:
    """The agent queues a segment when it is accepted and again when the recording ends: the
    two must not abort each other's multipart upload or reset each other's parts."""
    src = tmp_path / "seg.ts"
    digest = big_file(src, 12)
    up = ResumableUploader(store, UploadJournal(tmp_path / "j.db"), MIN_PART, FAST)
    sent: Counter[int] = Counter()
    results: list[str | None] = []

    def both() -> None:
        up.enqueue("r/seg.ts", src, "video/mp2t")
        info = up.upload("r/seg.ts", lambda job, n, size: sent.update([n]))
        results.append(info.sha256)

    threads = [threading.Thread(target=both) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [digest, digest]
    assert sorted(sent) == [1, 2, 3] and max(sent.values()) == 1  # every part sent once
    assert incomplete(store) == []


def test_a_crash_between_assembly_and_seal_resends_nothing(
    store: ObjectStore, s3: S3Connection, tmp_path: Path
) -> None:
    """The store assembled the parts, then the agent died before the SHA-256 went into the
    metadata: the restarted uploader seals it from its journal without sending a part again."""
    src = tmp_path / "lecture.mp4"
    digest = big_file(src, 11)
    journal_path = tmp_path / "journal.db"
    first = ResumableUploader(store, UploadJournal(journal_path), MIN_PART, FAST)
    first.enqueue("r/lecture.mp4", src, "video/mp4")

    def power_cut(*args: object, **kw: object) -> None:
        raise UploadCancelled  # as if the agent died right before sealing

    first.store.client.copy_object = power_cut  # type: ignore[method-assign]
    with pytest.raises(UploadCancelled):
        first.upload("r/lecture.mp4")
    first.journal.close()
    job = UploadJournal(journal_path).get("r/lecture.mp4")
    assert job is not None and job.state == "completed" and job.sha256 == digest
    assert store.stat("r/lecture.mp4").sha256 is None  # assembled, not yet sealed

    resent: list[int] = []
    again = ResumableUploader(
        ObjectStore(s3, store.bucket), UploadJournal(journal_path), MIN_PART, FAST
    )
    info = again.upload("r/lecture.mp4", lambda job, n, size: resent.append(n))
    assert resent == [] and info.sha256 == digest and store.stat("r/lecture.mp4").sha256 == digest
    assert again.journal.pending() == [] and incomplete(store) == []


def test_a_journal_from_before_fingerprints_still_resumes(
    store: ObjectStore, tmp_path: Path
) -> None:
    """An agent upgraded mid-upload: its journal has no modification times and its jobs carry
    the SHA-256 computed before sending; they finish as they started."""
    import sqlite3

    src = tmp_path / "seg.ts"
    digest = big_file(src, 7)
    journal_path = tmp_path / "journal.db"
    db = sqlite3.connect(journal_path)
    db.executescript(
        "CREATE TABLE uploads (key TEXT PRIMARY KEY, path TEXT NOT NULL, content_type TEXT NOT "
        "NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, part_size INTEGER NOT NULL, "
        "upload_id TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error "
        "TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);"
    )
    db.execute(
        "INSERT INTO uploads (key, path, content_type, size, sha256, part_size, state, "
        "created_at, updated_at) VALUES (?, ?, 'video/mp2t', ?, ?, ?, 'pending', 0, 0)",
        ("r/seg.ts", str(src.resolve()), src.stat().st_size, digest, MIN_PART),
    )
    db.commit()
    db.close()
    up = ResumableUploader(store, UploadJournal(journal_path), MIN_PART, FAST)
    assert up.enqueue("r/seg.ts", src, "video/mp2t").mtime_ns is None  # the same job, kept
    info = up.upload("r/seg.ts")
    assert info.sha256 == digest and up.journal.pending() == []


def test_the_store_checks_each_part_s_crc32c(store: ObjectStore) -> None:
    """The per-part checksum the uploader sends is worth its time only if the store checks it: a
    part that does not match it is refused, one that does is taken."""
    client = store.client
    upload_id = client._create_multipart_upload(store.bucket, "damaged", {})
    data = os.urandom(1024)
    right = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    wrong = base64.b64encode((google_crc32c.value(data) ^ 1).to_bytes(4, "big")).decode()

    def send(crc: str) -> str:
        headers: dict[str, str | list[str] | tuple[str]] = {UNSIGNED: "1", CRC32C: crc}
        return client._upload_part(store.bucket, "damaged", data, headers, upload_id, 1)

    with pytest.raises(S3Error) as refused:
        send(wrong)
    assert refused.value.code == "BadDigest"
    assert send(right)
    client._abort_multipart_upload(store.bucket, "damaged", upload_id)


def test_parts_in_flight_follow_the_host_within_a_memory_bound() -> None:
    """One part in flight per core, at least the SDK's three and at most eight, and never more
    part buffers held than IN_FLIGHT_MAX (one more part is being read)."""
    assert [default_workers(MIN_PART, cpus=n) for n in (1, 2, 3, 5, 8, 16, 64)] == [
        3,
        3,
        3,
        5,
        8,
        8,
        8,
    ]
    for part in (MIN_PART, 8 * 1024**2, 16 * 1024**2, 64 * 1024**2):
        workers = default_workers(part, cpus=64)
        assert workers >= 1 and ((workers + 1) * part <= IN_FLIGHT_MAX or workers == 1)
    assert default_workers(16 * 1024**2, cpus=64) == 2


def test_cancelled_waits_leave_the_upload_to_the_journal(tmp_path: Path) -> None:
    """Shutdown while the store does not answer: the upload backing off for a long while ends
    at once when told to, with UploadCancelled, and its job stays in the journal to resume."""
    down = ObjectStore(S3Connection(f"127.0.0.1:{free_port()}", "k", "secret-key"), "gone")
    src = tmp_path / "seg.ts"
    src.write_bytes(os.urandom(1024))
    up = ResumableUploader(down, UploadJournal(tmp_path / "j.db"), MIN_PART, Backoff(600, 600))
    up.enqueue("r/seg.ts", src, "video/mp2t")
    outcome: list[BaseException] = []

    def upload() -> None:
        try:
            up.upload("r/seg.ts")
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=upload, daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while (job := up.journal.get("r/seg.ts")) is not None and job.attempts == 0:
        assert time.monotonic() < deadline, "the upload never tried the store"
        time.sleep(0.05)
    up.cancel_waits()  # it now waits out its first back-off of up to 600 s
    worker.join(timeout=30)
    assert not worker.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], UploadCancelled)
    job = up.journal.get("r/seg.ts")
    assert job is not None and job.state != "done" and job.attempts >= 1
