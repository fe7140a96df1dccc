"""Attendance recorded elsewhere (a paper sign-in sheet typed up, another system's export), as
CSV: validated row by row, applied all or nothing, each row stored once however often imported.

Columns: session_id, badge_no, check_in, check_out (optional). Times are ISO 8601; without an
offset they are the bureau's local time. Chinese headers: 场次, 警号, 签到, 签退.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from classroom.attendance import AttendanceError, check_times
from classroom.csv_import import (
    ImportRejected,
    ImportResult,
    already_imported,
    close_batch,
    officer_badges,
    open_batch,
    rows,
)
from classroom.db.models import Attendance, AttendanceSource, Person, Session

ALIASES = {"场次": "session_id", "警号": "badge_no", "签到": "check_in", "签退": "check_out"}
COLUMNS = ("session_id", "badge_no", "check_in")


def _time(value: str, name: str, tz: ZoneInfo) -> datetime:
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 date and time") from None
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


async def import_attendance(
    db: AsyncSession, data: bytes, filename: str, actor: Person, tz: ZoneInfo
) -> ImportResult:
    badges = await officer_badges(db)
    sessions: dict[int, Session | None] = {}
    problems: list[tuple[int, str]] = []
    parsed: list[tuple[int, str, int, int, datetime, datetime | None]] = []
    seen: dict[str, int] = {}
    for line, row in rows(data, COLUMNS, ALIASES):
        try:
            if isinstance(row, str):
                raise ValueError(row)
            if not row["session_id"].isdigit():
                raise ValueError(f"session {row['session_id']!r} is not a number")
            sid = int(row["session_id"])
            if sid not in sessions:
                sessions[sid] = await db.get(Session, sid)
            session = sessions[sid]
            if session is None:
                raise ValueError(f"session {sid} not found")
            badge = row["badge_no"]
            if badge not in badges:
                raise ValueError(f"unknown officer badge number {badge!r}")
            check_in = _time(row["check_in"], "check_in", tz)
            out_text = row.get("check_out", "")
            check_out = _time(out_text, "check_out", tz) if out_text else None
            check_times(session, check_in, check_out)
        except (ValueError, AttendanceError) as exc:
            problems.append((line, str(exc)))
            continue
        key = f"{sid}|{badge}|{check_in.isoformat()}"
        uid = "import:" + hashlib.sha256(key.encode()).hexdigest()[:40]
        if uid in seen:
            problems.append((line, f"repeats line {seen[uid]}"))
            continue
        seen[uid] = line
        parsed.append((line, uid, sid, badges[badge], check_in, check_out))
    if problems:
        raise ImportRejected(problems)
    known = await already_imported(db, Attendance.event_uid, seen)
    fresh = [p for p in parsed if p[1] not in known]
    batch = await open_batch(db, "attendance", data, filename, len(parsed), actor)
    db.add_all(
        Attendance(
            event_uid=uid,
            session_id=sid,
            person_id=pid,
            check_in=ci,
            check_out=co,
            source=AttendanceSource.IMPORT,
            recorded_by_id=actor.id,
            reason=f"import {batch.id} line {line}",
        )
        for line, uid, sid, pid, ci, co in fresh
    )
    return await close_batch(db, batch, actor, len(fresh))
