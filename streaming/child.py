"""One supervised ffmpeg child: started in its own session, stopped gracefully, log tail kept."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
from collections import deque
from collections.abc import Sequence

import structlog

from streaming.tasks import settled

log = structlog.get_logger(__name__)

STDERR_CHUNK = 64 * 1024
LINE_KEPT = 4096  # bytes of one log line kept: its start says what it is
# What ffmpeg (and the C library under it) says when the disk is full.
NO_SPACE = "No space left on device"


def die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel ends ffmpeg if we die, even by kill -9 (no orphan encoders).
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


class FfmpegProcess:
    def __init__(self, args: Sequence[str], tail_lines: int = 40) -> None:
        self.args = list(args)
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the agent only; it stops us in order
        )
        self._reader = asyncio.create_task(self._read_stderr())
        log.info("ffmpeg.started", pid=self._proc.pid)

    async def _read_stderr(self) -> None:
        """Until ffmpeg closes stderr. In chunks, not lines: a line longer than the stream's
        limit would end a line reader, and ffmpeg would then block on a full pipe."""
        assert self._proc is not None and self._proc.stderr is not None
        partial = b""
        while chunk := await self._proc.stderr.read(STDERR_CHUNK):
            *lines, partial = (partial + chunk).split(b"\n")
            self._keep(lines)
            partial = partial[:LINE_KEPT]
        self._keep([partial])

    def _keep(self, lines: list[bytes]) -> None:
        for raw in lines:
            line = raw[:LINE_KEPT].decode("utf-8", "replace").rstrip()
            if line:
                self.tail.append(line)

    async def _log_read(self) -> None:
        """The stderr reader ends when ffmpeg does."""
        if self._reader is not None:
            await settled(self._reader)

    async def wait(self) -> int:
        assert self._proc is not None
        rc = await self._proc.wait()
        await self._log_read()
        return rc

    async def run(self) -> int:
        """A one-off job (a join, a thumbnail): start, wait for the end. Cancelled — the agent
        shutting down — it kills ffmpeg first: a job never outlives the one who waits for it."""
        await self.start()
        try:
            return await self.wait()
        except asyncio.CancelledError:
            await asyncio.shield(self._kill())
            raise

    async def _kill(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        await self._proc.wait()
        await self._log_read()

    async def stop(self, grace_s: float = 10.0) -> int:
        """Ask ffmpeg to finish ('q'), so it closes the open segment; escalate if it will not."""
        proc = self._proc
        if proc is None:
            return 0
        if proc.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, AttributeError):
                assert proc.stdin is not None
                proc.stdin.write(b"q")
                await proc.stdin.drain()
                proc.stdin.close()
            for sig, wait_s in ((None, grace_s), (signal.SIGINT, grace_s), (signal.SIGKILL, 5.0)):
                if sig is not None and proc.returncode is None:
                    log.warning("ffmpeg.escalate", pid=proc.pid, signal=sig.name)
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(sig)
                try:
                    async with asyncio.timeout(wait_s):
                        await proc.wait()
                    break
                except TimeoutError:
                    continue
        return await self.wait()
