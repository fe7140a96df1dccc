"""Where the agent keeps its work on this machine, and the markers that outlive a restart.

``<data_dir>/agent/classroom-<id>/`` holds the outbox (``outbox.db``), the upload journal
(``uploads.db``), the cached schedule (``schedule.json``), the last heartbeat (``status.json``),
and one directory per recording, ``recording-<id>/``: the recorder's ``cache/``, ``segments/``
(accepted), ``rejected/``, the screen's own ``screen/``, the joined MP4s, and the markers below.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

# Markers in a recording's directory, read again after a restart:
STOPPED = "stopped"  # stopped here: never started again
PAUSED = "paused"  # the trainer paused it: neither started by the schedule nor finished
BY_SCHEDULE = "by-schedule"  # the schedule started it (not a trainer's command)
UPLOADED = "uploaded"  # every file of it is in the store, verified: retention may delete it

RECORDING_DIRS = "recording-*"  # the glob of the recordings' directories

OUTBOX = "outbox.db"
UPLOADS = "uploads.db"
SCHEDULE = "schedule.json"
STATUS = "status.json"


def agent_workdir(data_dir: Path, classroom_id: int) -> Path:
    """The agent's directory for one classroom under the data directory."""
    return data_dir / "agent" / f"classroom-{classroom_id}"


@dataclass(frozen=True)
class Recordings:
    """The recordings' directories under the agent's directory, and their markers."""

    root: Path

    def dir(self, recording_id: int) -> Path:
        return self.root / f"recording-{recording_id}"

    def marker(self, recording_id: int, name: str) -> Path:
        return self.dir(recording_id) / name

    def mark(self, recording_id: int, name: str, on: bool) -> None:
        marker = self.marker(recording_id, name)
        if on:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def marked(self, ids: set[int], name: str) -> set[int]:
        return {rid for rid in ids if self.marker(rid, name).exists()}

    def free_bytes(self) -> int:
        """Free space on the disk that holds them."""
        return shutil.disk_usage(self.root).free
