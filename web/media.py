"""Serve an object from the store to a browser with HTTP Range support (seeking in <video>)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

from fastapi import HTTPException, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

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


# Told, once a response ends (sent whole or cut off by the client), which bytes it sent.
Sent = Callable[[int, int], Coroutine[Any, Any, None]]
_LATE: set[asyncio.Task[None]] = set()  # reports of responses cut off, until they are written


def _counted(body: Iterator[bytes], first: int, sent: Sent) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        count = 0
        try:
            async for chunk in iterate_in_threadpool(body):
                count += len(chunk)
                yield chunk
        except BaseException:  # the client left (cancelled): tell it beside the loop
            task = asyncio.get_running_loop().create_task(sent(first, first + count))
            _LATE.add(task)
            task.add_done_callback(_LATE.discard)
            raise
        await sent(first, first + count)  # before the response's end reaches the client

    return chunks()


def object_response(
    store: ObjectStore,
    key: str,
    size: int,
    content_type: str,
    range_header: str | None,
    sent: Sent | None = None,
) -> StreamingResponse:
    """The object, whole or the range asked for; ``sent`` learns which bytes actually went."""
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    first, last, code = 0, size - 1, status.HTTP_200_OK
    if range_header is not None:
        first, last = parse_range(range_header, size)
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    headers["Content-Length"] = str(last - first + 1)
    body = store.open_range(key, first, last - first + 1)
    content = _counted(body, first, sent) if sent is not None else body
    return StreamingResponse(content, status_code=code, media_type=content_type, headers=headers)
