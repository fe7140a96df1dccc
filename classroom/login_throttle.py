"""Failed logins slow down whoever makes them: per account and per client address, with delays
that grow with each failure, kept in the database so every process of the portal sees them.

An account gets ``ACCOUNT_FREE`` failures without delay, an address ``ADDRESS_FREE`` (a whole
station may sit behind one address); past that each failure blocks the key for twice as long as
the one before, up to ``MAX_DELAY``. A blocked login is refused before its password is checked,
so a flood costs no hashing. A success clears its account; failures older than ``FORGET_AFTER``
start again from nothing. Never a permanent lock: that would let anyone lock any officer out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import LoginFailure

ACCOUNT_FREE = 5
ADDRESS_FREE = 20
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Blocked(Exception):
    """Refused before the password is looked at, for ``retry_after`` more."""

    retry_after: timedelta

    @property
    def seconds(self) -> int:
        return max(1, int(self.retry_after.total_seconds() + 0.999))


def keys(username: str, address: str | None) -> dict[str, int]:
    """The throttle's keys for an attempt, each with its free failures."""
    found = {f"user:{username.strip().lower()[:64]}": ACCOUNT_FREE}
    if address:
        found[f"addr:{address[:64]}"] = ADDRESS_FREE
    return found


def delay_after(failures: int, free: int) -> timedelta:
    if failures < free:
        return timedelta(0)
    wait: timedelta = FIRST_DELAY * 2 ** min(failures - free, 20)
    return min(wait, MAX_DELAY)


async def check(db: AsyncSession, username: str, address: str | None, now: datetime) -> None:
    """Raise Blocked if the account or the address is blocked now."""
    rows = await db.scalars(
        select(LoginFailure).where(LoginFailure.key.in_(keys(username, address)))
    )
    waits = [r.blocked_until - now for r in rows if r.blocked_until and r.blocked_until > now]
    if waits:
        raise Blocked(max(waits))


async def failed(db: AsyncSession, username: str, address: str | None, now: datetime) -> None:
    """Count a failure against the account and the address (one statement each: two processes
    failing at once both count)."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = LoginFailure.__table__
    for key, free in keys(username, address).items():
        stale = table.c.last_failure_at < now - FORGET_AFTER
        count = case((stale, 1), else_=table.c.failures + 1)
        stmt = insert(LoginFailure).values(key=key, failures=1, last_failure_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": count, "last_failure_at": now},
        )
        await db.execute(stmt)
        row = await db.get(LoginFailure, key, populate_existing=True)
        assert row is not None
        wait = delay_after(row.failures, free)
        row.blocked_until = now + wait if wait else None
    await db.flush()


async def succeeded(db: AsyncSession, username: str) -> None:
    await db.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys(username, None))))
