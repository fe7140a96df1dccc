"""The audit log: who changed someone's credit or data, when, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import AuditEntry, Person


async def audit(
    db: AsyncSession,
    actor: Person | None,
    action: str,
    target: str,
    reason: str = "",
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        action=action,
        target=target,
        reason=reason,
        detail=detail,
    )
    db.add(entry)
    await db.flush()
    return entry
