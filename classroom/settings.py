"""Settings: defaults embedded, overridden by an optional TOML file and CLASSROOM_* variables.

Precedence (highest first): environment (``CLASSROOM_WEB__PORT=8080``), the TOML file named by
``--config`` or ``CLASSROOM_CONFIG``, then the defaults below. Everything runs with no file at
all: SQLite and an embedded SeaweedFS under ``data_dir``, synthetic camera and microphone.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from classroom.faces.operating_point import MATCH_MARGIN, MATCH_THRESHOLD

ENV_PREFIX = "CLASSROOM_"
CONFIG_ENV = "CLASSROOM_CONFIG"


class SettingsError(Exception):
    """A setting is wrong; the message is one line that names it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored


class DatabaseSettings(_Section):
    # Empty means the embedded SQLite file ``<data_dir>/classroom.db``.
    url: str = ""
    echo: bool = False
    # Connections the portal keeps open (PostgreSQL): as many again may open under a burst. The
    # kiosks' card taps have a pool of their own of this size (classroom.card_tap).
    pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if v and not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class StorageSettings(_Section):
    # Empty endpoint means the embedded SeaweedFS under ``<data_dir>/s3``.
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    secure: bool = False
    region: str = "us-east-1"
    bucket: str = Field(default="classroom", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # How browsers get recordings: through the portal (works wherever the portal does and checks
    # every byte's reader) or redirected to a short-lived presigned URL (needs the store to be
    # reachable from browsers; offloads the portal).
    playback: Literal["proxy", "presigned"] = "proxy"
    presign_expiry_s: int = Field(default=300, ge=10, le=7 * 24 * 3600)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    session_ttl_hours: float = Field(default=12, gt=0, le=24 * 30)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Courseware uploads (lecture videos among them) may be this large.
    courseware_max_mb: int = Field(default=2048, ge=1)
    default_language: Literal["zh-CN", "en"] = "zh-CN"
    # Times on pages are shown in the bureau's zone; the database keeps UTC.
    timezone: str = "Asia/Shanghai"
    # The dashboard flags an agent silent this long (its heartbeat comes every few seconds).
    agent_offline_after_s: float = Field(default=30, ge=5, le=3600)
    # Prometheus scrapes /metrics with this as its bearer token; empty: only a logged-in admin.
    metrics_token: str = ""
    # How often a player reports what it played (seconds); the server's checks do not depend on it.
    watch_report_s: float = Field(default=5, ge=0.5, le=60)
    # Addresses (or networks) of the TLS proxies whose X-Forwarded-For and -Proto are believed:
    # through them the portal knows the client's address (the login throttle) and that it was
    # reached over HTTPS (Secure cookies, HSTS). Others' X-Forwarded-* are ignored.
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Strict-Transport-Security on answers over HTTPS: a year.
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class MediaSettings(_Section):
    # Empty: the system's ffmpeg if on PATH, else the one inside the imageio-ffmpeg wheel.
    ffmpeg: str = ""
    segment_seconds: int = Field(default=4, ge=1, le=60)
    video_size: str = Field(default="1280x720", pattern=r"^\d{2,5}x\d{2,5}$")
    fps: int = Field(default=30, ge=1, le=120)
    video_bitrate: str = Field(default="2500k", pattern=r"^\d+[kM]?$")
    x264_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = (
        "veryfast"
    )
    # The classroom's devices: "synthetic", "v4l2:/dev/video0", "screen::0.0", or an IP
    # camera's "rtsp://…" / "udp://…" URL (recorded by stream copy); mic: "synthetic",
    # "silent" (a muted synthetic mic), "alsa:hw:1,0", "pulse:default" or "none".
    camera: str = Field(
        default="synthetic", pattern=r"^(synthetic|v4l2:/dev/\S+|screen:\S*|(rtsp|udp)://\S+)$"
    )
    mic: str = Field(default="synthetic", pattern=r"^(synthetic|silent|none|alsa:\S+|pulse:\S+)$")
    # A second video track, recorded beside the camera (its own encode, no audio): the lecturer's
    # screen ("screen::0.0"), an HDMI capture card ("v4l2:/dev/video2"), "synthetic" slides, or
    # empty for none. With ``composite``, the two are also put side by side after the session.
    screen: str = Field(default="", pattern=r"^(|synthetic|v4l2:/dev/\S+|screen:\S*)$")
    screen_size: str = Field(default="1920x1080", pattern=r"^\d{2,5}x\d{2,5}$")
    screen_fps: int = Field(default=15, ge=1, le=60)
    composite: bool = False
    # A segment must close within this many seconds of the previous one.
    segment_timeout_s: float = Field(default=15, gt=0)
    # A serial ID-card reader at the door ("/dev/ttyUSB0"), or empty for none; its taps are
    # checked in through the portal, queued on disk while the portal is unreachable.
    card_reader: str = Field(default="", pattern=r"^(|/dev/\S+)$")
    card_reader_baud: int = Field(default=9600, ge=1200, le=921600)
    # A camera at the door that checks people in by face, through the agent (a camera of its
    # own: the classroom camera is busy recording): "v4l2:/dev/video4", "rtsp://…", a video
    # "file:/path" (demonstrations), or empty for none. Works while the portal is unreachable.
    door_camera: str = Field(default="", pattern=r"^(|v4l2:/dev/\S+|rtsp://\S+|file:/\S+)$")
    # How an RTSP camera's stream is fetched: RTP interleaved in TCP, or RTP over UDP.
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    # A PTZ camera whose presets sessions may name: "visca://HOST[:PORT]",
    # "onvif://USER:PASSWORD@HOST[:PORT]", or empty for none.
    ptz: str = Field(
        default="",
        pattern=r"^(|visca://[A-Za-z0-9.-]+(:\d{1,5})?|onvif://[^@/\s]*@?[A-Za-z0-9.-]+(:\d{1,5})?)$",
    )


class AgentSettings(_Section):
    poll_wait_s: float = Field(default=20, ge=0, le=60)
    retry_backoff_max_s: float = Field(default=30, gt=0)
    # Sessions recorded on schedule start this early and stop this late (trainers start a
    # little early and overrun; a trimmed end is what officers complain about).
    preroll_s: float = Field(default=60, ge=0, le=3600)
    postroll_s: float = Field(default=120, ge=0, le=3600)
    # How often the schedule is fetched (and cached); between fetches, and while the portal is
    # unreachable, the cached copy rules.
    schedule_refresh_s: float = Field(default=30, ge=1, le=3600)
    heartbeat_s: float = Field(default=5, ge=1, le=300)
    preview_s: float = Field(default=5, ge=1, le=300)
    # "No audio" after this long below -50 dBFS peak while recording (a muted radio mic).
    silence_alert_s: float = Field(default=30, ge=1, le=3600)
    # An alert when the portal or the object store has not answered for this long.
    unreachable_alert_s: float = Field(default=60, ge=1, le=86400)
    # Below this much free space no new capture starts, and retention frees verified copies.
    min_free_mb: int = Field(default=2048, ge=0)
    # Local copies of recordings verified in the object store are kept this long.
    retention_days: float = Field(default=14, ge=0)
    # Upload bandwidth cap for everything the agent sends, in kbit/s; 0: none.
    upload_kbps: int = Field(default=0, ge=0)
    # Parts of one upload sent at once; 0: one per core, 3 to 8 (storage/multipart.py).
    upload_parts_in_flight: int = Field(default=0, ge=0, le=16)
    # How often the door camera's face gallery is fetched again (an ETag makes an unchanged one
    # cheap); a person deleted from face recognition leaves the agent within this time.
    gallery_sync_s: float = Field(default=300, ge=1, le=86400)
    # Prometheus /metrics on this port (127.0.0.1); 0: off.
    metrics_port: int = Field(default=0, ge=0, le=65535)


class KioskSettings(_Section):
    # A kiosk checks people into the session that starts within this many minutes (or runs).
    open_before_min: float = Field(default=30, ge=0, le=240)

    @property
    def open_before(self) -> timedelta:
        return timedelta(minutes=self.open_before_min)


class FacesSettings(_Section):
    # Cosine similarity a face must reach to be someone enrolled, and by how much it must beat
    # the next person (else: ask for the card); calibrated: classroom/faces/operating_point.py.
    match_threshold: float = Field(default=MATCH_THRESHOLD, gt=0, lt=1)
    match_margin: float = Field(default=MATCH_MARGIN, ge=0, lt=1)
    # Keep the enrolment photos (in the object store) as well as the embeddings. Off by default:
    # face images are sensitive personal data, and embeddings are all matching needs.
    keep_photos: bool = False


class IceServer(_Section):
    """A STUN or TURN server for viewers outside the classroom's network (RTCIceServer)."""

    urls: list[str] = Field(min_length=1)
    username: str = ""
    credential: str = ""

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return v


class LiveSettings(_Section):
    # Sessions are sent live while they record (WebRTC through the agent, HLS from the store).
    enabled: bool = True
    # On a LAN, host candidates are enough; viewers elsewhere need STUN, and TURN behind
    # symmetric NATs. Given to both the viewer's browser and the agent.
    ice_servers: list[IceServer] = Field(default_factory=list)
    # How long a viewer's offer waits for the classroom's agent to answer.
    answer_timeout_s: float = Field(default=15, gt=0, le=120)
    # A viewer whose WebRTC does not connect within this long plays HLS instead.
    webrtc_timeout_s: float = Field(default=8, gt=0, le=60)
    # WebRTC viewers one classroom's agent relays to at most; the rest play HLS from the store.
    # The relay shares the agent's process with capture and upload: on a 2-core PC each viewer
    # costs 0.009–0.016 of a core and the process saturates near 80 (docs/benchmarks.md), so
    # 40 leaves the recording its share. 0: every viewer plays HLS.
    webrtc_max_viewers: int = Field(default=40, ge=0, le=1000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("var")
    # One training plan per year: <plans_dir>/<year>.toml
    plans_dir: Path = Path("plans")
    log_format: Literal["auto", "json", "console"] = "auto"
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    web: WebSettings = WebSettings()
    media: MediaSettings = MediaSettings()
    agent: AgentSettings = AgentSettings()
    faces: FacesSettings = FacesSettings()
    kiosk: KioskSettings = KioskSettings()
    live: LiveSettings = LiveSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/classroom.db"


def _describe(loc: tuple[Any, ...]) -> str:
    dotted = ".".join(str(p) for p in loc)
    env = ENV_PREFIX + "__".join(str(p).upper() for p in loc)
    return f"{env} ({dotted})"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings or raise SettingsError naming the first bad one."""
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError(f"config file {config_file} does not exist")
        os.environ[CONFIG_ENV] = str(config_file)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SettingsError(f"invalid setting {_describe(err['loc'])}: {err['msg']}") from None
    except ValueError as exc:  # a malformed TOML file or a non-JSON nested env value
        raise SettingsError(f"invalid settings: {exc}".splitlines()[0]) from None
    return settings
