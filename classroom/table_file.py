"""A table a training office uploads, as it really exports it: CSV in UTF-8 (with or without a
BOM) or in GB18030 (what Excel on Chinese Windows saves), or an XLSX workbook. Told apart by
content, never by the file's name; an encoding is decided by rule, never guessed into mojibake.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, time

from openpyxl import load_workbook

ZIP_MAGIC = b"PK\x03\x04"
MAX_COLUMNS = 64


class UnreadableTable(ValueError):
    """The file is neither a CSV in an encoding we read nor an XLSX workbook; says why."""


def _cjk_share(text: str) -> float:
    """Of the text's non-ASCII characters, the share that are Chinese characters or CJK and
    full-width punctuation: what a Chinese table's non-ASCII text is made of."""
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return 1.0
    cjk = sum(
        1
        for c in wide
        if "\u4e00" <= c <= "\u9fff"
        or "\u3400" <= c <= "\u4dbf"
        or "\u3000" <= c <= "\u303f"
        or "\uff00" <= c <= "\uffef"
    )
    return cjk / len(wide)


def decode_text(data: bytes) -> str:
    """UTF-8 with a BOM as such; otherwise UTF-8 or GB18030, by which reading is Chinese text.

    Almost any UTF-8 is also valid GB18030 (as mojibake such as "渚濇硶"), and short GBK text can
    be valid UTF-8 ("全员" reads ȫԱ); a GBK export of any length is not. Where both readings
    succeed and differ, UTF-8's is taken if it is Chinese text; otherwise the file is refused
    with a request to save it as UTF-8, rather than guessed."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableTable(f"marked UTF-8 but is not (byte {exc.start})") from None
    readings: dict[str, str] = {}
    for encoding in ("utf-8", "gb18030"):
        with contextlib.suppress(UnicodeDecodeError):
            readings[encoding] = data.decode(encoding)
    if not readings:
        raise UnreadableTable("not text in UTF-8 or GB18030 (nor an XLSX workbook)")
    if len(set(readings.values())) == 1:
        return next(iter(readings.values()))  # one reading, or ASCII: the same either way
    # Valid in both: UTF-8 read as GB18030 always looks Chinese, so only the UTF-8 reading can
    # tell. Chinese, it is the file's; anything else (GBK bytes that happen to be valid UTF-8
    # read as odd letters, and so does a UTF-8 file in another script) cannot be told apart.
    if _cjk_share(readings["utf-8"]) >= 0.9:
        return readings["utf-8"]
    raise UnreadableTable(
        "cannot tell whether the file is UTF-8 or GB18030: save it as UTF-8 (CSV UTF-8 in Excel)"
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    """The first sheet's rows as text, as a CSV reader would give them."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl's own, zipfile's, XML parsers': all say "not a workbook"
        raise UnreadableTable(f"not a readable XLSX workbook: {exc}"[:300]) from None
    try:
        sheet = book.worksheets[0]
        width = 0  # the header's: a workbook leaves trailing empty cells out, a CSV does not
        for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            cells = [_cell(v) for v in row]
            if not width:
                while cells and cells[-1] == "":
                    cells.pop()
                width = len(cells)
            yield cells + [""] * (width - len(cells))
    finally:
        book.close()


def table_rows(data: bytes) -> tuple[Iterator[list[str]], Callable[[], int]]:
    """The file's rows, and a function giving the line (row) number the reader is at."""
    if data.startswith(ZIP_MAGIC):
        numbered = enumerate(_xlsx_rows(data), start=1)
        at = [0]

        def xlsx() -> Iterator[list[str]]:
            for n, row in numbered:
                at[0] = n
                yield row

        return xlsx(), lambda: at[0]
    if b"\x00" in data:
        raise UnreadableTable("not a text file (it contains NUL bytes)")
    # newline="": the reader itself splits lines, so a line ending of CR alone, or an end of
    # line inside a quoted field, is read as the csv module documents instead of raising.
    reader = csv.reader(io.StringIO(decode_text(data), newline=""))
    return reader, lambda: reader.line_num
