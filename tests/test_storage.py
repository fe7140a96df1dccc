"""The object store on a real S3 server (SeaweedFS), and the embedded launcher."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from minio.error import S3Error

from storage.object_store import ObjectNotFound, ObjectStore, sha256_file
from storage.seaweed import EmbeddedSeaweed, EmbeddedStoreError, S3Connection, read_connection


def test_put_stat_range_presign_delete(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    info = store.put_file("a/b/blob.bin", src, "application/octet-stream")
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest() == sha256_file(src)
    assert store.stat("a/b/blob.bin").sha256 == info.sha256
    assert b"".join(store.open_range("a/b/blob.bin", 100, 50)) == data[100:150]
    assert b"".join(store.open_range("a/b/blob.bin")) == data

    url = store.presigned_get("a/b/blob.bin", timedelta(seconds=60))
    got = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert got.status_code == 206 and got.content == data[:10]
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=600")
    assert httpx.get(tampered).status_code == 403  # the signature covers the expiry

    store.delete("a/b/blob.bin")
    with pytest.raises(ObjectNotFound):
        store.stat("a/b/blob.bin")


def test_wrong_secret_is_refused(s3: S3Connection, bucket: str) -> None:
    bad = ObjectStore(S3Connection(s3.endpoint, s3.access_key, "wrong-secret"), bucket)
    with pytest.raises(S3Error):
        bad.ensure_bucket()


def test_ensure_bucket_is_idempotent(store: ObjectStore) -> None:
    store.ensure_bucket()
    store.ensure_bucket()
    assert store.client.bucket_exists(store.bucket)


def test_embedded_store_keeps_keys_and_data_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "s3"
    src = tmp_path / "x.txt"
    src.write_text("kept")
    weed = EmbeddedSeaweed(root)
    conn = weed.start()
    try:
        assert read_connection(root) == conn
        mode = stat.S_IMODE((root / "s3.json").stat().st_mode)
        assert mode == 0o600
        with pytest.raises(EmbeddedStoreError, match="already running"):
            EmbeddedSeaweed(root).start()
        st = ObjectStore(conn, "keep")
        st.ensure_bucket()
        st.put_file("x.txt", src, "text/plain")
    finally:
        weed.stop()
    assert read_connection(root) is None
    assert weed._proc is not None and weed._proc.returncode is not None

    again = EmbeddedSeaweed(root)
    conn2 = again.start()
    try:
        assert (conn2.access_key, conn2.secret_key) == (conn.access_key, conn.secret_key)
        assert conn2.endpoint == conn.endpoint  # agents find it where it was
        assert b"".join(ObjectStore(conn2, "keep").open_range("x.txt")) == b"kept"
        keys = json.loads((root / "s3.json").read_text())["identities"][0]["credentials"][0]
        assert keys["secretKey"] == conn.secret_key
    finally:
        again.stop()


def test_a_store_that_does_not_start_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """weed's own last words are in the error (and so on the portal's stderr), not only in
    weed.log."""
    fake = tmp_path / "weed"
    fake.write_text(
        "#!/bin/sh\necho 'F1204 failed to listen on 127.0.0.1: address in use'\nexit 3\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr("storage.seaweed.weed_binary", lambda: str(fake))
    with pytest.raises(EmbeddedStoreError, match="code 3: F1204 failed to listen"):
        EmbeddedSeaweed(tmp_path / "s3").start()
