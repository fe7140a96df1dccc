"""The on-site agent runs on classroom PCs, apart from the portal: importing every module of it
loads nothing of the portal's web layer or database (its contract with the portal is
classroom.protocol and the HTTP client)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("web", "classroom.db", "sqlalchemy", "asyncpg", "alembic", "aiosqlite", "fastapi")

PROBE = """
import importlib, json, pkgutil, sys
import classroom.agent
for m in pkgutil.walk_packages(classroom.agent.__path__, "classroom.agent."):
    importlib.import_module(m.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_agent_imports_nothing_of_the_portal() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "classroom.agent.runner" in loaded and "classroom.protocol.layout" in loaded
    wrong = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not wrong, wrong[:20]
