"""The real processes: `classroom serve` and `classroom agent`, as an operator would run them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from classroom.db.engine import session_factory
from classroom.runtime import open_database
from classroom.seed import DEMO_LOGINS, DemoWorld, seed_demo
from classroom.settings import load_settings
from storage.object_store import ObjectStore
from storage.ports import free_port
from storage.seaweed import S3Connection

CLI = [sys.executable, "-m", "classroom.cli"]


@dataclass
class LiveStack:
    data_dir: Path
    env: dict[str, str]
    url: str
    store: ObjectStore
    world: DemoWorld
    portal: subprocess.Popen[bytes] | None = None
    agent: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def _spawn(
        self, name: str, args: list[str], extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.data_dir / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            return subprocess.Popen(
                CLI + args,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def start_portal(self) -> None:
        self.portal = self._spawn("portal", ["serve"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.portal.poll() is None, self.tail()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"portal did not start\n{self.tail()}")

    def start_agent(self) -> None:
        self.agent = self._spawn(
            "agent",
            ["agent", "--classroom", str(self.world.classroom_id), "--portal", self.url],
            {"CLASSROOM_AGENT_TOKEN": self.world.agent_token},
        )

    @contextmanager
    def running(self) -> Iterator[LiveStack]:
        """The portal and the agent, started, and stopped afterwards."""
        self.start_portal()
        self.start_agent()
        try:
            yield self
        finally:
            self.stop(self.agent)
            self.stop(self.portal)

    def db(self, work: Callable[..., Any]) -> Any:
        """Run ``work(db)`` on the stack's database and commit. In a thread of its own:
        Playwright's sync API keeps an event loop running on this one."""

        async def run() -> object:
            settings = load_settings(data_dir=self.data_dir)
            async with open_database(settings) as engine, session_factory(engine)() as db:
                out = await work(db)
                await db.commit()
                return out

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def end_demo_session(self) -> None:
        """The demo's session books the agent's classroom for its first two hours: a test that
        books the classroom itself ends that session first, if no earlier test did, as its trainer
        would (Stop ends a session; it needs a Start before it)."""
        trainer = self.login("trainer")
        sid = self.world.session_id
        if trainer.get(f"/api/v1/sessions/{sid}").json()["actual_end"] is None:
            trainer.post(f"/api/v1/sessions/{sid}/recording/start").raise_for_status()
            trainer.post(f"/api/v1/sessions/{sid}/recording/stop").raise_for_status()

    def stop(self, proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> int | None:
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        return proc.wait(30)

    def login(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=10)
        password = DEMO_LOGINS[username][1]
        r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        r.raise_for_status()
        return client

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs
        )


def build_stack(
    data_dir: Path, s3: S3Connection, bucket: str, extra_env: dict[str, str] | None = None
) -> LiveStack:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")},
        "CLASSROOM_DATA_DIR": str(data_dir),
        "CLASSROOM_PLANS_DIR": str(Path(__file__).resolve().parent.parent / "plans"),
        "CLASSROOM_WEB__PORT": str(port),
        "CLASSROOM_STORAGE__ENDPOINT": s3.endpoint,
        "CLASSROOM_STORAGE__ACCESS_KEY": s3.access_key,
        "CLASSROOM_STORAGE__SECRET_KEY": s3.secret_key,
        "CLASSROOM_STORAGE__BUCKET": bucket,
        # Small and fast: the tests check the path, not the picture.
        "CLASSROOM_MEDIA__VIDEO_SIZE": "640x360",
        "CLASSROOM_MEDIA__X264_PRESET": "ultrafast",
        "CLASSROOM_MEDIA__SEGMENT_SECONDS": "2",
        "CLASSROOM_LOG_FORMAT": "json",
        # Scheduled sessions in tests last seconds, and the portal comes back within seconds.
        "CLASSROOM_AGENT__PREROLL_S": "0",
        "CLASSROOM_AGENT__POSTROLL_S": "2",
        "CLASSROOM_AGENT__SCHEDULE_REFRESH_S": "1",
        "CLASSROOM_AGENT__RETRY_BACKOFF_MAX_S": "2",
        "CLASSROOM_WEB__WATCH_REPORT_S": "1",  # the player reports what it played every second
        "CLASSROOM_LIVE__WEBRTC_TIMEOUT_S": "5",  # a blocked WebRTC falls back to HLS sooner
        **(extra_env or {}),
    }
    settings = load_settings(data_dir=data_dir)

    async def _seed() -> DemoWorld:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            return await seed_demo(db)

    world = asyncio.run(_seed())
    store = ObjectStore(s3, bucket)
    store.ensure_bucket()
    return LiveStack(data_dir, env, f"http://127.0.0.1:{port}", store, world)
