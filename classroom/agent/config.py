"""What one agent is told by its settings: the classroom, its directory, and its loops' timing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streaming.recorder import EncodeSettings


@dataclass
class AgentConfig:
    classroom_id: int
    workdir: Path
    ffmpeg: str
    encode: EncodeSettings
    poll_wait_s: float = 20.0
    preroll_s: float = 60.0
    postroll_s: float = 120.0
    schedule_refresh_s: float = 30.0
    report_retry_max_s: float = 30.0
    heartbeat_s: float = 5.0
    preview_s: float = 5.0
    silence_alert_s: float = 30.0
    unreachable_alert_s: float = 60.0
    min_free_bytes: int = 2 * 1024**3
    retention_days: float = 14.0
    metrics_port: int = 0  # Prometheus /metrics on 127.0.0.1; 0: off
    composite: bool = False  # camera and screen side by side, made after the session
    live: bool = True  # send the camera live (WebRTC relay, HLS) while recording
    live_max_viewers: int = 40  # WebRTC viewers relayed here; the rest play HLS
    gallery_sync_s: float = 300.0  # the door camera's face gallery, fetched again this often
