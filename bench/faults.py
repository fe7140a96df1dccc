"""Media lost to faults on site: `classroom serve` and `classroom agent` as separate processes at
the default capture settings (720p30, veryfast, 4-s segments), SeaweedFS as their store, one
fault injected into each lecture. Each recording is checked when it is available: media time
against the capture's wall time (the baseline, measured in the same lecture), how much of what
is missing the agent reported as gaps, and how much it did not.

Goals (Round 2 · 2): no media lost to an outage of the store, the portal or the network; at most
one segment to an agent crash; a full disk loses what could not be written, and says so.
`BENCH_FAULT_S` sets how long each outage lasts (default 60).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import Result
from storage.ports import free_port
from storage.seaweed import EmbeddedSeaweed, read_connection
from tests.live_stack import LiveStack, build_stack
from tests.recording_helpers import wait_state

FAULT_S = float(os.environ.get("BENCH_FAULT_S", "60"))
BEFORE_S = 12.0  # lecture before the fault
AFTER_S = 12.0  # and after it, before Stop
DEFAULT_CAPTURE = {
    "CLASSROOM_MEDIA__VIDEO_SIZE": "1280x720",
    "CLASSROOM_MEDIA__X264_PRESET": "veryfast",
    "CLASSROOM_MEDIA__SEGMENT_SECONDS": "4",
    "CLASSROOM_AGENT__RETRY_BACKOFF_MAX_S": "30",
}
EMBEDDED_STORE = {
    "CLASSROOM_STORAGE__ENDPOINT": "",
    "CLASSROOM_STORAGE__ACCESS_KEY": "",
    "CLASSROOM_STORAGE__SECRET_KEY": "",
}


@dataclass
class Lecture:
    stack: LiveStack
    weed: EmbeddedSeaweed | None  # the store, when it is not the portal's own


Fault = Callable[[Lecture], None]


@dataclass(frozen=True)
class Outcome:
    fault: str
    wall_s: float
    media_s: float
    reported_s: float
    reasons: list[str]

    @property
    def lost_s(self) -> float:
        return max(0.0, self.wall_s - self.media_s)

    @property
    def unexplained_s(self) -> float:
        return max(0.0, self.lost_s - self.reported_s)


def _no_fault(lecture: Lecture) -> None:
    time.sleep(FAULT_S)


def _agent_killed(lecture: Lecture) -> None:
    lecture.stack.stop(lecture.stack.agent, signal.SIGKILL)
    lecture.stack.start_agent()
    time.sleep(FAULT_S)


def _portal_killed(lecture: Lecture) -> None:
    lecture.stack.stop(lecture.stack.portal, signal.SIGKILL)
    time.sleep(FAULT_S)
    lecture.stack.start_portal()


def _store_stopped(lecture: Lecture) -> None:
    assert lecture.weed is not None
    lecture.weed.stop()
    time.sleep(FAULT_S)
    lecture.weed.start()


def _store_hung_agent_killed(lecture: Lecture) -> None:
    assert lecture.weed is not None and lecture.weed._proc is not None
    pid = lecture.weed._proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(FAULT_S / 2)
        lecture.stack.stop(lecture.stack.agent, signal.SIGKILL)
        lecture.stack.start_agent()
        time.sleep(FAULT_S / 2)
    finally:
        os.kill(pid, signal.SIGCONT)


def _disk_full(lecture: Lecture) -> None:
    """The agent's disk (a tmpfs mounted for it) filled for ``FAULT_S``, then freed."""
    agent_dir = lecture.stack.data_dir / "agent"
    filler = agent_dir / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 1024**2)
    time.sleep(FAULT_S)
    filler.unlink()


@contextlib.contextmanager
def _lecture(workdir: Path, own_store: bool, agent_tmpfs: bool) -> Iterator[Lecture]:
    weed = None
    if own_store:
        weed = EmbeddedSeaweed(workdir / "s3", s3_port=free_port())
        weed.start()
    try:
        with _stack(workdir, weed, agent_tmpfs) as stack:
            yield Lecture(stack, weed)
    finally:
        if weed is not None:
            weed.stop()


@contextlib.contextmanager
def _stack(workdir: Path, weed: EmbeddedSeaweed | None, agent_tmpfs: bool) -> Iterator[LiveStack]:
    scratch = EmbeddedSeaweed(workdir / "seed-s3") if weed is None else None
    conn = weed.connection if weed is not None else None
    if scratch is not None:
        conn = scratch.start()  # build_stack makes its bucket there; the portal runs its own
    assert conn is not None
    env = DEFAULT_CAPTURE | (EMBEDDED_STORE if weed is None else {})
    if agent_tmpfs:  # a small disk of its own: no free-space floor, so it can fill
        env |= {"CLASSROOM_AGENT__MIN_FREE_MB": "0"}
    stack = build_stack(workdir / "live", conn, "faults", extra_env=env)
    if scratch is not None:
        scratch.stop()
    agent_dir = stack.data_dir / "agent"
    if agent_tmpfs:
        agent_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(agent_dir)])
    try:
        stack.start_portal()
        if weed is None:  # the agent finds the portal's store by its connection file
            assert read_connection(stack.data_dir / "s3") is not None
        stack.start_agent()
        yield stack
    finally:
        stack.stop(stack.agent)
        stack.stop(stack.portal)
        if agent_tmpfs:
            subprocess.run(["umount", "-l", str(agent_dir)])


def _run_lecture(name: str, fault: Fault, workdir: Path, **where: bool) -> Outcome:
    with _lecture(workdir, **where) as lecture:
        trainer = lecture.stack.login("trainer")
        sid = lecture.stack.world.session_id
        rec_id = trainer.post(f"/api/v1/sessions/{sid}/recording/start").json()["id"]
        wait_state(trainer, rec_id, {"recording"}, timeout=60)
        time.sleep(BEFORE_S)
        fault(lecture)
        time.sleep(AFTER_S)
        trainer = lecture.stack.login("trainer")  # the portal may have restarted
        trainer.post(f"/api/v1/sessions/{sid}/recording/stop").raise_for_status()
        rec = wait_state(trainer, rec_id, {"available", "failed"}, timeout=600)
        assert rec["state"] == "available", (rec, lecture.stack.tail())
    reported = [g for g in rec["gaps"] if g["reason"] != "unexplained"]
    return Outcome(
        name,
        rec["expected_s"],
        rec["duration_s"],
        sum(g["seconds"] for g in reported),
        [g["reason"] for g in reported],
    )


FAULTS: list[tuple[str, Fault, dict[str, bool]]] = [
    ("no fault", _no_fault, {"own_store": True, "agent_tmpfs": False}),
    ("agent killed (-9), restarted", _agent_killed, {"own_store": True, "agent_tmpfs": False}),
    (
        "portal with its store killed (-9)",
        _portal_killed,
        {"own_store": False, "agent_tmpfs": False},
    ),
    ("portal killed (-9), store apart", _portal_killed, {"own_store": True, "agent_tmpfs": False}),
    ("store stopped", _store_stopped, {"own_store": True, "agent_tmpfs": False}),
    (
        "store hung, agent killed (-9) in it",
        _store_hung_agent_killed,
        {"own_store": True, "agent_tmpfs": False},
    ),
    ("agent's disk full", _disk_full, {"own_store": True, "agent_tmpfs": True}),
]


def run(workdir: Path) -> list[Result]:
    outcomes = []
    for i, (name, fault, where) in enumerate(FAULTS):
        if where["agent_tmpfs"] and os.geteuid() != 0:
            print(f"  {name}: skipped (mounting a tmpfs needs root)", flush=True)
            continue
        outcome = _run_lecture(name, fault, workdir / f"lecture-{i}", **where)
        outcomes.append(outcome)
        print(
            f"  {name}: wall {outcome.wall_s:.1f} s, media {outcome.media_s:.1f} s, "
            f"lost {outcome.lost_s:.1f} s, reported {outcome.reported_s:.1f} s "
            f"{outcome.reasons}, unexplained {outcome.unexplained_s:.1f} s",
            flush=True,
        )
    return [
        Result(
            "faults",
            f"{o.fault} ({FAULT_S:.0f} s): media",
            "capture wall time",
            "s",
            o.media_s,
            o.wall_s,
            higher_is_better=True,
        )
        for o in outcomes
    ]
