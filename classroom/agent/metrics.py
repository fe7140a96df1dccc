"""The agent's Prometheus /metrics, from the same status the heartbeat carries, served on
127.0.0.1 by a minimal HTTP responder (one GET path; no framework needed on the classroom PC)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import Any

from classroom.agent.health import STATES
from classroom.metrics import CONTENT_TYPE, Metric, render


def agent_metrics(status: dict[str, Any]) -> str:
    def num(key: str) -> float:
        value = status.get(key)
        return float(value) if value is not None else math.nan

    state = Metric("classroom_agent_state", "1 for the agent's current state.")
    for s in STATES:
        state.add(1 if status["state"] == s else 0, state=s)
    alerts = Metric("classroom_agent_alert", "1 for each alert raised now.")
    for a in status["alerts"]:
        alerts.add(1, code=a["code"])
    return render(
        [
            state,
            Metric("classroom_agent_recordings", "Recordings being captured.").add(
                len(status["recordings"])
            ),
            Metric("classroom_agent_disk_free_bytes", "Free space on the spool disk.").add(
                num("disk_free_bytes")
            ),
            Metric("classroom_agent_uploads_pending", "Files in the upload queue.").add(
                num("uploads_pending")
            ),
            Metric("classroom_agent_oldest_upload_age_seconds", "Age of the oldest upload.").add(
                num("oldest_upload_age_s")
            ),
            Metric("classroom_agent_reports_pending", "Reports in the outbox.").add(
                num("reports_pending")
            ),
            Metric("classroom_agent_audio_rms_dbfs", "Microphone level, last segment.").add(
                num("audio_rms_dbfs")
            ),
            Metric("classroom_agent_segments", "Segments accepted.", "counter").add(
                num("segments_total")
            ),
            Metric("classroom_agent_recorder_faults", "Recorder faults.", "counter").add(
                num("faults_total")
            ),
            alerts,
        ]
    )


async def serve_metrics(port: int, body: Callable[[], str]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(5):
                    request = await reader.readline()
                    while await reader.readline() not in (b"\r\n", b"", b"\n"):
                        pass  # the headers: nothing in them matters here
            except ValueError:  # a line over the reader's 64 KiB limit
                code, ctype, data = "400 Bad Request", "text/plain", b"line too long\n"
            else:
                parts = request.decode("latin-1").split()
                if len(parts) == 3 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                    code, ctype, data = "200 OK", CONTENT_TYPE, body().encode()
                else:
                    code, ctype, data = "404 Not Found", "text/plain", b"not found\n"
            writer.write(
                f"HTTP/1.1 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", port)
