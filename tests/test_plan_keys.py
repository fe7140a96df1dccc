"""Every number and rule a plan file states is read by the code: a key the schema accepts but
nothing reads would let a training office change a rule that changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from classroom.plan import schema

ROOT = Path(__file__).resolve().parent.parent
MODELS = [
    schema.Plan,
    schema.Quota,
    schema.QuotaPart,
    schema.Presence,
    schema.Task,
    schema.StudyItem,
    schema.Watch,
    schema.Recruits,
]


def _code() -> str:
    """The code that uses a plan, less the declarations of its fields."""
    texts = []
    for folder in ("classroom", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name == "schema.py" and path.parent.name == "plan":
                text = re.sub(r"(?m)^    \w+: .*$", "", text)  # field declarations
            texts.append(text)
    return "\n".join(texts)


def test_every_plan_key_is_read_somewhere() -> None:
    code = _code()
    unread = [
        f"{model.__name__}.{name}"
        for model in MODELS
        for name in model.model_fields
        if not re.search(rf"\.{name}\b", code)
    ]
    assert not unread, f"parsed but never used: {unread}"


def test_the_check_finds_an_unread_key() -> None:
    """The scan itself: a key nobody reads is caught."""

    class Probe(BaseModel):
        zz_never_read_anywhere: int = 0

    assert not re.search(r"\.zz_never_read_anywhere\b", _code())
    assert "zz_never_read_anywhere" in Probe.model_fields
