"""The portal's commands: taken by long poll, carried out on the capture, acknowledged.

Commands are idempotent (a Start while recording, a Stop of what is stopped, do nothing more),
so one taken twice — its acknowledgement lost with the outbox's disk — is simply done again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import structlog

from classroom.agent.capture import Capture
from classroom.agent.client import PortalClient
from classroom.agent.reports import Report
from classroom.protocol.messages import Ack, Command, CommandKind, ack_path

log = structlog.get_logger(__name__)


class CommandDesk:
    def __init__(
        self,
        portal: PortalClient,
        capture: Capture,
        report: Report,
        finish: Callable[[int, str], None],
        preset_of: Callable[[int], int | None],
        poll_wait_s: float,
    ) -> None:
        self.portal = portal
        self.capture = capture
        self.report = report
        self.finish = finish  # begin finishing a stopped recording (its id and object prefix)
        self.preset_of = preset_of  # the scheduled session's camera preset, if any
        self.poll_wait_s = poll_wait_s
        self._handled: set[int] = set()

    async def run(self) -> None:
        while True:
            for cmd in await self.portal.commands(self.poll_wait_s):
                if cmd.id in self._handled:
                    continue  # handled; its acknowledgement waits in the outbox
                self._handled.add(cmd.id)
                try:
                    await self.handle(cmd)
                except BaseException:
                    # Not acknowledged (the outbox could not take it, nor the portal): the
                    # portal keeps the command, and the next poll takes it again.
                    self._handled.discard(cmd.id)
                    raise

    async def handle(self, cmd: Command) -> None:
        log.info("agent.command", id=cmd.id, kind=cmd.kind, recording=cmd.recording_id)
        rid, prefix = cmd.recording_id, cmd.object_prefix
        try:
            if cmd.kind == CommandKind.START_RECORDING:
                preset = cmd.ptz_preset if cmd.ptz_preset is not None else self.preset_of(rid)
                await self.capture.start(rid, prefix, preset)
            elif cmd.kind == CommandKind.STOP_RECORDING:
                await self.capture.stop(rid)
            elif cmd.kind == CommandKind.PAUSE_RECORDING:
                await self.capture.pause(rid)
            elif cmd.kind == CommandKind.RESUME_RECORDING:
                await self.capture.resume(rid, prefix)
            else:
                raise ValueError(f"unknown command {cmd.kind!r}")
        except Exception as exc:
            log.exception("agent.command_failed", id=cmd.id)
            ack = Ack(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
        else:
            ack = Ack(ok=True)
        await self._acknowledge(cmd.id, ack)
        if cmd.kind == CommandKind.STOP_RECORDING and ack.ok:
            # Only now: the portal hears of the stop before it hears the recording is playable.
            self.finish(rid, prefix)

    async def _acknowledge(self, command_id: int, ack: Ack) -> None:
        """Through the outbox; straight to the portal if the outbox cannot take it (the disk
        full): a Stop must be acknowledged at once. Neither: raised, so the command is taken
        again at the next poll."""
        path = ack_path(command_id)
        try:
            await self.report(path, ack)
        except (OSError, sqlite3.Error) as exc:
            log.warning("agent.ack_direct", command=command_id, error=str(exc)[:200])
            await self.portal.once("POST", path, json=ack.model_dump(mode="json"))
