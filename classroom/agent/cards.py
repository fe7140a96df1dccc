"""The classroom's ID-card reader: each tap a check-in event with its own id, through the outbox.
While the portal is unreachable taps queue on disk, and the portal stores each exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import structlog

from classroom.agent.health import Health
from classroom.agent.reports import Report
from classroom.protocol.messages import CHECKIN_PATH, Checkin
from hardware.card_reader import SerialCardReader

log = structlog.get_logger(__name__)

REOPEN_S = 5.0  # an unplugged reader is looked for again this often


async def read_cards(reader: SerialCardReader, report: Report, health: Health) -> None:
    while True:
        try:
            await asyncio.to_thread(reader.open)
            health.clear("card_reader")
            async for card in reader.cards():
                log.info("agent.card", card=card[-4:])  # the last digits, not the number
                tap = Checkin(event_uid=uuid.uuid4(), card_no=card, at=datetime.now(UTC))
                await report(CHECKIN_PATH, tap)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # unplugged: say so, and try again
            health.raise_alert("card_reader", f"card reader: {exc}"[:300])
            log.warning("agent.card_reader_failed", error=str(exc)[:200])
        finally:
            reader.close()
        await asyncio.sleep(REOPEN_S)
