"""What every table import shares: content checks, the header, rows with their line numbers, and
all-or-nothing refusal with every bad line listed. CSV or XLSX (classroom.table_file)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from classroom.audit import audit
from classroom.db.models import ImportBatch, Person, PersonRole, Role
from classroom.table_file import UnreadableTable, table_rows

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 200_000


class ImportRejected(ValueError):
    """The file is refused; ``problems`` lists every bad row as (line number, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        first = "; ".join(f"line {n}: {m}" for n, m in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} bad row(s), nothing imported: {first}{more}")


@dataclass(frozen=True)
class ImportResult:
    batch_id: int
    rows: int
    imported: int
    already: int  # stored before with the same values: skipped
    replaced: int = 0  # stored before with other values, replaced as asked

    def as_dict(self) -> dict[str, int]:
        return {
            "batch_id": self.batch_id,
            "rows": self.rows,
            "imported": self.imported,
            "already_imported": self.already,
            "replaced": self.replaced,
        }


def rows(
    data: bytes, columns: Sequence[str], aliases: Mapping[str, str]
) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line, row by column name) for each non-empty line, or (line, problem) for a short one.
    The file is a CSV (UTF-8 or GB18030) or an XLSX workbook (classroom.table_file); one that
    cannot be read (a field past the CSV reader's size limit, say) is refused whole."""
    if len(data) > MAX_BYTES:
        raise ImportRejected([(0, f"file larger than {MAX_BYTES} bytes")])
    try:
        reader, line_num = table_rows(data)
    except UnreadableTable as exc:
        raise ImportRejected([(0, str(exc))]) from None
    try:
        yield from _rows(reader, columns, aliases)
    except csv.Error as exc:
        raise ImportRejected([(line_num(), f"not a readable CSV file: {exc}")]) from None
    except UnreadableTable as exc:
        raise ImportRejected([(line_num(), str(exc))]) from None


def _rows(
    reader: Iterator[list[str]], columns: Sequence[str], aliases: Mapping[str, str]
) -> Iterator[tuple[int, dict[str, str] | str]]:
    try:
        header = [aliases.get(h.strip(), h.strip().lower()) for h in next(reader)]
    except StopIteration:
        raise ImportRejected([(1, "empty file")]) from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise ImportRejected([(1, f"missing column(s): {', '.join(missing)}")])
    count = 0
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        count += 1
        if count > MAX_ROWS:
            raise ImportRejected([(line, f"more than {MAX_ROWS} rows")])
        if len(row) < len(header):
            yield line, f"{len(row)} columns, expected {len(header)}"
            continue
        yield line, {name: row[i].strip() for i, name in enumerate(header)}


async def officer_badges(db: AsyncSession) -> dict[str, int]:
    found = await db.execute(
        select(Person.badge_no, Person.id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == Role.OFFICER, Person.badge_no.is_not(None))
    )
    return {str(b): int(pid) for b, pid in found}


async def already_imported(
    db: AsyncSession, uid_column: InstrumentedAttribute[str], uids: Iterable[str]
) -> set[str]:
    """The event ids of this file that an earlier import stored: they are skipped."""
    return set(await db.scalars(select(uid_column).where(uid_column.in_(list(uids)))))


async def open_batch(
    db: AsyncSession, kind: str, data: bytes, filename: str, rows: int, actor: Person
) -> ImportBatch:
    batch = ImportBatch(
        kind=kind,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        rows=rows,
        created_by_id=actor.id,
    )
    db.add(batch)
    await db.flush()
    return batch


async def close_batch(
    db: AsyncSession, batch: ImportBatch, actor: Person, imported: int, **detail: Any
) -> ImportResult:
    await audit(
        db,
        actor,
        f"import.{batch.kind}",
        f"import:{batch.id}",
        filename=batch.filename,
        rows=batch.rows,
        imported=imported,
        **detail,
    )
    await db.flush()
    replaced = len(detail.get("replaced", ()))
    return ImportResult(batch.id, batch.rows, imported, batch.rows - imported - replaced, replaced)
