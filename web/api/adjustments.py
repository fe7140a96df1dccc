"""Manual credit adjustments (managers, with a reason) and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from classroom.adjustments import AdjustmentError, adjust
from classroom.db.models import AuditEntry, Person
from web.api.compliance import plan_for
from web.deps import DB, ManagerOrAdmin
from web.schemas import Id

router = APIRouter(tags=["adjustments"])


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Id
    part: str = Field(max_length=32)
    hours: float = Field(ge=-200, le=200)
    credits: float = Field(ge=-100, le=100)
    on: date
    reason: str = Field(min_length=1, max_length=1000)


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: Id | None
    action: str
    target: str
    reason: str
    detail: dict[str, Any]


@router.post("/adjustments", status_code=status.HTTP_201_CREATED)
async def create_adjustment(
    body: AdjustmentIn, request: Request, db: DB, actor: ManagerOrAdmin
) -> dict[str, Any]:
    officer = await db.get(Person, body.person_id)
    if officer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"person {body.person_id} not found")
    plan = plan_for(request, body.on.year)
    try:
        event = await adjust(
            db, plan, officer, body.part, body.hours, body.credits, body.on, body.reason, actor
        )
    except AdjustmentError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await db.commit()
    return {
        "id": event.id,
        "event_uid": event.event_uid,
        "person_id": officer.id,
        "part": event.part,
        "hours": event.hours,
        "credits": event.credits,
    }


@router.get("/audit", response_model=list[AuditOut])
async def audit_log(
    db: DB, _: ManagerOrAdmin, limit: int = Query(default=100, ge=1, le=1000)
) -> list[AuditEntry]:
    return list(await db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
