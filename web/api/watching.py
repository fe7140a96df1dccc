"""Watching recordings: a player's views and their progress reports (the officer's own), and
the watch statistics of a recording (managers)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from classroom.compliance import NoPlan
from classroom.plan.schema import Plan, Watch
from classroom.watching import (
    ReportRejected,
    ViewGone,
    WatchState,
    open_view,
    report,
    state_of,
    watchers,
)
from web.api.recordings import visible_recording
from web.deps import DB, CurrentPerson, ManagerOrAdmin, services
from web.schemas import Id, Strict

router = APIRouter(prefix="/recordings", tags=["watching"])


class WatchStateOut(BaseModel):
    watched_s: float
    required_s: float
    duration_s: float
    credited: bool
    creditable: bool
    attended: bool = False  # why it is not creditable: attended, else not an officer
    counted_s: float = 0.0


class ViewOut(WatchStateOut):
    view_id: str
    report_every_s: float
    max_speed: float


class ProgressIn(Strict):
    # Stretches of media time played since the last report, [from, to] in seconds; a seek
    # ends one stretch and starts the next, so skipped time is never in them.
    played: list[tuple[float, float]] = Field(default_factory=list, max_length=200)
    rate: float = Field(default=1.0, gt=0, le=16)
    visible: bool = True


class WatcherOut(BaseModel):
    person_id: Id
    name: str
    watched_s: float
    share: float
    enough: bool
    credited: bool
    updated_at: datetime


class WatchStatsOut(BaseModel):
    recording_id: Id
    duration_s: float
    viewers: int
    completed: int
    watchers: list[WatcherOut]


def _plan(request: Request) -> tuple[Plan | None, datetime]:
    """The plan in force now (this year's, else the latest before it), and the local time."""
    svc = services(request)
    now = datetime.now(svc.tz)
    year = svc.plans.default_year(now.date())
    try:
        return (svc.plans.get(year) if year is not None else None), now
    except NoPlan:
        return None, now


def rules_now(request: Request) -> Watch:
    plan, _ = _plan(request)
    return plan.watch if plan else Watch()


def _out(state: WatchState) -> WatchStateOut:
    return WatchStateOut(**state.__dict__)


@router.post("/{recording_id}/views", response_model=ViewOut, status_code=status.HTTP_201_CREATED)
async def start_view(recording_id: Id, request: Request, db: DB, person: CurrentPerson) -> ViewOut:
    """A player opened the recording; its reports go to the view this returns."""
    rec = await visible_recording(db, recording_id, person)
    if not rec.playable:
        raise HTTPException(status.HTTP_409_CONFLICT, f"recording {rec.id} is {rec.state.value}")
    rules = rules_now(request)
    view = await open_view(db, rec, person)
    await db.commit()
    state = await state_of(db, rec, person, rules)
    return ViewOut(
        **_out(state).model_dump(),
        view_id=view.id,
        report_every_s=services(request).settings.web.watch_report_s,
        max_speed=rules.max_speed,
    )


@router.post("/{recording_id}/views/{view_id}/progress", response_model=WatchStateOut)
async def view_progress(
    recording_id: Id,
    view_id: str,
    body: ProgressIn,
    request: Request,
    db: DB,
    person: CurrentPerson,
) -> WatchStateOut:
    rec = await visible_recording(db, recording_id, person)
    plan, now = _plan(request)
    try:
        state = await report(
            db, rec, person, view_id, body.played, body.rate, body.visible, plan, now.date()
        )
    except ReportRejected as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": exc.code, "message": str(exc)}
        ) from None
    except ViewGone as exc:
        code = status.HTTP_409_CONFLICT if exc.code == "superseded" else status.HTTP_404_NOT_FOUND
        raise HTTPException(code, {"code": exc.code, "message": str(exc)}) from None
    return _out(state)


@router.get("/{recording_id}/watch-stats", response_model=WatchStatsOut)
async def watch_stats(
    recording_id: Id, request: Request, db: DB, manager: ManagerOrAdmin
) -> WatchStatsOut:
    """Who watched how much of a recording, who watched enough of it, who earned its credit."""
    rec = await visible_recording(db, recording_id, manager)
    found = await watchers(db, rec, rules_now(request))
    return WatchStatsOut(
        recording_id=rec.id,
        duration_s=rec.duration_s or 0.0,
        viewers=len(found),
        completed=sum(1 for w in found if w.enough),
        watchers=[WatcherOut(**w.__dict__) for w in found],
    )
