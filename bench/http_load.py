"""A small HTTP/1.1 load generator for the benchmarks, run as a process of its own so the load does
not share the server's interpreter: ``connections`` keep-alive connections, each sending the
next request as soon as the previous answer is in, for ``seconds``.

    python -m bench.http_load HOST PORT METHOD PATH TOKEN CONNECTIONS SECONDS [BODY]

``BODY`` may hold ``{n}`` (a counter from 100000, one per request: each request a different card)
and ``{uuid}``. Prints one JSON line: {"requests", "seconds", "p50_ms", "p99_ms", "errors",
"statuses"}.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import uuid
from collections import Counter


async def _connection(
    host: str,
    port: int,
    make: list[bytes],
    counter: itertools.count[int],
    stop_at: float,
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head, body = make
    try:
        while time.perf_counter() < stop_at:
            n = next(counter)
            payload = body.replace(b"{n}", str(n).encode()).replace(
                b"{uuid}", uuid.uuid4().hex.encode()
            )
            request = head.replace(b"{len}", str(len(payload)).encode()) + payload
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[int(status_line.split()[1])] += 1
    finally:
        writer.close()


async def main(argv: list[str]) -> None:
    host, port, method, path, token, conns, seconds = argv[:7]
    body = argv[7].encode() if len(argv) > 7 else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        + ("Content-Type: application/json\r\nContent-Length: {len}\r\n" if body else "")
        + "\r\n"
    ).encode()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    counter = itertools.count(100_000)
    started = time.perf_counter()
    stop_at = started + float(seconds)
    await asyncio.gather(
        *(
            _connection(host, int(port), [head, body], counter, stop_at, latencies, statuses)
            for _ in range(int(conns))
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "seconds": elapsed,
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
                "statuses": dict(statuses),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
