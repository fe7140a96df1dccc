"""The city platform's online-training export (CSV or XLSX): validated row by row, applied all or
nothing.

Columns (header required, in any order): badge_no, course, hours, credits, date (YYYY-MM-DD).
Chinese headers are accepted too: 警号, 课程, 学时, 学分, 日期. A row already imported (same
officer, course and date) with the same values is skipped, so importing the same file twice
changes nothing; with other values it is refused unless the manager asks to replace it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.csv_import import (
    MAX_BYTES,
    ImportRejected,
    ImportResult,
    close_batch,
    officer_badges,
    open_batch,
    rows,
)
from classroom.db.models import CreditEvent, CreditSourceKind, ImportBatch, Person

ALIASES = {"警号": "badge_no", "课程": "course", "学时": "hours", "学分": "credits", "日期": "date"}
COLUMNS = ("badge_no", "course", "hours", "credits", "date")


def _number(value: str, name: str, top: float) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not 0 < x <= top:
        raise ValueError(f"{name} {x:g} is outside 0–{top:g}")
    return x


async def _earlier(
    db: AsyncSession, uids: Iterable[str]
) -> dict[str, tuple[CreditEvent, ImportBatch | None]]:
    """The rows an earlier import stored under these ids, with the batch each came in."""
    found = await db.execute(
        select(CreditEvent, ImportBatch)
        .outerjoin(ImportBatch, ImportBatch.id == CreditEvent.import_batch_id)
        .where(CreditEvent.event_uid.in_(list(uids)))
    )
    return {event.event_uid: (event, batch) for event, batch in found}


def _where(event: CreditEvent, batch: ImportBatch | None) -> str:
    if batch is None:
        return f"an earlier import (credit {event.id})"
    return f"{batch.filename} line {event.line_no} (import {batch.id})"


async def import_online(
    db: AsyncSession,
    data: bytes,
    filename: str,
    actor: Person,
    years: Collection[int],
    replace: bool = False,
) -> ImportResult:
    """``years``: the plan years on file; a row dated outside all of them is refused. A row
    already imported with other hours or credits (a corrected export) is refused, naming both
    lines, unless ``replace``: then the stored row takes the new values (audited)."""
    badges = await officer_badges(db)
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    parsed: list[tuple[int, str, int, str, float, float, date]] = []
    for line, row in rows(data, COLUMNS, ALIASES):
        try:
            if isinstance(row, str):
                raise ValueError(row)
            badge = row["badge_no"]
            if badge not in badges:
                raise ValueError(f"unknown officer badge number {badge!r}")
            course = row["course"]
            if not course or len(course) > 200:
                raise ValueError("course must be 1–200 characters")
            hours = _number(row["hours"], "hours", 24)
            credits = _number(row["credits"], "credits", 12)
            try:
                on = date.fromisoformat(row["date"])
            except ValueError:
                raise ValueError(f"date {row['date']!r} is not YYYY-MM-DD") from None
            if on.year not in years:
                known = ", ".join(str(y) for y in sorted(years)) or "none"
                raise ValueError(f"date {on} is in no plan year (plans on file: {known})")
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        uid = "online:" + hashlib.sha256(f"{badge}|{course}|{on}".encode()).hexdigest()[:40]
        if uid in seen:
            problems.append((line, f"repeats line {seen[uid]} (same officer, course and date)"))
            continue
        seen[uid] = line
        parsed.append((line, uid, badges[badge], course, hours, credits, on))
    earlier = await _earlier(db, seen)
    changed = []
    for line, uid, _, course, hours, credits, on in parsed:
        if uid not in earlier:
            continue
        event, old_batch = earlier[uid]
        if (event.hours, event.credits) == (hours, credits):
            continue
        if not replace:
            problems.append(
                (
                    line,
                    f"{course} on {on}: {hours:g} h / {credits:g} credits here, but "
                    f"{event.hours:g} / {event.credits:g} already imported from "
                    f"{_where(event, old_batch)}; import with replace to correct it",
                )
            )
        changed.append((line, event, hours, credits))
    if problems:
        raise ImportRejected(sorted(problems))
    fresh = [p for p in parsed if p[1] not in earlier]
    batch = await open_batch(db, "online", data, filename, len(parsed), actor)
    replaced = []
    for line, event, hours, credits in changed:
        replaced.append(
            {
                "line": line,
                "credit": event.id,
                "was": [event.hours, event.credits],
                "now": [hours, credits],
                "from": _where(event, earlier[event.event_uid][1]),
            }
        )
        event.hours, event.credits = hours, credits
        event.import_batch_id, event.line_no = batch.id, line
    db.add_all(
        CreditEvent(
            event_uid=uid,
            person_id=pid,
            source=CreditSourceKind.ONLINE_IMPORT,
            on_date=on,
            hours=hours,
            credits=credits,
            course=course,
            import_batch_id=batch.id,
            line_no=line,
            created_by_id=actor.id,
        )
        for line, uid, pid, course, hours, credits, on in fresh
    )
    return await close_batch(db, batch, actor, len(fresh), replaced=replaced)


__all__ = ["MAX_BYTES", "ImportRejected", "ImportResult", "import_online"]
