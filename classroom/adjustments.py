"""A manager's manual adjustment of an officer's credit: always with a reason, always audited."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.db.models import CreditEvent, CreditSourceKind, Person, Role
from classroom.plan.schema import Plan

MIN_REASON = 5


class AdjustmentError(ValueError):
    pass


async def adjust(
    db: AsyncSession,
    plan: Plan,
    officer: Person,
    part: str,
    hours: float,
    credits: float,
    on: date,
    reason: str,
    actor: Person,
) -> CreditEvent:
    if not officer.has_role(Role.OFFICER):
        raise AdjustmentError(f"person {officer.id} is not an officer")
    if part not in {p.id for p in plan.quota.parts}:
        raise AdjustmentError(f"unknown part {part!r} in the {plan.year} plan")
    if on.year != plan.year:
        raise AdjustmentError(f"date {on} is not in {plan.year}")
    if hours == 0 and credits == 0:
        raise AdjustmentError("an adjustment changes hours or credits")
    if len(reason.strip()) < MIN_REASON:
        raise AdjustmentError(f"the reason needs at least {MIN_REASON} characters")
    event = CreditEvent(
        event_uid=f"adjustment:{uuid.uuid4()}",
        person_id=officer.id,
        source=CreditSourceKind.ADJUSTMENT,
        on_date=on,
        hours=hours,
        credits=credits,
        part=part,
        note=reason.strip(),
        created_by_id=actor.id,
    )
    db.add(event)
    await db.flush()
    await audit(
        db,
        actor,
        "credit.adjust",
        f"person:{officer.id}",
        reason.strip(),
        part=part,
        hours=hours,
        credits=credits,
        on=on.isoformat(),
        event_id=event.id,
    )
    return event
