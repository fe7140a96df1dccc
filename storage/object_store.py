"""Object storage through the minio SDK: one bucket, objects carrying their SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import certifi
import structlog
import urllib3
from minio import Minio
from minio import time as minio_time
from minio.error import S3Error
from urllib3 import BaseHTTPResponse

from storage.seaweed import S3Connection

log = structlog.get_logger(__name__)

SHA256_META = "sha256"
_CHUNK = 1024 * 1024


class ObjectNotFound(KeyError):
    pass


_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


class IntegrityError(RuntimeError):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None
    content_type: str | None
    etag: str | None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


# A request header that never leaves this process: it asks for the part's body to be signed as
# UNSIGNED-PAYLOAD instead of by its SHA-256 (see ``_Minio``).
UNSIGNED = "x-classroom-unsigned-payload"


class _Minio(Minio):
    """The SDK, except that a request marked ``UNSIGNED`` is signed with UNSIGNED-PAYLOAD (as the
    SDK itself does over HTTPS). Multipart parts use it: the SDK would hash every part again only
    to sign it, and the uploader already has the file's SHA-256 in the object's metadata."""

    def _build_headers(
        self,
        host: str,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
        creds: Any = None,
    ) -> tuple[dict[str, Any], datetime]:
        headers = headers or {}
        if not (headers.pop(UNSIGNED, None) and creds and body):
            return super()._build_headers(host, headers, body, creds)
        headers["Host"] = host
        headers["User-Agent"] = self._user_agent
        headers["Content-Length"] = str(len(body))
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        if creds.session_token:
            headers["X-Amz-Security-Token"] = creds.session_token
        date = minio_time.utcnow()
        headers["x-amz-date"] = minio_time.to_amz_date(date)
        return headers, date


def _http_client(probe: bool = False) -> urllib3.PoolManager:
    """The SDK's own pool, with timeouts a store that stopped answering runs into in a minute
    instead of its default five per try: callers retry (uploads back off and can be stopped).
    A ``probe`` asks once and waits three seconds: is the store there at all?"""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3, read=3)
        if probe
        else urllib3.Timeout(connect=10, read=60),
        maxsize=10,
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=False
        if probe
        else urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class ObjectStore:
    """Blocking minio calls; async callers run them with ``asyncio.to_thread``."""

    def __init__(self, conn: S3Connection, bucket: str, region: str = "us-east-1") -> None:
        self.bucket, self.region = bucket, region
        self.connect(conn)

    def connect(self, conn: S3Connection) -> None:
        """Talk to the store at ``conn`` from now on (it moved: a restarted embedded store)."""
        self.connection = conn
        self.client, self._probe = (
            _Minio(
                conn.endpoint,
                access_key=conn.access_key,
                secret_key=conn.secret_key,
                secure=conn.secure,
                region=self.region,
                http_client=_http_client(probe),
            )
            for probe in (False, True)
        )

    def reachable(self) -> None:
        """Raises unless the store answers within seconds (about the bucket: whether it exists
        does not matter) — a store that hangs is as good as gone."""
        self._probe.bucket_exists(self.bucket)

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
                log.info("object_store.bucket_created", bucket=self.bucket)
            except S3Error as exc:  # another process created it first
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Upload ``path`` with its SHA-256 in the metadata, then check what the store holds.
        ``metadata`` values must be ASCII (S3 sends them as HTTP headers)."""
        digest = sha256_file(path)
        self.client.fput_object(
            self.bucket,
            key,
            str(path),
            content_type=content_type,
            metadata={**(metadata or {}), SHA256_META: digest},
        )
        info = self.stat(key)
        size = path.stat().st_size
        if info.size != size or info.sha256 != digest:
            raise IntegrityError(
                f"{key}: stored size/sha256 {info.size}/{info.sha256} != local {size}/{digest}"
            )
        log.info("object_store.put", key=key, size=size, sha256=digest)
        return info

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(key) from None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            sha256=meta.get(f"x-amz-meta-{SHA256_META}"),
            content_type=st.content_type,
            etag=st.etag,
        )

    def open_range(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """Stream a byte range (``length`` 0: to the end), releasing the connection afterwards."""
        resp: BaseHTTPResponse = self.client.get_object(
            self.bucket, key, offset=offset, length=length
        )
        try:
            yield from resp.stream(_CHUNK)
        finally:
            resp.close()
            resp.release_conn()

    def get_small(self, key: str, max_bytes: int = 16 * 1024 * 1024) -> bytes:
        """A small object whole (a playlist, a live segment); ObjectNotFound if absent."""
        try:
            resp: BaseHTTPResponse = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(key) from None
            raise
        try:
            data = resp.read(max_bytes + 1)
        finally:
            resp.close()
            resp.release_conn()
        if len(data) > max_bytes:
            raise ValueError(f"{key} is larger than {max_bytes} bytes")
        return data

    def presigned_get(
        self, key: str, expires: timedelta, response_headers: dict[str, str] | None = None
    ) -> str:
        return self.client.presigned_get_object(
            self.bucket,
            key,
            expires=expires,
            response_headers=response_headers,  # type: ignore[arg-type]
        )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """A small object from memory (at most a few MiB), with its SHA-256 checked back."""
        digest = hashlib.sha256(data).hexdigest()
        self.client.put_object(
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata={SHA256_META: digest},
        )
        info = self.stat(key)
        if info.size != len(data) or info.sha256 != digest:
            raise IntegrityError(f"{key}: stored {info.size}/{info.sha256} != {len(data)}/{digest}")
        return info

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)
