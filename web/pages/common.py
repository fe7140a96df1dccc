"""Rendering server-side pages: templates with the translator, the person and the language."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from classroom.db.models import Person
from web.deps import services
from web.i18n import catalog, request_language, translate

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def render(
    request: Request,
    template: str,
    person: Person | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    settings = services(request).settings
    lang = request_language(request, settings.web.default_language)
    zone = ZoneInfo(settings.web.timezone)

    def t(key: str, **params: object) -> str:
        return translate(lang, key, **params)

    def known(key: str) -> bool:
        """Whether the catalog has ``key``: codes from devices (an agent's alert) may be newer
        than this portal, and an unknown one is shown as such, never breaking the page."""
        return key in catalog(lang)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "—"

    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": t, "known": known, "lang": lang, "person": person, "local": local, **context},
        status_code=status_code,
        headers=headers,
    )
