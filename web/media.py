"""Serve an object from the store to a browser with HTTP Range support (seeking in <video>)."""

from __future__ import annotations

import re

from fastapi import HTTPException, status
from fastapi.responses import StreamingResponse

from storage.object_store import ObjectStore

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str, size: int) -> tuple[int, int]:
    """First and last byte (inclusive) of a single-range header; 416 if it cannot be served."""
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE,
            "only one byte range is supported",
            headers={"Content-Range": f"bytes */{size}"},
        )
    first_s, last_s = m.groups()
    if not first_s:  # suffix: the last N bytes
        first, last = max(0, size - int(last_s)), size - 1
    else:
        first = int(first_s)
        last = min(int(last_s), size - 1) if last_s else size - 1
    if first > last or first >= size:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE,
            f"range outside 0-{size - 1}",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return first, last


def object_response(
    store: ObjectStore, key: str, size: int, content_type: str, range_header: str | None
) -> StreamingResponse:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if range_header is None:
        headers["Content-Length"] = str(size)
        body = store.open_range(key)
        return StreamingResponse(body, media_type=content_type, headers=headers)
    first, last = parse_range(range_header, size)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    body = store.open_range(key, first, last - first + 1)
    return StreamingResponse(
        body, status_code=status.HTTP_206_PARTIAL_CONTENT, media_type=content_type, headers=headers
    )
