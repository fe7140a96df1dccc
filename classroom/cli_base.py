"""What every command line of the project shares, and nothing of the portal: the settings as
`--config` or CLASSROOM_CONFIG give them, with the files' modes set; running a coroutine; a
refusal as an exit code. The portal's `classroom` and the agent's `classroom-agent` use it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer

from classroom.logs import configure_logging
from classroom.settings import Settings, SettingsError, load_settings

_T = TypeVar("_T")

CONFIG: dict[str, Path | None] = {"path": None}  # --config, where a command line was given one


def settings() -> Settings:
    # Everything the portal and the agent write is theirs alone: the database, the store's
    # credentials, the agent's caches (face gallery, outbox, recordings). Files 0600, folders
    # 0700, also for what the embedded store and ffmpeg write, as they inherit the mask.
    os.umask(0o077)
    try:
        loaded = load_settings(CONFIG["path"])
    except SettingsError as exc:
        typer.echo(f"classroom: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(loaded.log_format)
    loaded.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    loaded.data_dir.chmod(0o700)  # a data directory made by an earlier version was 0755
    return loaded


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(coro)
    except SettingsError as exc:
        typer.echo(f"classroom: {exc}", err=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"classroom: {message}", err=True)
    return typer.Exit(code)
