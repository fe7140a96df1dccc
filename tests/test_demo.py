"""`classroom demo`: starts everything on embedded defaults; Ctrl-C stops it all cleanly; a
second run reuses what the first left and finishes the recording it interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from storage.ports import free_port

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def start_demo(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(
        CLASSROOM_DATA_DIR=str(data_dir),
        CLASSROOM_WEB__PORT=str(port),
        CLASSROOM_MEDIA__VIDEO_SIZE="640x360",
        CLASSROOM_MEDIA__X264_PRESET="ultrafast",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "classroom.cli", "demo"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    while "Press Ctrl-C" not in log.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return proc


def login(url: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    c.post(
        "/api/v1/auth/login", json={"username": "trainer", "password": "trainer-demo-pw"}
    ).raise_for_status()
    return c


def wait_for(client: httpx.Client, rec_id: int, state: str, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = client.get(f"/api/v1/recordings/{rec_id}").json()
        if rec["state"] == state:
            return rec
        time.sleep(0.25)
    raise TimeoutError(rec)


def test_ctrl_c_stops_every_child_and_a_second_run_resumes(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start_demo(data, port, tmp_path / "demo1.log")
    banner = (tmp_path / "demo1.log").read_text()
    assert url in banner and "trainer-demo-pw" in banner
    client = login(url)
    sid = client.get("/api/v1/sessions").json()[0]["id"]
    rec_id = client.post(f"/api/v1/sessions/{sid}/recording/start").json()["id"]
    wait_for(client, rec_id, "recording")
    time.sleep(4)
    kids = descendants(first.pid)
    assert len(kids) >= 2  # weed and ffmpeg at least

    first.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    assert first.wait(60) == 0, (tmp_path / "demo1.log").read_text()[-3000:]
    # Stopped in order, not cut off: the agents' long polls answered as the portal stopped.
    said = (tmp_path / "demo1.log").read_text(errors="replace")
    assert "Traceback" not in said and "graceful shutdown exceeded" not in said, said[-3000:]
    time.sleep(0.5)
    assert not [k for k in kids if alive(k)], "orphaned child processes"
    rec_dir = data / "agent" / "classroom-1" / f"recording-{rec_id}"
    kept = sorted((rec_dir / "segments").glob("*.ts"))
    assert kept, "the interrupted recording's segments were lost"
    assert not list(data.rglob("*.partial*"))
    # The database, the store's credentials, the agent's caches: the portal's own, in folders
    # nobody else may enter. SeaweedFS sets its volume-info files 0644 itself: inside those
    # folders, no one else reaches them either.
    exposed = [
        f"{p} {p.stat().st_mode & 0o777:o}"
        for p in [data, *data.rglob("*")]
        if not p.is_symlink()
        and p.stat().st_mode & 0o077
        and not (p.suffix == ".vif" and p.parent == data / "s3" / "data")
    ]
    assert not exposed, exposed[:10]
    assert (data / "classroom.db").exists() and (data / "s3" / "s3.json").exists()

    second = start_demo(data, port, tmp_path / "demo2.log")
    try:
        client = login(url)
        assert client.get("/api/v1/sessions").json()[0]["id"] == sid  # reused, not re-seeded
        time.sleep(3)
        assert client.post(f"/api/v1/sessions/{sid}/recording/stop").status_code == 202
        rec = wait_for(client, rec_id, "available")
        assert rec["duration_s"] >= 4.0
        runs = {p.name.split("-")[0] for p in (rec_dir / "segments").glob("*.ts")}
        assert runs == {"r0001", "r0002"}
    finally:
        second.send_signal(signal.SIGINT)
        assert second.wait(60) == 0
