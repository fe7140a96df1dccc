"""The on-site agent runs on classroom PCs, apart from the portal: importing every module of it
(its command line included) loads nothing of the portal's web layer or database (its contract
with the portal is classroom.protocol and the HTTP client), and nothing that an install with the
`agent` extra alone would lack."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

FORBIDDEN = ("web", "classroom.db", "sqlalchemy", "asyncpg", "alembic", "aiosqlite", "fastapi")

PROBE = """
import importlib, json, pkgutil, sys
at_start = set(sys.modules)  # the interpreter's own, and what site's .pth files load
import classroom.agent
for m in pkgutil.walk_packages(classroom.agent.__path__, "classroom.agent."):
    importlib.import_module(m.name)
print(json.dumps(sorted(set(sys.modules) - at_start)))
"""
# Imported by a library only when installed, and not needed when not: httpx's command line
# (click), structlog's greenlet support.
IMPORTED_IF_PRESENT = {"click", "greenlet"}


def _loaded() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return modules


def test_the_agent_imports_nothing_of_the_portal() -> None:
    loaded = _loaded()
    assert "classroom.agent.runner" in loaded and "classroom.agent.cli" in loaded
    assert "classroom.protocol.messages" in loaded
    wrong = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not wrong, wrong[:20]


def _wanted(dist: str, extras: set[str], seen: set[str]) -> None:
    """``dist`` and what it requires with ``extras``, as installed here, into ``seen``."""
    name = canonicalize_name(dist)
    if name in seen:
        return
    seen.add(name)
    try:
        requires = md.requires(dist) or []
    except md.PackageNotFoundError:  # an optional dependency not installed: not loaded either
        return
    for line in requires:
        req = Requirement(line)
        marker = req.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in extras | {""}):
            _wanted(req.name, set(req.extras), seen)


def test_an_agent_install_has_all_the_agent_loads() -> None:
    """Every distribution the agent's modules load is the project's base dependencies, its
    `agent` extra, or what those require: a classroom PC installs no portal to run it."""
    allowed: set[str] = set()
    _wanted("smart-classroom", {"agent"}, allowed)
    portal_only = {
        canonicalize_name(Requirement(r).name)
        for r in md.requires("smart-classroom") or []
        if 'extra == "portal"' in r
    } - allowed
    assert {"fastapi", "sqlalchemy", "alembic", "asyncpg"} <= portal_only
    tops = md.packages_distributions()
    loaded = {canonicalize_name(d) for m in _loaded() for d in tops.get(m.split(".")[0], [])}
    assert "aiortc" in loaded and "minio" in loaded
    assert not loaded - allowed - IMPORTED_IF_PRESENT, sorted(loaded - allowed)
    assert not loaded & portal_only, sorted(loaded & portal_only)
