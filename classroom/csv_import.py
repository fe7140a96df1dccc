"""What every CSV import shares: content checks, the header, rows with their line numbers, and
all-or-nothing refusal with every bad line listed."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from classroom.audit import audit
from classroom.db.models import ImportBatch, Person, PersonRole, Role

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
    already: int

    def as_dict(self) -> dict[str, int]:
        return {
            "batch_id": self.batch_id,
            "rows": self.rows,
            "imported": self.imported,
            "already_imported": self.already,
        }


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRejected([(0, f"file larger than {MAX_BYTES} bytes")])
    if b"\x00" in data:
        raise ImportRejected([(0, "not a text file (it contains NUL bytes)")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([(0, f"not UTF-8 text (byte {exc.start})")]) from None


def rows(
    data: bytes, columns: Sequence[str], aliases: Mapping[str, str]
) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line, row by column name) for each non-empty line, or (line, problem) for a short one.
    A file the CSV reader cannot read (a field past its size limit, say) is refused whole."""
    # newline="": the reader itself splits lines, so a line ending of CR alone, or an end of line
    # inside a quoted field, is read as the csv module documents instead of raising.
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        yield from _rows(reader, columns, aliases)
    except csv.Error as exc:
        raise ImportRejected([(reader.line_num, f"not a readable CSV file: {exc}")]) from None


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
    return ImportResult(batch.id, batch.rows, imported, batch.rows - imported)
