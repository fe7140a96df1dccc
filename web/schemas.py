"""The JSON API's request and response models."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field, model_validator
from pydantic_core import PydanticCustomError

from classroom.db.models import (
    Person,
    RecordingState,
    Role,
    SessionKind,
)
from classroom.protocol.messages import Count as Count
from classroom.protocol.messages import Heartbeat as Heartbeat
from classroom.protocol.messages import Id as Id
from classroom.protocol.messages import Strict as Strict
from streaming.gaps import GapReason

PlanYear = Annotated[int, Ge(2000), Le(2100)]
# Lists come a page at a time, newest first: a bureau holds thousands of sessions a year.
Limit = Annotated[int, Ge(1), Le(500)]
PageNo = Annotated[int, Ge(1), Le(100_000)]
PAGE_SIZE = 50  # rows on a page of the portal


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PersonOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[Role]
    unit: str | None

    @classmethod
    def of(cls, p: Person) -> PersonOut:
        return cls(
            id=p.id,
            username=p.username,
            display_name=p.display_name,
            roles=sorted(p.roles),
            unit=p.unit.name if p.unit else None,
        )


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    kind: SessionKind
    course_id: Id
    classroom_id: Id | None
    place: str
    trainer_id: Id
    unit_id: Id | None
    series_id: Id | None
    planned_start: datetime
    planned_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    auto_record: bool
    ptz_preset: int | None


class SessionIn(Strict):
    """A session to hold (and, with ``auto_record``, to record on schedule): in a classroom, or
    at a ``place`` without one (a parade ground, the field), which nothing records and which
    never clashes with another booking."""

    title: str = Field(min_length=1, max_length=200)
    kind: SessionKind
    course_id: Id
    classroom_id: Id | None = None
    place: str = Field(default="", max_length=200)
    trainer_id: Id | None = None  # default: the person creating it, if a trainer
    unit_id: Id | None = None
    planned_start: AwareDatetime
    planned_end: AwareDatetime
    auto_record: bool = False
    ptz_preset: int | None = Field(default=None, ge=0, le=127)  # VISCA presets: 0–127

    @model_validator(mode="after")
    def _fits(self) -> SessionIn:
        if self.planned_end <= self.planned_start:
            raise PydanticCustomError("end_before_start", "planned_end must be after planned_start")
        if self.planned_end - self.planned_start > timedelta(hours=24):
            raise PydanticCustomError("session_too_long", "a session lasts at most 24 hours")
        self.place = self.place.strip()
        if (self.classroom_id is None) == (not self.place):
            raise PydanticCustomError(
                "room_or_place", "a session is held in a classroom or at a place: give one of them"
            )
        if self.classroom_id is None and (self.auto_record or self.ptz_preset is not None):
            raise PydanticCustomError(
                "record_needs_room", "only a classroom's session is recorded or turns a camera"
            )
        return self


class ExtendIn(Strict):
    minutes: int = Field(ge=1, le=240)


class AgentStatusOut(BaseModel):
    device_id: Id
    name: str
    last_seen_at: datetime | None
    online: bool
    status: Heartbeat | None


class ClassroomStatusOut(BaseModel):
    id: int
    name: str
    location: str
    agents: list[AgentStatusOut]
    preview_at: datetime | None


class GapOut(BaseModel):
    """A stretch of the session missing from the recording: where in it (``at_s``, None when
    unknown), from when, how long, and why (``unexplained``: nothing the agent reported)."""

    at_s: float | None
    start: datetime | None
    seconds: float
    reason: GapReason


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: Id
    state: RecordingState
    paused: bool
    tracks: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None
    # The capture's wall time less pauses, and what the media lacks of it (0: nothing missing).
    expected_s: float | None = None
    missing_s: float | None = None
    gaps: list[GapOut] = Field(default_factory=list)
    size_bytes: int | None
    sha256: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    available_at: datetime | None
    # Its HLS can be watched: available, or at Stop while the MP4 is still being made.
    playable: bool = False
    playable_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complete(self) -> bool | None:
        """Available with nothing missing; None while it is not available."""
        if self.state != RecordingState.AVAILABLE:
            return None
        return not self.missing_s


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    classroom_id: Id
    revoked_at: datetime | None
