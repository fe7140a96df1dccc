"""The translation catalog: every word the UI shows comes from locales/<lang>.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.requests import Request

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("zh-CN", "en")
LANG_COOKIE = "lang"
LOCAL_MINUTE = "%Y-%m-%d %H:%M"  # how a page writes a moment, in the bureau's zone


class MissingTranslation(KeyError):
    pass


@cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def translate(lang: str, key: str, **params: object) -> str:
    try:
        text = catalog(lang)[key]
    except KeyError:
        raise MissingTranslation(f"{key!r} missing from the {lang} catalog") from None
    return text.format(**params) if params else text


def request_language(request: Request, default: str) -> str:
    """Simplified Chinese unless the person asked for English (the switch sets a cookie)."""
    lang = request.cookies.get(LANG_COOKIE, default)
    return lang if lang in LANGUAGES else default
