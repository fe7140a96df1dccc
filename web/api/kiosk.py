"""The kiosk by a classroom's door, authenticated by its own device token and bound to that
classroom: it reads the session open there and checks people in and out — nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NoReturn

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, select

from classroom.card_tap import CardTap, CoreStatements, TapRefused, tap
from classroom.checkin import (
    NO_SESSION,
    CheckinOutcome,
    CheckinRefused,
    CheckinResult,
    check_out,
    open_session,
    tap_time_ok,
    unknown_card,
)
from classroom.db.models import Attendance, Classroom, DeviceKind, Person
from classroom.db.types import utcnow
from classroom.faces.enrollment import person_for_card
from classroom.security import token_hash
from web.deps import (
    DB,
    CurrentKiosk,
    DeviceToken,
    check_device_kind,
    services,
)
from web.schemas import Id, Strict

router = APIRouter(prefix="/kiosk", tags=["kiosk"])


class SessionBrief(BaseModel):
    id: int
    title: str
    planned_start: datetime
    planned_end: datetime


class KioskStateOut(BaseModel):
    classroom_id: Id
    classroom: str
    session: SessionBrief | None
    checked_in: int
    two_factor: bool  # card first, then the face (through the WebSocket)


class CardIn(Strict):
    card_no: str = Field(min_length=1, max_length=64)
    event_uid: uuid.UUID | None = None  # the kiosk's own id for this tap: a retry is one event
    # When it was tapped, for a tap the kiosk kept while the portal was unreachable.
    at: AwareDatetime | None = None


class CheckinOut(BaseModel):
    result: str  # checked_in | already | checked_out
    person_id: Id
    name: str
    session_id: Id
    session: str
    at: datetime


def _refused(exc: CheckinRefused) -> HTTPException:
    no_session = exc.code == CheckinOutcome.NO_SESSION
    code = status.HTTP_409_CONFLICT if no_session else status.HTTP_403_FORBIDDEN
    return HTTPException(code, {"code": exc.code, "message": str(exc)})


def _out(result: CheckinResult, kind: str) -> CheckinOut:
    a = result.attendance
    return CheckinOut(
        result="already" if result.already and kind == "checked_in" else kind,
        person_id=result.person.id,
        name=result.person.display_name,
        session_id=result.session.id,
        session=result.session.title,
        at=a.check_out if kind == "checked_out" and a.check_out else a.check_in,
    )


@router.get("/state", response_model=KioskStateOut)
async def state(request: Request, db: DB, kiosk: CurrentKiosk) -> KioskStateOut:
    room = await db.get(Classroom, kiosk.classroom_id)
    assert room is not None
    session = await open_session(
        db, room.id, utcnow(), services(request).settings.kiosk.open_before
    )
    count = 0
    if session is not None:
        count = (
            await db.scalar(
                select(func.count(func.distinct(Attendance.person_id))).where(
                    Attendance.session_id == session.id
                )
            )
            or 0
        )
    await db.commit()  # last_seen_at
    return KioskStateOut(
        classroom_id=room.id,
        classroom=room.name,
        session=SessionBrief.model_validate(session, from_attributes=True) if session else None,
        checked_in=count,
        two_factor=room.two_factor,
    )


async def _unknown(db: DB, kiosk_classroom: int, card_no: str) -> NoReturn:
    await unknown_card(db, kiosk_classroom, card_no)
    await db.commit()
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        {"code": "unknown_card", "message": "this card is not registered"},
    )


async def _card_person(db: DB, kiosk_classroom: int, card_no: str) -> Person:
    person = await person_for_card(db, card_no)
    if person is None or not person.active:
        await _unknown(db, kiosk_classroom, card_no)
    assert person is not None
    return person


@router.post("/card", response_model=CheckinOut)
async def card_checkin(body: CardIn, request: Request, token: DeviceToken) -> CheckinOut:
    """A card shown at the kiosk (a keyboard-wedge reader types its number): check its holder
    into the open session; showing it again says "already checked in". The kiosk's busiest call,
    so it reads once and writes once (classroom.card_tap) instead of loading ORM objects, and on
    PostgreSQL with the taps of other kiosks that arrive at the same moment."""
    svc = services(request)
    now = utcnow()
    if body.at is not None and not tap_time_ok(body.at, now):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "tap_too_old", "message": "the tap's time is out of range"},
        )

    card = CardTap(
        token_hash(token),
        body.card_no,
        str(body.event_uid or uuid.uuid4()),  # made here: a retry on a dropped connection keeps it
        body.at or now,  # a kept tap checks in to the session open when it was made
        svc.settings.kiosk.open_before,
    )
    if svc.taps is not None:
        done = await svc.taps.tap(card)
    else:
        async with svc.engine.connect() as core:
            core = await core.execution_options(isolation_level="AUTOCOMMIT")
            done = await tap(CoreStatements(core), card)
    check_device_kind(done.kiosk.kind if done.kiosk else None, DeviceKind.KIOSK)
    if done.refused == TapRefused.FACE_REQUIRED:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "face_required", "message": "this classroom checks card and face together"},
        )
    outcome = done.outcome
    assert done.kiosk is not None and outcome is not None
    if outcome.result == CheckinOutcome.UNKNOWN_CARD:
        async with svc.sessionmaker() as db:
            await _unknown(db, done.kiosk.classroom_id, body.card_no)
    if outcome.result == CheckinOutcome.NO_SESSION:
        raise _refused(CheckinRefused(outcome.result, NO_SESSION))
    if outcome.result == CheckinOutcome.NOT_AN_OFFICER:
        raise _refused(CheckinRefused(outcome.result, f"{outcome.name} is not an officer"))
    assert outcome.person_id is not None and outcome.session_id is not None and outcome.at
    return CheckinOut(
        result=outcome.result,
        person_id=outcome.person_id,
        name=outcome.name,
        session_id=outcome.session_id,
        session=outcome.session,
        at=outcome.at,
    )


@router.post("/card/checkout", response_model=CheckinOut)
async def card_checkout(body: CardIn, request: Request, db: DB, kiosk: CurrentKiosk) -> CheckinOut:
    room = kiosk.classroom_id
    person = await _card_person(db, room, body.card_no)
    try:
        result = await check_out(db, room, person, services(request).settings.kiosk.open_before)
    except CheckinRefused as exc:
        raise _refused(exc) from None
    await db.commit()
    return _out(result, "checked_out")
