"""`make fuzz`: schemathesis over the portal's OpenAPI, as each kind of caller, for a bounded time.

    python -m tests.fuzz [SECONDS]   (default 300, shared among the callers)

Starts `classroom serve` on the demo world (SQLite, the embedded object store) in a temporary
directory, logs in as an admin, a manager, a trainer and an officer and takes the demo agent's
and a kiosk's tokens, then lets schemathesis generate requests for every operation with each of
them. The one check is that no answer is a server error. Exit status 0: none found.

Left out, and why: logout (it would end the caller's own login mid-run), and the calls that wait
for the classroom's agent (PTZ, WHEP offers): with no agent running they answer 503 "the
classroom's agent did not answer in time" by design, after their timeout.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import serving
from classroom.db.engine import session_factory
from classroom.db.models import DeviceKind
from classroom.devices import create_device
from classroom.runtime import open_database
from classroom.seed import DEMO_LOGINS, seed_demo
from classroom.settings import load_settings
from storage.ports import free_port

EXCLUDED = r"(/auth/logout$|/ptz/|/live/whep)"
PEOPLE = ("admin", "manager", "trainer", "officer1")


async def _seed(data_dir: Path) -> dict[str, str]:
    settings = load_settings(data_dir=data_dir)
    async with open_database(settings) as engine, session_factory(engine)() as db:
        world = await seed_demo(db)
        _, kiosk = await create_device(db, world.classroom_id, DeviceKind.KIOSK, "fuzz")
        await db.commit()
    return {"agent": world.agent_token, "kiosk": kiosk}


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        print("schemathesis is not installed: `make fuzz` installs it", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="classroom-fuzz-") as tmp:
        work = Path(tmp)
        data = work / "var"
        tokens = asyncio.run(_seed(data))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with serving(work, port, {"CLASSROOM_DATA_DIR": str(data)}):
            headers: dict[str, str] = {}
            for username in PEOPLE:
                r = httpx.post(
                    f"{url}/api/v1/auth/login",
                    json={"username": username, "password": DEMO_LOGINS[username][1]},
                )
                r.raise_for_status()
                headers[username] = f"Cookie: classroom_session={r.cookies['classroom_session']}"
            for device, token in tokens.items():
                headers[device] = f"Authorization: Bearer {token}"
            budget = max(10, int(seconds / len(headers)))
            failed = []
            for caller, header in headers.items():
                print(f"--- as {caller}, {budget} s", flush=True)
                target = [str(st), "run", f"{url}/api/v1/openapi.json", "-H", header]
                checks = ["--checks", "not_a_server_error", "--max-time", str(budget)]
                limits = ["--exclude-path-regex", EXCLUDED, "--workers", "2", "--no-shrink"]
                quiet = ["--request-timeout", "30", "--warnings", "off"]
                run = subprocess.run(
                    [*target, *checks, *limits, *quiet],
                    env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                    capture_output=True,
                    text=True,
                )
                print(run.stdout[-6000:], run.stderr[-2000:], sep="\n", flush=True)
                # Its exit status also counts schemathesis's own errors (a schema it fails to
                # generate for); a server error is what this target is about.
                if "Server error" in run.stdout:
                    failed.append(caller)
            tail = (work / "portal.log").read_text(errors="replace").splitlines()
            errors = [line for line in tail if '"level": "error"' in line or "Traceback" in line]
            print(f"portal log: {len(errors)} error lines", *errors[-20:], sep="\n")
    if failed or errors:
        print(f"server errors found as: {', '.join(failed) or 'see the log'}", file=sys.stderr)
        return 1
    print("no server errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
