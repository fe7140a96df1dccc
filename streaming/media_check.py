"""Validate media with PyAV (no ffprobe needed): a file is accepted only if it really decodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error

MIN_SILENT_TAIL_S = 1.0


class InvalidMedia(ValueError):
    pass


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    video_frames: int
    audio_packets: int
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int

    @property
    def has_video(self) -> bool:
        return self.video_frames > 0

    @property
    def has_audio(self) -> bool:
        return self.audio_packets > 0


def check_media(path: Path, *, need_audio: bool = True) -> MediaInfo:
    """Demux every packet and decode the first video frame; raise InvalidMedia if it fails.

    Demuxing the whole file catches truncation; decoding one frame proves the codec data (SPS/PPS)
    is there. Decoding every frame would cost as much CPU as the encode did.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidMedia(f"{path.name}: no video stream")
            vstream = container.streams.video[0]
            astream = container.streams.audio[0] if container.streams.audio else None
            if need_audio and astream is None:
                raise InvalidMedia(f"{path.name}: no audio stream")
            spans: dict[int, tuple[float, float]] = {}
            frames = audio_packets = 0
            decoded = False
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                lo, hi = spans.get(packet.stream.index, (start, end))
                spans[packet.stream.index] = (min(lo, start), max(hi, end))
                if packet.stream.index == vstream.index:
                    frames += 1
                    if not decoded:
                        decoded = bool(packet.decode()) or decoded
                elif astream is not None and packet.stream.index == astream.index:
                    audio_packets += 1
            if frames and not decoded:
                # A decoder may hold back its first frames; flushing releases them.
                decoded = bool(vstream.codec_context.decode(None))
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"{path.name}: {exc}") from None
    if not frames or not decoded:
        raise InvalidMedia(f"{path.name}: no decodable video frame")
    duration = max(hi - lo for lo, hi in spans.values())
    # The last segment of a stopped recording can be a few frames long, closed before the audio
    # encoder emitted a packet; keep it. A longer one without audio means the audio broke.
    if need_audio and not audio_packets and duration >= MIN_SILENT_TAIL_S:
        raise InvalidMedia(f"{path.name}: no audio packets in {duration:.1f} s")
    return MediaInfo(
        duration_s=duration,
        video_frames=frames,
        audio_packets=audio_packets,
        video_codec=vstream.codec_context.name,
        audio_codec=astream.codec_context.name if astream is not None else None,
        width=vstream.codec_context.width,
        height=vstream.codec_context.height,
    )
