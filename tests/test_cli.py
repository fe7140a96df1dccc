"""The `classroom` command line: help everywhere, exit codes, JSON for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "classroom.cli"]


def run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env["CLASSROOM_DATA_DIR"] = str(tmp_path / "var")
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "cmd",
    [
        [],
        ["serve"],
        ["agent"],
        ["demo"],
        ["db", "upgrade"],
        ["user", "add"],
        ["device", "add"],
        ["device", "revoke"],
    ],
)
def test_help_on_every_command(tmp_path: Path, cmd: list[str]) -> None:
    r = run(tmp_path, *cmd, "--help")
    assert r.returncode == 0 and "Usage" in r.stdout


def test_db_upgrade_user_and_device_life_cycle(tmp_path: Path) -> None:
    up = run(tmp_path, "db", "upgrade")
    assert up.returncode == 0 and "revision 0002" in up.stdout
    added = run(
        tmp_path,
        "user",
        "add",
        "zhao",
        "--name",
        "赵教员",
        "--role",
        "trainer",
        "--role",
        "officer",
        "--password-stdin",
        "--json",
        stdin="long enough pw\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["username"] == "zhao"
    dup = run(tmp_path, "user", "add", "zhao", "--name", "x", "--role", "officer", "--no-password")
    assert dup.returncode == 1 and "taken" in dup.stderr
    weak = run(
        tmp_path,
        "user",
        "add",
        "qian",
        "--name",
        "x",
        "--role",
        "officer",
        "--password-stdin",
        stdin="short\n",
    )
    assert weak.returncode == 1 and "at least" in weak.stderr
    bad_role = run(tmp_path, "user", "add", "sun", "--name", "x", "--role", "boss")
    assert bad_role.returncode == 2

    missing = run(tmp_path, "device", "add", "--classroom", "42", "--name", "a")
    assert missing.returncode == 1 and "classroom 42 not found" in missing.stderr
    gone = run(tmp_path, "device", "revoke", "42")
    assert gone.returncode == 1
