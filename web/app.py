"""The portal's app factory: API under /api/v1, pages, static files, health."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from classroom.compliance import PlanUnavailable
from classroom.recordings import RecordingConflict
from classroom.runtime import Services, open_services
from classroom.server import on_portal_stop
from classroom.settings import Settings, load_settings
from web.api import (
    adjustments,
    agent,
    attendance,
    auth,
    calendar,
    classrooms,
    cohorts,
    compliance,
    console,
    courses,
    courseware,
    devices,
    health,
    imports,
    kiosk,
    kiosk_ws,
    live,
    metrics,
    organisation,
    people,
    qa,
    recordings,
    roster,
    series,
    session_import,
    sessions,
    uploads,
    vod,
    watching,
)
from web.api.qa import QaHub
from web.deps import services
from web.i18n import request_language
from web.middleware import (
    BodyLimit,
    FormRedirects,
    SameOrigin,
    SecurityHeaders,
    content_security_policy,
)
from web.pages import auth as auth_pages
from web.pages import calendar as calendar_pages
from web.pages import classrooms as classroom_pages
from web.pages import cohorts as cohort_pages
from web.pages import compliance as compliance_pages
from web.pages import courses as course_pages
from web.pages import kiosk as kiosk_pages
from web.pages import organisation as organisation_pages
from web.pages import people as people_pages
from web.pages import recordings as recording_pages
from web.pages import sessions as session_pages
from web.pages.common import render
from web.refusals import Refusal, of_detail, of_validation

API_PREFIX = "/api/v1"
STATIC = Path(__file__).resolve().parent / "static"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith((API_PREFIX, "/healthz", "/metrics"))


def _from_form(request: Request) -> bool:
    """A form sent by the page's script (web/static/forms.js): it shows the refusal beside the
    field, so it gets the words, not a page."""
    return request.headers.get("x-form") == "1"


def _reader(request: Request) -> tuple[str, ZoneInfo]:
    svc = services(request)
    lang = request_language(request, svc.settings.web.default_language)
    return lang, svc.tz


def _refused(request: Request, status_code: int, said: Refusal) -> Response:
    if _from_form(request):
        return JSONResponse({"message": said.message, "field": said.field}, status_code)
    viewer = getattr(request.state, "viewer", None)  # the header's navigation, when logged in
    return render(
        request,
        "error.html",
        viewer,
        status_code=status_code,
        status=status_code,
        detail=said.message,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    if exc.status_code == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if exc.status_code == 303 and exc.headers and "Location" in exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=303)
    lang, tz = _reader(request)
    return _refused(request, exc.status_code, of_detail(lang, exc.status_code, exc.detail, tz))


async def _plan_unavailable(request: Request, exc: Exception) -> Response:
    """A year whose plan file is broken with no good version loaded before: 503, saying why
    (the file's FILE:LINE: field: problem lines): the office can fix the file from that."""
    assert isinstance(exc, PlanUnavailable)
    detail = {
        "code": "plan_unavailable",
        "message": str(exc),
        "year": exc.year,
        "problem": exc.problem,
    }
    return await _http_error(request, HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail))


async def _recording_conflict(request: Request, exc: Exception) -> Response:
    """A request that does not fit a recording's state (start twice, stop what is not
    recording): 409 with the reason, from wherever in the domain it was found."""
    return await _http_error(request, HTTPException(status.HTTP_409_CONFLICT, str(exc)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_json(request):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return JSONResponse({"detail": message, "errors": errors}, status_code=422)
    lang, _ = _reader(request)
    return _refused(request, 422, of_validation(lang, exc.errors()))


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """With ``services``, the app uses them (tests, embedding); without, it opens its own from
    ``settings`` for the life of the server (``classroom serve``)."""
    if services is not None:
        settings = services.settings
    elif settings is None:
        settings = load_settings()
    opened_settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        async with open_services(opened_settings) as svc:
            app.state.services = svc
            with on_portal_stop(svc.end_long_polls):
                yield

    app = FastAPI(
        title="Smart Classroom portal",
        version="0.1.0",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.qa_hub = QaHub()
    api = APIRouter(prefix=API_PREFIX)
    # Matched in order, route by route: the kiosks' taps, the busiest calls, first.
    for module in (
        kiosk,
        auth,
        series,  # before sessions: /sessions/series/… is not a session's id
        sessions,
        attendance,
        recordings,
        devices,
        agent,
        compliance,
        imports,
        adjustments,
        classrooms,
        courses,
        courseware,
        people,
        organisation,
        roster,
        cohorts,
        calendar,
        session_import,
        kiosk_ws,
        watching,
        live,
        qa,
        console,
        vod,
        uploads,
    ):
        api.include_router(module.router)
    api.include_router(auth.me_router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for page in (
        auth_pages,
        session_pages,
        recording_pages,
        compliance_pages,
        calendar_pages,
        course_pages,
        cohort_pages,
        classroom_pages,
        kiosk_pages,
        organisation_pages,  # before people_pages: /people/new is not a person's id
        people_pages,
    ):
        app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PlanUnavailable, _plan_unavailable)
    app.add_exception_handler(RecordingConflict, _recording_conflict)
    app.add_middleware(FormRedirects)
    app.add_middleware(SameOrigin)
    store = settings.storage
    presigned = store.playback == "presigned" and store.endpoint
    origins = [f"{'https' if store.secure else 'http'}://{store.endpoint}"] if presigned else []
    app.add_middleware(
        SecurityHeaders,
        csp=content_security_policy(origins),
        hsts_max_age_s=settings.web.hsts_max_age_s,
    )
    # Courseware uploads get their own bound (plus room for the multipart envelope).
    courseware_bound = settings.web.courseware_max_mb * 1024**2 + 64 * 1024
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.web.max_body_bytes,
        larger=[
            (re.compile(r"/api/v1/courses/\d+/courseware"), courseware_bound),
            (re.compile(r"/sessions/\d+/courseware"), courseware_bound),
            (re.compile(r"/api/v1/uploads/[A-Za-z0-9_-]+"), 8 * 1024 * 1024 + 1024),
            (re.compile(r"/api/v1/people/\d+/face"), 11 * 1024 * 1024),  # 5 frames of 2 MiB
        ],
    )
    return app
