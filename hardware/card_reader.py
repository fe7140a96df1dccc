"""ID-card readers on a serial line (RS-232/USB-serial): the reader sends the card number as
ASCII followed by CR and/or LF, as most access-control readers do (and as keyboard-wedge readers
type it). Read through pyserial in a worker thread; each complete line is one tap."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import serial

_CARD = re.compile(rb"[0-9A-Za-z]{4,32}")


class SerialCardReader:
    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 0.5) -> None:
        self.port, self.baudrate, self.timeout_s = port, baudrate, timeout_s
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        self._serial = serial.Serial(self.port, self.baudrate, timeout=self.timeout_s)

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _read_line(self) -> bytes:
        assert self._serial is not None, "open() first"
        return bytes(self._serial.read_until(b"\r"))

    async def cards(self) -> AsyncIterator[str]:
        """Card numbers as they are tapped; noise and partial lines are skipped."""
        buffer = b""
        while True:
            chunk = await asyncio.to_thread(self._read_line)
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]+", buffer)
            for line in lines:
                m = _CARD.fullmatch(line.strip())
                if m:
                    yield m.group().decode().upper()
