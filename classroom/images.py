"""Images from outside (kiosk frames, enrolment photos, courseware): their size is read from the
header and bounded before anything is decoded, and decoding runs off the event loop, a few at a
time.

A 60 KiB PNG can say 8000×8000 and decode to 192 MB; a decoder sized by the header would take
that memory and seconds of CPU on the event loop. JPEG and PNG are the formats accepted; anything
else, or a header that does not parse, is refused before the decoder sees it.
"""

from __future__ import annotations

import asyncio
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class Bound:
    """The largest image a use accepts: each side and the area."""

    side: int
    pixels: int


CAMERA_FRAME = Bound(side=1920, pixels=1920 * 1080)  # a kiosk or door camera's frame
ENROLMENT_PHOTO = Bound(side=4096, pixels=4096 * 4096)
COURSEWARE_IMAGE = Bound(side=12_000, pixels=50_000_000)  # a scanned A3 page at 600 dpi fits


class ImageRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # empty | not_an_image | too_large


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's or JPEG's header, None if ``head`` is neither. For a JPEG
    the frame header may come after its metadata: pass the whole file."""
    if head.startswith(_PNG_MAGIC):
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if marker in _SOF:
            if i + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[i + 5 : i + 9])
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:  # end, or scan data before any frame header
            return None
        i += 2 + length
    return None


def check_image(data: bytes, bound: Bound) -> tuple[int, int]:
    """The image's size, or ImageRefused: empty, not a JPEG or PNG, or larger than ``bound``."""
    if not data:
        raise ImageRefused("empty", "the image is empty")
    size = image_size(data)
    if size is None:
        raise ImageRefused("not_an_image", "not a JPEG or PNG image")
    width, height = size
    if not (0 < width <= bound.side and 0 < height <= bound.side) or width * height > bound.pixels:
        raise ImageRefused(
            "too_large",
            f"the image is {width}×{height}; at most {bound.side} pixels a side and "
            f"{bound.pixels / 1e6:.1f} megapixels are accepted",
        )
    return size


def decode_bounded(data: bytes, bound: Bound, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The image as an array, after its header was checked against ``bound``."""
    check_image(data, bound)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ImageRefused("not_an_image", "the image does not decode (damaged or truncated)")
    return image


# Decoding (and what follows it on a frame) is CPU work: a pool of its own keeps it off the event
# loop and bounds how many run at once, whoever sends images.
_DECODERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="image-decode")


async def decode_off_loop(data: bytes, bound: Bound, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    check_image(data, bound)  # refused at once, before it queues for a decoder
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_DECODERS, decode_bounded, data, bound, flags)
