"""The agent's outbox: reports kept on disk in order, their writes (which wait for the disk) on a
thread of their own, never on the event loop that also carries the live relay's packets."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from classroom.agent.outbox import Outbox

pytestmark = pytest.mark.anyio


async def test_writes_wait_for_the_disk_off_the_event_loop(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db")
    writers: list[int] = []
    box._db.set_trace_callback(
        lambda sql: (
            writers.append(threading.get_ident()) if sql.startswith(("INSERT", "DELETE")) else None
        )
    )
    for n in range(3):
        await box.put("POST", f"/agent/checkin/{n}", {"n": n})
    kept = box.pending()
    assert [r.body["n"] for r in kept] == [0, 1, 2]  # in the order put
    await box.done(kept[0].id)
    assert box.depth()[0] == 2
    assert len(writers) == 4 and threading.get_ident() not in writers
    box.close()

    again = Outbox(tmp_path / "outbox.db")  # what was put is on disk
    assert [r.path for r in again.pending()] == ["/agent/checkin/1", "/agent/checkin/2"]
    again.close()
