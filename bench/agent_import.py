"""The on-site agent's start: importing all of it in a fresh interpreter, against importing it
with the portal's runtime beside it (what it loaded while it reached the store's settings and a
recording's keys through the portal's modules). Wall time and peak RSS, medians of 5."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.common import Result

RUNS = 5
AGENT = (
    "import importlib, pkgutil, classroom.agent as a\n"
    "for m in pkgutil.walk_packages(a.__path__, 'classroom.agent.'):\n"
    "    importlib.import_module(m.name)"
)
WITH_PORTAL = AGENT + "\nimport classroom.runtime, classroom.recordings"
MEASURE = """
import json, resource, time
t = time.perf_counter()
exec({code!r})
print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
"""


def _measure(code: str) -> tuple[float, float]:
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE.format(code=code)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs.sort()
    seconds = runs[RUNS // 2][0]
    rss = sorted(r[1] for r in runs)[RUNS // 2] / 1024
    return seconds, rss


def run(_: Path) -> list[Result]:
    agent_s, agent_mib = _measure(AGENT)
    portal_s, portal_mib = _measure(WITH_PORTAL)
    return [
        Result(
            "agent_import", "agent alone", "agent + portal runtime", "s", agent_s, portal_s, False
        ),
        Result(
            "agent_import",
            "agent alone",
            "agent + portal runtime",
            "MiB",
            agent_mib,
            portal_mib,
            False,
        ),
    ]
