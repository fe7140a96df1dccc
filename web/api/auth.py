"""Login and logout for people; the session lives in an HttpOnly cookie."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status

from classroom import login_throttle
from classroom.db.models import Person
from classroom.db.types import utcnow
from classroom.people import authenticate, close_login_session, open_login_session
from web.deps import DB, SESSION_COOKIE, CurrentPerson, services
from web.schemas import LoginIn, PersonOut

router = APIRouter(prefix="/auth", tags=["auth"])

BAD_LOGIN = "invalid username or password"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    ttl = timedelta(hours=services(request).settings.web.session_ttl_hours)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


async def login_person(
    request: Request, db: DB, username: str, password: str
) -> tuple[Person, str] | None:
    """The person and a new session token, or None, never saying which of the two was wrong;
    login_throttle.Blocked while the account or the client's address is blocked."""
    address = request.client.host if request.client else None
    now = utcnow()
    await login_throttle.check(db, username, address, now)
    person = await authenticate(db, username, password)
    if person is None:
        await login_throttle.failed(db, username, address, now)
        await db.commit()
        return None
    await login_throttle.succeeded(db, username)
    ttl = timedelta(hours=services(request).settings.web.session_ttl_hours)
    token = await open_login_session(db, person, ttl)
    await db.commit()
    return person, token


def too_many(blocked: login_throttle.Blocked) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        {
            "code": "login_blocked",
            "seconds": blocked.seconds,
            "message": f"too many failed logins: try again in {blocked.seconds} s",
        },
        headers={"Retry-After": str(blocked.seconds)},
    )


@router.post("/login", response_model=PersonOut)
async def login(body: LoginIn, request: Request, response: Response, db: DB) -> PersonOut:
    try:
        found = await login_person(request, db, body.username, body.password)
    except login_throttle.Blocked as blocked:
        raise too_many(blocked) from None
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, BAD_LOGIN)
    person, token = found
    set_session_cookie(request, response, token)
    return PersonOut.of(person)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, db: DB, _: CurrentPerson) -> Response:
    await close_login_session(db, request.cookies[SESSION_COOKIE])
    await db.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


me_router = APIRouter(tags=["auth"])


@me_router.get("/me", response_model=PersonOut)
async def me(person: CurrentPerson) -> PersonOut:
    return PersonOut.of(person)
