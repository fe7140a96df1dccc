"""Every text the UI shows is in both catalogs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web.i18n import LANGUAGES, MissingTranslation, catalog, translate

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def test_catalogs_have_the_same_keys() -> None:
    keys = [set(catalog(lang)) for lang in LANGUAGES]
    assert all(k == keys[0] for k in keys)


def test_every_key_used_by_a_template_exists() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for tpl in TEMPLATES.glob("*.html"):
        text = tpl.read_text()
        used |= set(re.findall(r't\("([a-z0-9_.]+)"\)', text))
        prefixes |= set(re.findall(r't\("([a-z0-9_.]+\.)" *[~+]', text))
    assert used, "the scan found no keys"
    for lang in LANGUAGES:
        missing = used - set(catalog(lang))
        assert not missing, (lang, missing)
    # Keys built from a prefix and an enum value: every value must be there.
    from classroom.agent.health import ALERTS, STATES
    from classroom.db.models import (
        AttendanceSource,
        RecordingState,
        Role,
        SessionKind,
        SquadType,
        UnitKind,
    )
    from classroom.plan.schema import CreditSource
    from streaming.gaps import GapReason

    built = {
        "state.": RecordingState,
        "kind.": SessionKind,
        "source.": [*CreditSource, "adjustment"],
        "attendance_source.": AttendanceSource,
        "agent_state.": STATES,
        "alert.": ALERTS,
        # an unexplained gap has no place and a line of its own (recording.gap_unplaced)
        "gap.": [r for r in GapReason if r != GapReason.UNEXPLAINED],
        "unit_kind.": UnitKind,
        "squad_type.": SquadType,
        "role.": Role,
    }
    for lang in LANGUAGES:
        for prefix, values in built.items():
            assert prefix in prefixes
            for value in values:
                assert prefix + str(value) in catalog(lang), (lang, prefix, value)


def test_templates_hold_no_bare_chinese_or_english_sentences() -> None:
    for tpl in TEMPLATES.glob("*.html"):
        visible = re.sub(r"\{[{%#].*?[}%#]\}", "", tpl.read_text(), flags=re.S)
        visible = re.sub(r"<[^>]+>", " ", visible)
        assert not re.search(r"[\u4e00-\u9fff]", visible.replace("中文", "")), tpl.name
        words = [
            w
            for w in re.findall(r"[A-Za-z]{3,}", visible)
            if w not in {"English", "MiB", "GiB", "dBFS"}
        ]
        assert set(words) <= {"SHA", "CSV", "Excel"}, (tpl.name, words)  # names, not sentences


def test_missing_key_is_an_error() -> None:
    with pytest.raises(MissingTranslation):
        translate("en", "no.such.key")
