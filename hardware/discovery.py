"""What capture hardware this machine has, and what a source delivers (probed with PyAV)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error


@dataclass(frozen=True)
class VideoDevice:
    path: str
    name: str


@dataclass(frozen=True)
class AudioCard:
    index: int
    id: str
    name: str
    alsa: str  # the ALSA device name to record from


def video_devices(sys_root: Path = Path("/sys")) -> list[VideoDevice]:
    """V4L2 nodes (webcams, HDMI capture cards) from sysfs."""
    base = sys_root / "class" / "video4linux"
    out = []
    for node in sorted(base.glob("video*"), key=lambda p: int(p.name[5:] or 0)):
        name_file = node / "name"
        name = name_file.read_text().strip() if name_file.exists() else node.name
        out.append(VideoDevice(f"/dev/{node.name}", name))
    return out


_CARD = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]:\s*(.*)$")


def audio_cards(proc_root: Path = Path("/proc")) -> list[AudioCard]:
    """ALSA cards from /proc/asound/cards (each card's first line)."""
    path = proc_root / "asound" / "cards"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        m = _CARD.match(line)
        if m:
            index = int(m.group(1))
            out.append(AudioCard(index, m.group(2), m.group(3).strip(), f"hw:{index},0"))
    return out


@dataclass(frozen=True)
class StreamInfo:
    kind: str
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True)
class ProbeResult:
    url: str
    format: str
    streams: list[StreamInfo] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProbeError(RuntimeError):
    pass


def probe(
    url: str, fmt: str | None = None, options: dict[str, str] | None = None, timeout_s: float = 10.0
) -> ProbeResult:
    """Open a device, file or stream and report what it carries."""
    try:
        with av.open(url, format=fmt, options=options or {}, timeout=timeout_s) as c:
            streams = []
            for v in c.streams.video:
                rate = v.average_rate or v.base_rate
                fps = round(float(Fraction(rate)), 3) if rate else None
                vc = v.codec_context
                streams.append(StreamInfo("video", vc.name, vc.width, vc.height, fps))
            for a in c.streams.audio:
                ac = a.codec_context
                streams.append(
                    StreamInfo(
                        "audio", ac.name, sample_rate=ac.sample_rate, channels=ac.layout.nb_channels
                    )
                )
            return ProbeResult(url, c.format.name, streams)
    except (av.error.FFmpegError, OSError) as exc:
        raise ProbeError(f"cannot open {url}: {exc}") from None
