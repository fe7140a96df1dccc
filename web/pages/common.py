"""Rendering server-side pages: templates with the translator, the person and the language."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from classroom.db.models import Person
from web.deps import Viewer, services
from web.i18n import LOCAL_MINUTE, catalog, request_language, translate

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def here(request: Request) -> str:
    """This page's path and query, for the language switch to come back to. A form's answer is
    shown at the address the form posted to, which is no page to come back to: then the page
    the form was on (the referrer, only from this site)."""
    if request.method == "GET":
        url = request.url
        return url.path + (f"?{url.query}" if url.query else "")
    referrer = urlsplit(request.headers.get("referer", ""))
    if referrer.netloc == request.url.netloc and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


def render(
    request: Request,
    template: str,
    person: Person | Viewer | None = None,
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
        return value.astimezone(zone).strftime(LOCAL_MINUTE) if value else "—"

    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "known": known,
            "lang": lang,
            "person": person,
            "local": local,
            "here": here(request),
            **context,
        },
        status_code=status_code,
        headers=headers,
    )
