"""Load a plan file, with errors that say which file, which line or field, and what is wrong."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from classroom.plan.schema import Plan


class PlanError(ValueError):
    pass


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best effort: the line of the innermost key inside its ``[[table]]``, else the header."""
    lines = text.splitlines()
    start = 0
    prefix: list[str] = []
    for part in loc:
        if isinstance(part, int):
            header = re.compile(r"^\s*\[\[\s*" + re.escape(".".join(prefix)) + r"\s*\]\]")
            hits = [n for n, ln in enumerate(lines) if header.match(ln)]
            if part < len(hits):
                start = hits[part]
        else:
            prefix.append(part)
    if not prefix:
        return None
    key = re.compile(r"^\s*" + re.escape(prefix[-1]) + r"\s*=")
    for n in range(start, len(lines)):
        if n > start and lines[n].lstrip().startswith("["):
            break  # the next table: the key is not in this one
        if key.match(lines[n]):
            return n + 1
    return start + 1 if start else None


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: not valid TOML: {exc}") from None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(text, loc)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {_field_path(loc)}: {err['msg']}")
        raise PlanError("\n".join(problems)) from None
    if path.stem.isdigit() and int(path.stem) != plan.year:
        line = _line_of(text, ("year",))
        where = f"{path}:{line}" if line else str(path)
        raise PlanError(f"{where}: year: says {plan.year}, but the file is named for {path.stem}")
    return plan


def plan_path(plans_dir: Path, year: int) -> Path:
    return plans_dir / f"{year}.toml"
