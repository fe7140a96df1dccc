"""A year of planned sessions from one table (XLSX, or CSV in UTF-8 or GB18030), as a training
office keeps its calendar: each line a session, by the names people use — the course's code,
the unit's and the classroom's names (or a place), the trainer's username or badge number, the
date and the times in the bureau's zone. This module reads the lines and resolves the names;
who may book each one, and the classroom's time, are checked by the portal's booking rules
(web/api/session_import.py), line by line, before anything is saved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.csv_import import rows
from classroom.db.models import Classroom, Course, Person, SessionKind, Unit

# Column → its Chinese header, in the order the template writes them.
HEADERS = {
    "title": "标题",
    "kind": "类型",
    "course": "课程编号",
    "unit": "单位",
    "classroom": "教室",
    "place": "场地",
    "trainer": "教员",
    "date": "日期",
    "start": "开始",
    "end": "结束",
}
REQUIRED = ("title", "kind", "course", "date", "start", "end")
KIND_NAMES = {
    "全员普训": SessionKind.TRAINING_DAY,
    "实践培训": SessionKind.PRACTICAL,
    "科队学习": SessionKind.UNIT_STUDY,
    "队列训练": SessionKind.DRILL_TRAINING,
    "队列考核": SessionKind.DRILL_ASSESSMENT,
    "其他": SessionKind.OTHER,
}
EXAMPLE = {
    "title": "队列训练",
    "kind": "队列训练",
    "course": "DL-01",
    "unit": "第一街镇中队",
    "classroom": "",
    "place": "局大院操场",
    "trainer": "",
    "date": "2024-03-05",
    "start": "08:00",
    "end": "08:40",
}


def template_row() -> dict[str, str]:
    return {HEADERS[k]: v for k, v in EXAMPLE.items()}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.replace("/", "-")[:10])
    except ValueError:
        parts = text.replace("/", "-").split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        raise


def _clock(text: str) -> time:
    hh, _, mm = text.strip().partition(":")
    return time(int(hh), int(mm[:2]))


class _Names:
    """The bureau's names, looked up once for the whole file."""

    def __init__(
        self,
        courses: dict[str, int],
        units: dict[str, int],
        rooms: dict[str, int],
        people: dict[str, int],
    ) -> None:
        self.courses, self.units, self.rooms, self.people = courses, units, rooms, people

    @classmethod
    async def load(cls, db: AsyncSession) -> _Names:
        people: dict[str, int] = {}
        for p in await db.scalars(select(Person).where(Person.active.is_(True))):
            people[p.username.lower()] = p.id
            if p.badge_no:
                people[p.badge_no.lower()] = p.id
        return cls(
            {c.code: c.id for c in await db.scalars(select(Course))},
            {u.name: u.id for u in await db.scalars(select(Unit).where(Unit.active.is_(True)))},
            {r.name: r.id for r in await db.scalars(select(Classroom))},
            people,
        )


def _resolve(row: dict[str, str], names: _Names, tz: ZoneInfo) -> dict[str, Any]:
    """A line as a session's fields (SessionIn's), or ValueError saying what is wrong."""
    kind_text = row["kind"]
    kinds = KIND_NAMES | {k.value: k for k in SessionKind}
    if kind_text not in kinds:
        raise ValueError(f"type {kind_text!r}: known are {'、'.join(KIND_NAMES)}")
    course = names.courses.get(row["course"])
    if course is None:
        raise ValueError(f"no course with the code {row['course']!r}")
    out: dict[str, Any] = {
        "title": row["title"],
        "kind": kinds[kind_text],
        "course_id": course,
        "place": row.get("place", ""),
    }
    for column, table in (("unit", names.units), ("classroom", names.rooms)):
        if text := row.get(column, ""):
            if text not in table:
                raise ValueError(f"no {column} named {text!r}")
            out[f"{column}_id"] = table[text]
    if text := row.get("trainer", ""):
        if text.lower() not in names.people:
            raise ValueError(f"no active person with the username or badge number {text!r}")
        out["trainer_id"] = names.people[text.lower()]
    try:
        day = _day(row["date"])
    except ValueError:
        raise ValueError(f"date {row['date']!r} is not a date (YYYY-MM-DD)") from None
    try:
        start, end = _clock(row["start"]), _clock(row["end"])
    except ValueError:
        raise ValueError(f"times {row['start']!r}–{row['end']!r} are not hh:mm") from None
    out["planned_start"] = datetime.combine(day, start, tz)
    out["planned_end"] = datetime.combine(day, end, tz)
    return out


async def read_sessions(
    db: AsyncSession, data: bytes, tz: ZoneInfo
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, a session's fields) for each line, or (line, what is wrong with it). A file that
    cannot be read, or lacks a column, is refused whole (ImportRejected)."""
    names = await _Names.load(db)
    aliases = {zh: key for key, zh in HEADERS.items()}
    found = list(rows(data, REQUIRED, aliases))

    def each() -> Iterator[tuple[int, dict[str, Any] | str]]:
        for line, row in found:
            if isinstance(row, str):
                yield line, row
                continue
            try:
                yield line, _resolve({k: v.strip() for k, v in row.items()}, names, tz)
            except ValueError as exc:
                yield line, str(exc)

    return each()
