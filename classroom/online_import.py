"""The city platform's online-training export (CSV): validated row by row, applied all or nothing.

Columns (header required, in any order): badge_no, course, hours, credits, date (YYYY-MM-DD).
Chinese headers are accepted too: 警号, 课程, 学时, 学分, 日期. A row already imported (same
officer, course and date) is skipped, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from classroom.csv_import import (
    MAX_BYTES,
    ImportRejected,
    ImportResult,
    already_imported,
    close_batch,
    officer_badges,
    open_batch,
    rows,
)
from classroom.db.models import CreditEvent, CreditSourceKind, Person

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


async def import_online(
    db: AsyncSession, data: bytes, filename: str, actor: Person
) -> ImportResult:
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
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        uid = "online:" + hashlib.sha256(f"{badge}|{course}|{on}".encode()).hexdigest()[:40]
        if uid in seen:
            problems.append((line, f"repeats line {seen[uid]} (same officer, course and date)"))
            continue
        seen[uid] = line
        parsed.append((line, uid, badges[badge], course, hours, credits, on))
    if problems:
        raise ImportRejected(problems)
    known = await already_imported(db, CreditEvent.event_uid, seen)
    fresh = [p for p in parsed if p[1] not in known]
    batch = await open_batch(db, "online", data, filename, len(parsed), actor)
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
    return await close_batch(db, batch, actor, len(fresh))


__all__ = ["MAX_BYTES", "ImportRejected", "ImportResult", "import_online"]
