"""The messages the agent and the portal exchange, typed once for both sides: the portal
validates what it receives with them, the agent builds what it sends with them and reads what it
is answered with them. Where each report goes: ``ack_path``, ``recording_path``,
``CHECKIN_PATH``.

Bounds are the portal's: an id or a size past the databases' integer is refused at the edge (a
422 naming the field), never a driver's overflow."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from streaming.gaps import Gap, GapReason

# The databases' integer (PostgreSQL's BIGINT, SQLite's INTEGER) ends here.
DB_INT_MAX = 2**63 - 1
Id = Annotated[int, Ge(1), Le(DB_INT_MAX)]
Count = Annotated[int, Ge(0), Le(DB_INT_MAX)]
SHA256 = r"^[0-9a-f]{64}$"
OBJECT_KEY = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommandKind(enum.StrEnum):
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    PAUSE_RECORDING = "pause_recording"
    RESUME_RECORDING = "resume_recording"


class RecordingState(enum.StrEnum):
    PENDING = "pending"  # asked for; the agent has not confirmed
    RECORDING = "recording"
    PROCESSING = "processing"  # stopped; joining and uploading
    AVAILABLE = "available"  # verified in object storage
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (RecordingState.PENDING, RecordingState.RECORDING)


class ScheduleEntry(BaseModel):
    """A session this classroom records on schedule, with its recording: what the agent caches
    and decides on while the portal is out of reach."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    session_id: Id
    title: str
    start: datetime
    end: datetime
    recording_id: Id
    object_prefix: str
    state: RecordingState
    paused: bool
    ptz_preset: int | None = None


class Alert(BaseModel):
    code: str = Field(max_length=40)
    message: str = Field(max_length=500)
    since: str = Field(max_length=40)


class Fault(BaseModel):
    at: str = Field(max_length=40)
    message: str = Field(max_length=500)
    log_tail: list[str] = Field(default_factory=list, max_length=50)


class UploadProgress(BaseModel):
    key: str = Field(max_length=1024)
    bytes: Count
    bytes_sent: Count
    parts_done: Count
    parts_total: Id  # at least one


class DoorCamera(BaseModel):
    model_config = ConfigDict(extra="ignore")

    gallery_people: Count
    gallery_version: str | None = Field(default=None, max_length=64)
    checked_in: Count


class Heartbeat(BaseModel):
    """An agent's status every few seconds; unknown fields from newer agents are ignored."""

    model_config = ConfigDict(extra="ignore")

    at: AwareDatetime
    state: Literal["idle", "recording", "uploading", "offline-queueing", "fault"]
    recordings: list[Id] = Field(default_factory=list, max_length=100)
    devices: dict[str, str | bool | None] = Field(default_factory=dict, max_length=20)
    door_camera: DoorCamera | None = None
    disk_free_bytes: Count
    disk_min_free_bytes: Count
    uploads_pending: Count
    uploads: list[UploadProgress] = Field(default_factory=list, max_length=20)
    oldest_upload_age_s: float | None = None
    reports_pending: Count
    oldest_report_age_s: float | None = None
    audio_rms_dbfs: float | None = None
    audio_peak_dbfs: float | None = None
    last_segment_at: AwareDatetime | None = None
    portal_reachable: bool | None = None
    store_reachable: bool | None = None
    store_since: str | None = Field(default=None, max_length=40)
    alerts: list[Alert] = Field(default_factory=list, max_length=50)
    faults: list[Fault] = Field(default_factory=list, max_length=20)
    # The WHEP resources the agent still serves (None from agents without live).
    live_viewers: list[str] | None = Field(default=None, max_length=10_000)


class GalleryPerson(BaseModel):
    id: int
    name: str
    embeddings: list[str]  # base64 of 128 little-endian float32, unit length


class Gallery(BaseModel):
    """The faces the door camera may recognise: embeddings, never photos. ``version`` is the
    portal's ETag for it; the agent keeps its last copy to check people in while offline."""

    version: str
    threshold: float
    margin: float
    people: list[GalleryPerson]


class Hello(Strict):
    classroom_id: Id


class RecordingRef(BaseModel):
    recording_id: Id
    session_id: Id
    object_prefix: str


class HelloAnswer(BaseModel):
    """Who the agent is, and what the portal believes of its classroom's recordings."""

    id: int
    name: str
    kind: str
    classroom_id: Id
    revoked_at: datetime | None
    # Running here as far as the portal knows: a restarted agent resumes them.
    active_recordings: list[RecordingRef]
    # Stopped here but not yet uploaded: a restarted agent finishes them.
    finishing_recordings: list[RecordingRef]


class Command(BaseModel):
    id: int
    kind: CommandKind
    recording_id: Id
    session_id: Id
    object_prefix: str
    ptz_preset: int | None = None  # the session's camera preset, recalled at start


class Ack(Strict):
    ok: bool
    error: str | None = Field(default=None, max_length=4000)


class AgentEvent(Strict):
    """What the agent did on its own clock (on schedule); sent late if the portal was down."""

    at: AwareDatetime


class Track(Strict):
    """An object in the store, as the agent verified it: the portal stats it again."""

    object_key: str = Field(pattern=OBJECT_KEY)
    size_bytes: Count
    sha256: str = Field(pattern=SHA256)


class GapReport(Strict):
    """Where the capture stopped and why, as the agent saw it (streaming.gaps)."""

    at_s: float = Field(ge=0)
    start: AwareDatetime
    seconds: float | None = Field(default=None, ge=0)  # None: until the recording's stop
    reason: Literal[
        GapReason.AGENT_DOWN,
        GapReason.CAPTURE_FAILED,
        GapReason.DISK_FULL,
        GapReason.SEGMENT_REJECTED,
    ]

    @classmethod
    def of(cls, gap: Gap) -> GapReport:
        return cls.model_validate(gap.json())

    def gap(self) -> Gap:
        return Gap(self.at_s, self.start, self.seconds, GapReason(self.reason))


PlaylistName = Literal["hls", "screen_hls"]
TrackName = Literal["screen", "composite", "hls", "screen_hls", "chapters"]


class Playable(Strict):
    """At Stop: the segments are in the store and the HLS playlists over them; the MP4 follows."""

    segment_keys: list[str] = Field(default_factory=list, max_length=100_000)
    duration_s: float = Field(ge=0)
    tracks: dict[PlaylistName, Track]
    gaps: list[GapReport] = Field(default_factory=list, max_length=10_000)


class Uploaded(Strict):
    """All of it in the store: the camera's MP4, and besides it the screen's and the
    side-by-side MP4s, the HLS playlists over the segments, and the chapters (chapters.json)."""

    object_key: str = Field(pattern=OBJECT_KEY)
    segment_keys: list[str] = Field(default_factory=list, max_length=100_000)
    duration_s: float = Field(ge=0)
    size_bytes: Count
    sha256: str = Field(pattern=SHA256)
    tracks: dict[TrackName, Track] = Field(default_factory=dict)
    gaps: list[GapReport] = Field(default_factory=list, max_length=10_000)


class Checkin(Strict):
    """A card tapped at the agent's reader, or a face its door camera recognised (and saw turn),
    possibly long ago (queued while offline). The event id makes a second delivery a no-op."""

    event_uid: uuid.UUID
    method: Literal["card", "face"] = "card"
    card_no: str | None = Field(default=None, min_length=1, max_length=64)
    person_id: Id | None = None
    score: float | None = Field(default=None, ge=-1, le=1)
    at: AwareDatetime

    @model_validator(mode="after")
    def _one_kind(self) -> Checkin:
        if self.method == "card" and (self.card_no is None or self.person_id is not None):
            raise ValueError("a card check-in carries card_no, and no person_id")
        if self.method == "face" and (self.person_id is None or self.card_no is not None):
            raise ValueError("a face check-in carries person_id, and no card_no")
        return self


class Failure(Strict):
    error: str = Field(min_length=1, max_length=4000)


# Where each report goes, under the portal's /api/v1.
RecordingReport = Literal["started", "stopped", "playable", "upload", "failure"]
CHECKIN_PATH = "/agent/checkin"


def ack_path(command_id: int) -> str:
    return f"/agent/commands/{command_id}/ack"


def recording_path(recording_id: int, report: RecordingReport) -> str:
    return f"/agent/recordings/{recording_id}/{report}"
