"""A small JPEG of a recorded segment's first frame: the dashboard's confidence monitor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import cv2


def preview_jpeg(path: Path, width: int = 320, quality: int = 70) -> bytes | None:
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        for frame in container.decode(container.streams.video[0]):
            image: Any = frame.to_ndarray(format="bgr24")
            break
        else:
            return None
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(1, h * width // w)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(data) if ok else None
