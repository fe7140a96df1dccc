"""Local copies go only after the object store holds them, verified; oldest first.

A recording's directory gets an ``uploaded`` marker once every file of it is in the store with a
matching SHA-256. Only such directories are ever deleted: those older than the retention period,
and, while the disk is below its free-space floor, more of them, oldest first. Anything not yet
verified stays, however full the disk — a full disk delays data, it never drops it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from classroom.agent.local import RECORDING_DIRS, UPLOADED

log = structlog.get_logger(__name__)


def sweep(
    workdir: Path,
    keep_days: float,
    min_free_bytes: int,
    free_bytes: Callable[[], int] | None = None,
    now: float | None = None,
) -> list[Path]:
    """Delete what the policy allows; return what was deleted."""
    free = free_bytes or (lambda: shutil.disk_usage(workdir).free)
    now = time.time() if now is None else now
    verified = sorted(
        (
            ((d / UPLOADED).stat().st_mtime, d)
            for d in workdir.glob(RECORDING_DIRS)
            if (d / UPLOADED).is_file()
        ),
    )
    removed = []
    for uploaded_at, d in verified:
        expired = now - uploaded_at >= keep_days * 86400
        if not expired and free() >= min_free_bytes:
            continue
        shutil.rmtree(d)
        removed.append(d)
        log.info("agent.retention_deleted", path=d.name, expired=expired)
    return removed
