"""Settings: embedded defaults, env and TOML overrides, one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from classroom.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CLASSROOM_"):
            monkeypatch.delenv(key)


def test_defaults_are_embedded() -> None:
    s = load_settings()
    assert s.database_url.startswith("sqlite+aiosqlite:///") and s.database_url.endswith(
        "var/classroom.db"
    )
    assert s.storage.endpoint == "" and s.web.default_language == "zh-CN"


def test_env_overrides_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSROOM_WEB__PORT", "9100")
    monkeypatch.setenv("CLASSROOM_STORAGE__BUCKET", "lectures")
    s = load_settings()
    assert s.web.port == 9100 and s.storage.bucket == "lectures"


def test_toml_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "classroom.toml"
    cfg.write_text('[web]\nport = 9200\nhost = "0.0.0.0"\n[media]\nsegment_seconds = 6\n')
    monkeypatch.setenv("CLASSROOM_WEB__PORT", "9300")
    s = load_settings(cfg)
    assert (s.web.port, s.web.host, s.media.segment_seconds) == (9300, "0.0.0.0", 6)


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("CLASSROOM_WEB__PORT", "eighty", "CLASSROOM_WEB__PORT (web.port)"),
        ("CLASSROOM_WEB__PORT", "70000", "CLASSROOM_WEB__PORT (web.port)"),
        ("CLASSROOM_DATABASE__URL", "mysql://x", "CLASSROOM_DATABASE__URL (database.url)"),
        ("CLASSROOM_STORAGE__BUCKET", "Bad_Bucket", "CLASSROOM_STORAGE__BUCKET (storage.bucket)"),
        ("CLASSROOM_WEB__TIMEZONE", "Mars/Olympus", "CLASSROOM_WEB__TIMEZONE (web.timezone)"),
    ],
)
def test_bad_setting_names_itself(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert named in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_key_in_toml_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[web]\nprot = 1\n")
    with pytest.raises(SettingsError, match=r"web\.prot"):
        load_settings(cfg)


def test_cli_stops_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"CLASSROOM_WEB__PORT": "eighty", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "classroom.cli", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "CLASSROOM_WEB__PORT (web.port)" in r.stderr
