"""Resumable, verified uploads of large files: S3 multipart, memory bounded by the parts in flight.

- The file is read once: each part is hashed into the file's SHA-256 and checksummed (CRC32C, which
  the store verifies: a part damaged on the way is refused) as it is sent. When the store has
  assembled the parts, the SHA-256 of exactly those bytes goes into the object's metadata (a
  metadata-only copy onto itself), and the object is accepted only if the store then reports that
  size and hash. A file that changes while it is queued or sent (size or modification time) starts
  over, so an object is always one whole version of its file.
- The upload id, every finished part, and "assembled, hash not yet sealed" are journaled
  (``UploadJournal``) before moving on, so an agent restarted mid-upload sends only the parts that
  are missing (finished ones are re-read locally for the hash, never re-sent).
- Network faults and 5xx answers are retried forever with capped exponential back-off and jitter:
  an outage delays an upload, it never drops it. A job the journal has as done whose object the
  store no longer holds is sent again from the local file.
- ``abort_orphans`` aborts incomplete multipart uploads that no journal job will ever finish, so no
  orphan parts stay in the bucket.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import google_crc32c
import structlog
from minio.commonconfig import REPLACE, CopySource
from minio.datatypes import Part
from minio.error import S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3Error

from storage.object_store import (
    SHA256_META,
    UNSIGNED,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    sha256_file,
)
from storage.ratelimit import RateLimit
from storage.upload_journal import UploadJob, UploadJournal

log = structlog.get_logger(__name__)

# Castagnoli CRC, in hardware (SSE4.2 / ARMv8 CRC): three times zlib's CRC32 here, which was the
# one thing this uploader computed that the SDK's fput_object does not (docs/benchmarks.md).
CRC32C = "x-amz-checksum-crc32c"
MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last
DEFAULT_PART = 5 * 1024 * 1024
# Parts in flight at once, to keep the link and the store busy while this process hashes the
# next part; memory holds one part more than that. The SDK's fput_object sends three. With the
# store on a host of 16 cores, 3 → 6 → 8 parts took a 2 GiB upload from 319 to 579 to 771 MB/s
# (fput_object: 303–328); on 2 cores, which the store alone fills, 3 and 5 gave the same
# (bench/upload.py, docs/benchmarks.md). So one per core, at least 3 and at most 8, and never more
# than IN_FLIGHT_MAX bytes of parts in memory.
MIN_WORKERS, MAX_WORKERS = 3, 8
IN_FLIGHT_MAX = 48 * 1024 * 1024


def default_workers(part_size: int, cpus: int | None = None) -> int:
    """Parts in flight for this host, within the memory bound (a part more is being read)."""
    cores = (os.cpu_count() or 1) if cpus is None else cpus
    return max(1, min(MAX_WORKERS, max(MIN_WORKERS, cores), IN_FLIGHT_MAX // part_size - 1))


class FileChanged(IntegrityError):
    """The local file no longer has the hash it was queued with."""


class ObjectLost(IntegrityError):
    """The store no longer holds an object the journal has as done (deleted, or lost by the store):
    the local file, while it is there, is sent again."""


class UploadCancelled(Exception):
    """An upload stopped where it is (the journal keeps it): raised by a progress callback, or by
    the back-off once ``cancel_waits()`` was called."""


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int) -> float:
        # "Full jitter": spreads the retries of many agents after a shared outage.
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, Urllib3Error | ConnectionError | TimeoutError | ServerError):
        return True
    return isinstance(exc, S3Error) and exc.code in (
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        # A store that was down when the agent started has no bucket yet: the agent makes it
        # when the store answers (its bucket loop), and what waits goes up then.
        "NoSuchBucket",
    )


PartCallback = Callable[[UploadJob, int, int], None]  # job, part number, bytes


class ResumableUploader:
    def __init__(
        self,
        store: ObjectStore,
        journal: UploadJournal,
        part_size: int = DEFAULT_PART,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] | None = None,
        limit: RateLimit | None = None,
        workers: int | None = None,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes")
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers or default_workers(part_size)
        self.store = store
        self.journal = journal
        self.part_size = part_size
        self.backoff = backoff
        self.sleep = sleep  # the back-off's wait; None: one that cancel_waits() ends
        self.limit = limit
        self._cancelled = threading.Event()
        self._locks: dict[str, threading.RLock] = {}
        self._locks_lock = threading.Lock()

    def _key(self, key: str) -> threading.RLock:
        """One upload of a key at a time: two threads sending the same object would abort each
        other's multipart uploads and reset each other's journaled parts."""
        with self._locks_lock:
            return self._locks.setdefault(key, threading.RLock())

    def enqueue(self, key: str, path: Path, content_type: str) -> UploadJob:
        """Queue ``path`` under ``key``; the same file queued again (same path, size and
        modification time) keeps its job, with its finished parts or its done state. Nothing is
        read here: the upload hashes the bytes as it sends them."""
        with self._key(key):
            st = path.stat()
            path = path.resolve()
            job = self.journal.get(key)
            if job is not None and (job.path, job.size) == (path, st.st_size):
                if job.mtime_ns == st.st_mtime_ns:
                    return job
                if job.mtime_ns is None and job.sha256 == sha256_file(path):  # an older journal
                    return job
            return self.journal.add(
                key, path, content_type, st.st_size, "", self.part_size, st.st_mtime_ns
            )

    def upload(self, key: str, on_part: PartCallback | None = None) -> ObjectInfo:
        """Finish the job for ``key``; retries until it is in the store and verified."""
        with self._key(key):
            return self._upload(key, on_part)

    def _upload(self, key: str, on_part: PartCallback | None) -> ObjectInfo:
        attempt = 0
        while True:
            job = self.journal.get(key)
            if job is None:
                raise KeyError(f"no upload job for {key}")
            try:
                return self._attempt(job, on_part)
            except UploadCancelled:
                raise
            except IntegrityError as exc:
                self._restart(job)
                if isinstance(exc, FileChanged):
                    # What is on disk now is what there is: queue it again under its new hash.
                    self.enqueue(key, job.path, job.content_type)
                event = "upload.integrity_retry"
                error = str(exc)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if not is_transient(exc) and not self._lost_upload(exc):
                    self.journal.failed_attempt(key, error)
                    raise
                if self._lost_upload(exc):
                    self._restart(job)  # the store forgot the upload id: start a new one
                event = "upload.retry"
            self.journal.failed_attempt(key, error)
            # Integrity retries back off too: a file rewritten all the time, or a store that
            # keeps answering with other bytes, must not have the whole file re-sent in a loop.
            wait = self.backoff.delay(attempt)
            log.warning(event, key=key, attempt=attempt, wait_s=round(wait, 2), error=error[:200])
            attempt += 1
            self._back_off(wait)

    def cancel_waits(self) -> None:
        """From now on every back-off ends at once with UploadCancelled, its upload left to the
        journal: for shutdown, where a store that does not answer must not hold the exit."""
        self._cancelled.set()

    def _back_off(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self._cancelled.wait(seconds)
        if self._cancelled.is_set():
            raise UploadCancelled

    @staticmethod
    def _lost_upload(exc: BaseException) -> bool:
        return isinstance(exc, S3Error) and exc.code == "NoSuchUpload"

    def _restart(self, job: UploadJob) -> None:
        job = self.journal.get(job.key) or job  # the attempt may have started an upload since
        if job.upload_id:
            try:
                self.store.client._abort_multipart_upload(self.store.bucket, job.key, job.upload_id)
            except Exception as exc:  # it may be gone already; abort_orphans will find it if not
                log.info("upload.abort_failed", key=job.key, error=str(exc)[:200])
        self.journal.set_upload_id(job.key, None)

    def _unchanged(self, job: UploadJob) -> None:
        st = job.path.stat()
        if st.st_size != job.size or (job.mtime_ns is not None and st.st_mtime_ns != job.mtime_ns):
            raise FileChanged(f"{job.path} changed since it was queued")

    def _held_already(self, job: UploadJob) -> ObjectInfo | None:
        """The object, if the store already holds this file whole (sent before a restart, or by
        another path): compared by size, then by the SHA-256 read here."""
        try:
            held = self.store.stat(job.key)
        except ObjectNotFound:
            return None
        if held.size != job.size or held.sha256 is None:
            return None
        if (job.sha256 or sha256_file(job.path)) != held.sha256:
            return None
        self._unchanged(job)
        self.journal.completed(job.key, held.sha256)
        self.journal.done(job.key)
        return held

    def _attempt(self, job: UploadJob, on_part: PartCallback | None) -> ObjectInfo:
        client, bucket = self.store.client, self.store.bucket
        if job.state == "done":
            try:
                return self._verify(job)
            except ObjectNotFound:
                raise ObjectLost(f"{job.key}: done, but the store no longer holds it") from None
        self._unchanged(job)
        if job.state == "completed":  # assembled before a restart; its hash not yet sealed
            return self._seal(job)
        upload_id = job.upload_id
        if upload_id is None:
            held = self._held_already(job)
            if held is not None:
                return held
            headers: dict[str, str | list[str] | tuple[str]] = {"Content-Type": job.content_type}
            if job.sha256:  # known ahead (a job from an older journal): in the metadata now
                headers[f"x-amz-meta-{SHA256_META}"] = job.sha256
            upload_id = client._create_multipart_upload(bucket, job.key, headers)
            self.journal.set_upload_id(job.key, upload_id)
            log.info("upload.started", key=job.key, parts=job.parts_total, size=job.size)
        done = self.journal.parts(job.key)
        digest = hashlib.sha256()

        def send(number: int, data: bytes, crc: str) -> None:
            # Signed as UNSIGNED-PAYLOAD (no second SHA-256 of each part only to sign it); the
            # store checks the part's CRC32C instead, and refuses it if a bit changed on the way.
            headers: dict[str, str | list[str] | tuple[str]] = {UNSIGNED: "1", CRC32C: crc}
            etag = client._upload_part(bucket, job.key, data, headers, upload_id, number)
            self.journal.part_done(job.key, number, etag, len(data))
            if on_part is not None:
                on_part(job, number, len(data))

        # Read, hash and checksum in order here; send up to `workers` parts at once, refilling
        # as soon as one is done. A failed part stops the attempt after those in flight finish
        # (and are journaled): the retry sends the rest.
        with job.path.open("rb") as f, ThreadPoolExecutor(self.workers) as pool:
            in_flight: set[Future[None]] = set()
            for number in range(1, job.parts_total + 1):
                data = f.read(job.part_size)
                digest.update(data)  # finished parts are re-read locally, never re-sent
                if number in done and done[number][1] == len(data):
                    continue
                if self.limit is not None:
                    self.limit.take(len(data))
                crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
                in_flight.add(pool.submit(send, number, data, crc))
                del data  # the worker holds the only reference: memory is bounded by the window
                if len(in_flight) >= self.workers:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        fut.result()
            for fut in in_flight:
                fut.result()
        # What was hashed is what was sent; a file that changed meanwhile (even in a part sent
        # before a restart) starts over, so the object is always one version of the file.
        self._unchanged(job)
        sha256 = digest.hexdigest()
        if job.sha256 and sha256 != job.sha256:
            raise FileChanged(f"{job.path} changed during its upload")
        sent = self.journal.parts(job.key)
        parts = [Part(n, sent[n][0]) for n in sorted(sent)]
        if len(parts) != job.parts_total:
            raise IntegrityError(f"{job.key}: {len(parts)} of {job.parts_total} parts journaled")
        client._complete_multipart_upload(bucket, job.key, upload_id, parts)
        if job.sha256:
            return self._finish(job)
        self.journal.completed(job.key, sha256)
        completed = self.journal.get(job.key)
        assert completed is not None
        return self._seal(completed)

    def _seal(self, job: UploadJob) -> ObjectInfo:
        """Write the SHA-256 into the assembled object's metadata: a copy onto itself that
        replaces only the metadata (the store keeps the data where it is)."""
        self.store.client.copy_object(
            self.store.bucket,
            job.key,
            CopySource(self.store.bucket, job.key),
            metadata={"Content-Type": job.content_type, f"x-amz-meta-{SHA256_META}": job.sha256},
            metadata_directive=REPLACE,
        )
        return self._finish(job)

    def _finish(self, job: UploadJob) -> ObjectInfo:
        info = self._verify(job)
        self.journal.done(job.key)
        log.info("upload.done", key=job.key, size=info.size, sha256=info.sha256)
        return info

    def _verify(self, job: UploadJob) -> ObjectInfo:
        info = self.store.stat(job.key)
        if info.size != job.size or info.sha256 != job.sha256:
            raise IntegrityError(
                f"{job.key}: store has {info.size} bytes sha256 {info.sha256}, "
                f"expected {job.size} {job.sha256}"
            )
        return info

    def abort_orphans(self, prefix: str = "", older_than: timedelta = timedelta(hours=1)) -> int:
        """Abort incomplete uploads under ``prefix`` that no pending job owns and that are older
        than ``older_than`` (younger ones may belong to another agent just starting)."""
        client, bucket = self.store.client, self.store.bucket
        mine = self.journal.upload_ids()
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        result = client._list_multipart_uploads(bucket, prefix=prefix)
        for up in result.uploads:
            if up.upload_id is None or up.upload_id in mine:
                continue
            if up.initiated_time is not None and up.initiated_time > cutoff:
                continue
            client._abort_multipart_upload(bucket, up.object_name, up.upload_id)
            aborted += 1
            log.info("upload.orphan_aborted", key=up.object_name, upload_id=up.upload_id)
        return aborted
