"""Login and logout pages, and the language switch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from classroom import login_throttle
from classroom.organisation import OrgError, change_own_password
from classroom.people import close_login_session
from web.api.auth import login_person, set_session_cookie
from web.deps import DB, SESSION_COOKIE, CurrentPerson
from web.i18n import LANG_COOKIE, LANGUAGES
from web.pages.common import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/sessions"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next))


@router.post("/login", response_model=None)
async def login_form(
    request: Request,
    db: DB,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "/sessions",
) -> Response:
    page: dict[str, Any] = {"next": safe_next(next), "username": username}
    try:
        found = await login_person(request, db, username, password)
    except login_throttle.Blocked as blocked:
        return render(
            request,
            "login.html",
            status_code=429,
            blocked=blocked.seconds,
            headers={"Retry-After": str(blocked.seconds)},
            **page,
        )
    if found is None:
        return render(request, "login.html", failed=True, status_code=401, **page)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, found[1])
    return response


@router.get("/account/password", response_class=HTMLResponse)
async def password_page(request: Request, person: CurrentPerson) -> HTMLResponse:
    return render(request, "password.html", person, forced=person.must_change_password)


@router.post("/account/password", response_model=None)
async def password_form(
    request: Request,
    db: DB,
    person: CurrentPerson,
    current: Annotated[str, Form(max_length=200)],
    new: Annotated[str, Form(max_length=200)],
    repeat: Annotated[str, Form(max_length=200)],
) -> Response:
    """Errors beside the field they are about; done, on to the sessions."""
    forced = person.must_change_password
    error = "password_mismatch" if new != repeat else None
    if error is None:
        try:
            await change_own_password(db, person, current, new)
        except OrgError as exc:
            error = exc.code
    if error is not None:
        return render(request, "password.html", person, status_code=422, error=error, forced=forced)
    await db.commit()
    return RedirectResponse("/sessions?password=changed", status_code=303)


@router.post("/logout")
async def logout_form(request: Request, db: DB) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await close_login_session(db, token)
        await db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
async def switch_language(code: str, next: str | None = None) -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response
