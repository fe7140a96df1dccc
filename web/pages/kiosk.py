"""The kiosk page: a full-screen shell with no data of its own. Everything it shows comes from the
kiosk API with the kiosk's token (given once in the URL's fragment, which never reaches a server
log, then kept in the browser)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.deps import services
from web.i18n import request_language, translate
from web.pages.common import render

router = APIRouter(include_in_schema=False)

STATES = (
    "ready",
    "no_camera",
    "card_only",
    "no_token",
    "refused",
    "offline",
    "idle",
    "several",
    "closer",
    "hold_still",
    "unknown",
    "challenge_left",
    "challenge_right",
    "checked_in",
    "already",
    "checked_out",
    "liveness_failed",
    "no_session",
    "unknown_card",
    "not_an_officer",
    "not_checked_in",
    "card_ok",
    "card_first",
    "mismatch",
    "face_required",
    "saved_offline",
    "pending",
    "error",
)


@router.get("/kiosk", response_class=HTMLResponse)
async def kiosk_page(request: Request) -> HTMLResponse:
    lang = request_language(request, services(request).settings.web.default_language)
    texts = {s: translate(lang, f"kiosk.{s}") for s in STATES}
    return render(request, "kiosk.html", None, texts=json.dumps(texts, ensure_ascii=False))
