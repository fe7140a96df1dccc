"""The city platform's online-training export (CSV): validated row by row, applied all or nothing.

Columns (header required, in any order): badge_no, course, hours, credits, date (YYYY-MM-DD).
Chinese headers are accepted too: 警号, 课程, 学时, 学分, 日期. A row already imported (same
officer, course and date) is skipped, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.db.models import (
    CreditEvent,
    CreditSourceKind,
    ImportBatch,
    Person,
    PersonRole,
    Role,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 200_000
ALIASES = {"警号": "badge_no", "课程": "course", "学时": "hours", "学分": "credits", "日期": "date"}
COLUMNS = ("badge_no", "course", "hours", "credits", "date")


class ImportRejected(ValueError):
    """The file is refused; ``problems`` lists every bad row as (line number, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        first = "; ".join(f"line {n}: {m}" for n, m in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} bad row(s), nothing imported: {first}{more}")


@dataclass(frozen=True)
class ImportResult:
    batch_id: int | None
    rows: int
    imported: int
    already: int


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRejected([(0, f"file larger than {MAX_BYTES} bytes")])
    if b"\x00" in data:
        raise ImportRejected([(0, "not a text file (it contains NUL bytes)")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([(0, f"not UTF-8 text (byte {exc.start})")]) from None


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
    reader = csv.reader(io.StringIO(_text(data)))
    try:
        header = [ALIASES.get(h.strip(), h.strip().lower()) for h in next(reader)]
    except StopIteration:
        raise ImportRejected([(1, "empty file")]) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportRejected([(1, f"missing column(s): {', '.join(missing)}")])
    col = {c: header.index(c) for c in COLUMNS}
    badges = {
        b: pid
        for b, pid in await db.execute(
            select(Person.badge_no, Person.id)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.OFFICER, Person.badge_no.is_not(None))
        )
    }
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    parsed: list[tuple[int, str, int, str, float, float, date]] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(parsed) + len(problems) >= MAX_ROWS:
            problems.append((line, f"more than {MAX_ROWS} rows"))
            break
        try:
            if len(row) < len(header):
                raise ValueError(f"{len(row)} columns, expected {len(header)}")
            badge = row[col["badge_no"]].strip()
            if badge not in badges:
                raise ValueError(f"unknown officer badge number {badge!r}")
            course = row[col["course"]].strip()
            if not course or len(course) > 200:
                raise ValueError("course must be 1–200 characters")
            hours = _number(row[col["hours"]].strip(), "hours", 24)
            credits = _number(row[col["credits"]].strip(), "credits", 12)
            try:
                on = date.fromisoformat(row[col["date"]].strip())
            except ValueError:
                raise ValueError(f"date {row[col['date']]!r} is not YYYY-MM-DD") from None
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
    known = set(
        await db.scalars(select(CreditEvent.event_uid).where(CreditEvent.event_uid.in_(seen)))
    )
    fresh = [p for p in parsed if p[1] not in known]
    batch = ImportBatch(
        kind="online",
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        rows=len(parsed),
        created_by_id=actor.id,
    )
    db.add(batch)
    await db.flush()
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
    await audit(
        db,
        actor,
        "import.online",
        f"import:{batch.id}",
        filename=filename,
        rows=len(parsed),
        imported=len(fresh),
    )
    await db.flush()
    return ImportResult(batch.id, len(parsed), len(fresh), len(parsed) - len(fresh))
