"""The domain's tables. Step 1: people, places, sessions, devices and recordings."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import false, true

from classroom.db.types import UTCDateTime, utcnow
from classroom.protocol.messages import CommandKind as CommandKind
from classroom.protocol.messages import RecordingState as RecordingState


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK, so adding a value later is a light migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    TRAINER = "trainer"
    OFFICER = "officer"


class UnitKind(enum.StrEnum):
    DEPARTMENT = "department"  # 机关科室
    SQUAD = "squad"  # 中队


class SquadType(enum.StrEnum):
    MOBILE = "mobile"  # 机动
    SPECIFIC_AREA = "specific_area"  # 特定区域
    STREET = "street"  # 街镇


class DeviceKind(enum.StrEnum):
    AGENT = "agent"
    KIOSK = "kiosk"


class SessionKind(enum.StrEnum):
    """Maps to the plan's tasks (step 2 turns these into credit rules)."""

    TRAINING_DAY = "training_day"  # 全员普训, one cohort day
    PRACTICAL = "practical"  # 新录用人员实践培训
    UNIT_STUDY = "unit_study"  # 科队学习
    DRILL_TRAINING = "drill_training"  # 队列训练
    DRILL_ASSESSMENT = "drill_assessment"  # 队列考核
    OTHER = "other"


class CommandState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[UnitKind] = mapped_column(_enum(UnitKind, "unit_kind"))
    squad_type: Mapped[SquadType | None] = mapped_column(_enum(SquadType, "squad_type"))
    adjacent_district: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Units are deactivated, never deleted: history keeps its references.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    badge_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # None: cannot log in (most officers, until they are given a password).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # First day in service: an officer hired in the plan's year is a new recruit (实践训练).
    hired_on: Mapped[date | None] = mapped_column(Date)
    # 执法人员: counted in a squad's drill attendance shares.
    enforcement_staff: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    phone: Mapped[str | None] = mapped_column(String(32))  # for notices
    email: Mapped[str | None] = mapped_column(String(254))
    # Set by an administrator's password reset: the next login must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit | None] = relationship(lazy="joined")
    role_rows: Mapped[list[PersonRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    # 科队负责人: the units this person leads (classroom/scope.py says what that allows).
    lead_rows: Mapped[list[UnitLeader]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def led_unit_ids(self) -> frozenset[int]:
        return frozenset(r.unit_id for r in self.lead_rows)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


class PersonRole(Base):
    """A person may hold several roles: a trainer is usually also an officer who owes credits."""

    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), primary_key=True)


class UnitLeader(Base):
    """A unit leader (科队负责人) is a role scoped to units: one row per unit led. Given by
    managers and admins, never taken by the leader."""

    __tablename__ = "unit_leaders"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)


class LoginSession(Base):
    """A browser login; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship(lazy="joined")


class Classroom(Base):
    __tablename__ = "classrooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    # Kiosk check-in needs both the card and the face, and they must be the same person.
    two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())


class Device(Base):
    """An on-site agent or a kiosk. Its token is random, shown once, stored as SHA-256."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id"))
    kind: Mapped[DeviceKind] = mapped_column(_enum(DeviceKind, "device_kind"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An agent's last heartbeat as it sent it (state, disk, queues, audio level, alerts).
    status: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    classroom: Mapped[Classroom] = relationship(lazy="joined")


class Course(Base):
    """A course's audience and trainers are its own setting, kept by managers and admins: who
    may see it never follows from a session someone booked."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The plan's task its sessions serve, by their kind (the same task every year): its sessions
    # are of this kind. None: any.
    kind: Mapped[SessionKind | None] = mapped_column(_enum(SessionKind, "course_kind"))
    # The study-list items (Attachment 2) it covers: offered, ticked, on its sessions' pages.
    study_items: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")

    # No rows: open to the whole bureau; else to the officers of these units.
    audience_rows: Mapped[list[CourseAudience]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    # Who teaches it: they book its sessions and upload its courseware.
    trainer_rows: Mapped[list[CourseTrainer]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def audience_unit_ids(self) -> list[int]:
        return sorted(r.unit_id for r in self.audience_rows)

    @property
    def trainer_ids(self) -> list[int]:
        return sorted(r.person_id for r in self.trainer_rows)


class CourseAudience(Base):
    __tablename__ = "course_audience"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class CourseTrainer(Base):
    __tablename__ = "course_trainers"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)


class Courseware(Base):
    """A file of a course (slides, handouts, video), kept in the object store. Its kind comes
    from its content; the name it was uploaded with is kept only as a label."""

    __tablename__ = "courseware"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # pdf | pptx | docx | mp4 | jpeg | png
    content_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    object_key: Mapped[str] = mapped_column(String(512), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Session(Base):
    """One scheduled class or drill: in a classroom (recorded, checked in at its kiosk, booked
    one at a time), or at a place without one (parade ground, field, a visit), attended by
    roster."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_classroom_start", "classroom_id", "planned_start"),
        # Ids name objects, agent directories and calendar events: never given twice (0007).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id"))
    # Where a session without a classroom is held; "" for classroom sessions.
    place: Mapped[str] = mapped_column(String(200), default="", server_default="")
    trainer_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # The organising unit (unit study, drills); None for district-wide sessions.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", name="fk_sessions_unit_id_units")
    )
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind, "session_kind"))
    title: Mapped[str] = mapped_column(String(200))
    planned_start: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime] = mapped_column(UTCDateTime)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recorded on schedule by the classroom's agent (with its pre- and post-roll), even when the
    # portal is unreachable at the time.
    auto_record: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A camera preset (VISCA/ONVIF) recalled when the recording starts.
    ptz_preset: Mapped[int | None] = mapped_column()
    # One of a series (SessionSeries), and the start its rule gave it.
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("session_series.id", name="fk_sessions_series_id"), index=True
    )
    occurrence: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(lazy="joined")
    classroom: Mapped[Classroom | None] = relationship(lazy="joined")
    trainer: Mapped[Person] = relationship(lazy="joined")
    unit: Mapped[Unit | None] = relationship(lazy="joined")
    study_items: Mapped[list[SessionStudyItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SessionStudyItem.item_no"
    )

    @property
    def where(self) -> str:
        """The classroom's name, or the place: what the pages and the calendar show."""
        return self.classroom.name if self.classroom is not None else self.place


class SessionSeries(Base):
    """Recurring sessions: an RFC 5545 rule from a first start, the sessions' shared fields, and
    the dates taken out of it. Its sessions are ordinary sessions (``Session.series_id``)."""

    __tablename__ = "session_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    rrule: Mapped[str] = mapped_column(String(500))
    first_start: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column()
    # title, kind, course_id, classroom_id, trainer_id, unit_id, auto_record, ptz_preset
    template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates taken out
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SessionStudyItem(Base):
    """A study-list item (Attachment 2) a session covered; ``articles`` for items read by article
    (#15: 3–4 articles a month)."""

    __tablename__ = "session_study_items"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    item_no: Mapped[int] = mapped_column(primary_key=True)
    articles: Mapped[int] = mapped_column(default=0)


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = ({"sqlite_autoincrement": True},)  # its id is in its objects' keys (0007)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    state: Mapped[RecordingState] = mapped_column(_enum(RecordingState, "recording_state"))
    object_key: Mapped[str | None] = mapped_column(String(512))  # the playable MP4
    segment_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_s: Mapped[float | None] = mapped_column(Float)
    # The capture's wall time less its pauses, and how much of it the media lacks beyond a
    # segment's slack (classroom.media_time): a recording with something missing is not complete.
    expected_s: Mapped[float | None] = mapped_column(Float)
    missing_s: Mapped[float | None] = mapped_column(Float)
    # Where the capture stopped, how long, why: the agent's gaps, and one "unexplained" for what
    # they leave of missing_s ({"at_s", "start", "seconds", "reason"}; classroom.media_time).
    gaps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its HLS over the uploaded segments could be watched: at Stop, before the MP4 is
    # joined and uploaded (the agent's playable report).
    playable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Further tracks besides the camera's MP4: {"screen": {"object_key", "size_bytes",
    # "sha256"}, "composite": {...}}, each verified in the store like the main one.
    tracks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    session: Mapped[Session] = relationship(lazy="joined")

    @hybrid_property
    def playable(self) -> bool:
        """Its HLS can be watched: available, or being finished after its playlist was made."""
        return self.state == RecordingState.AVAILABLE or (
            self.state == RecordingState.PROCESSING and self.playable_at is not None
        )

    @playable.inplace.expression
    @classmethod
    def _playable(cls) -> ColumnElement[bool]:
        return or_(
            cls.state == RecordingState.AVAILABLE,
            and_(cls.state == RecordingState.PROCESSING, cls.playable_at.is_not(None)),
        )


class AgentCommand(Base):
    """A command for a classroom's agent; kept until acknowledged, so none is lost in transit."""

    __tablename__ = "agent_commands"
    __table_args__ = (Index("ix_agent_commands_pending", "classroom_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id"))
    kind: Mapped[CommandKind] = mapped_column(_enum(CommandKind, "command_kind"))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    state: Mapped[CommandState] = mapped_column(_enum(CommandState, "command_state"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class AttendanceSource(enum.StrEnum):
    TRAINER = "trainer"  # recorded by the trainer in the session page
    IMPORT = "import"
    KIOSK = "kiosk"  # step 4
    AGENT = "agent"  # step 4, offline queue


class Attendance(Base):
    """One check-in (and its check-out) of a person at a session: a ledger event."""

    __tablename__ = "attendance"
    __table_args__ = (Index("ix_attendance_person", "person_id", "check_in"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The event's own id (a kiosk's UUID, or one made here): the same event is stored once.
    event_uid: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    check_in: Mapped[datetime] = mapped_column(UTCDateTime)
    check_out: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[AttendanceSource] = mapped_column(_enum(AttendanceSource, "attendance_source"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditSourceKind(enum.StrEnum):
    ONLINE_IMPORT = "online_import"
    RECORDING_WATCH = "recording_watch"
    ADJUSTMENT = "adjustment"


class CreditEvent(Base):
    """Credit that arrives measured: an imported online course, a watched recording (step 5), or
    a manager's adjustment (with its reason)."""

    __tablename__ = "credit_events"
    __table_args__ = (Index("ix_credit_events_person", "person_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_uid: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    source: Mapped[CreditSourceKind] = mapped_column(_enum(CreditSourceKind, "credit_source"))
    on_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Float)
    credits: Mapped[float] = mapped_column(Float)
    part: Mapped[str | None] = mapped_column(String(32))  # adjustments name their part
    course: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    line_no: Mapped[int | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cohort(Base):
    """A cohort (期) of a multi-day task (the all-staff training): a run of days, numbered in its
    year, that officers are assigned to. The calendar (sessions) holds its days; the ledger says
    whether it was held and who has days to make up."""

    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("year", "task", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    task: Mapped[str] = mapped_column(String(64))  # the plan task's id, e.g. all_staff_training
    number: Mapped[int] = mapped_column()  # 第N期
    name: Mapped[str] = mapped_column(String(100), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive: weekends and holidays may lie between


class CohortMember(Base):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what, when, and why, for changes that touch someone's credit or data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class FaceEnrollment(Base):
    """A person's face enrolment: consent first, then embeddings (never photos, unless the
    deployment keeps them: their object keys are listed here). One per person."""

    __tablename__ = "face_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    model: Mapped[str] = mapped_column(String(64))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    photo_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    embeddings: Mapped[list[FaceEmbedding]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class FaceEmbedding(Base):
    __tablename__ = "face_embeddings"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("face_enrollments.id", ondelete="CASCADE"), index=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary(512))  # 128 float32, little-endian


class IdCard(Base):
    """An ID card registered to a person; a kiosk or the agent's reader checks in by its number."""

    __tablename__ = "id_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WatchView(Base):
    """One player (a page, a tab) watching a recording. A person's newest view supersedes their
    earlier ones on the same recording: two tabs at once count as one."""

    __tablename__ = "watch_views"
    __table_args__ = (Index("ix_watch_views_watcher", "recording_id", "person_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, the player's handle
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded: Mapped[bool] = mapped_column(default=False, server_default=false())


class WatchProgress(Base):
    """What a person has played of a recording: merged intervals of media time (seconds), so a
    stretch watched twice counts once; credited once the plan's share is reached."""

    __tablename__ = "watch_progress"
    __table_args__ = (UniqueConstraint("recording_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    intervals: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    # What the portal sent this person of the recording (media seconds, merged): only played
    # stretches within it count, so a script reporting progress without the video earns nothing.
    fetched: Mapped[list[list[float]]] = mapped_column(JSON, default=list, server_default="[]")
    watched_s: Mapped[float] = mapped_column(Float, default=0.0)
    # Optimistic lock: two reports at once (SQLite has no row locks) must not lose either.
    version: Mapped[int] = mapped_column(default=0)
    credit_event_id: Mapped[int | None] = mapped_column(ForeignKey("credit_events.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LiveQuestion(Base):
    """A viewer's question during a live session, and when its trainer marked it answered."""

    __tablename__ = "live_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(String(500))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class LoginFailure(Base):
    """Failed logins of one account (``user:NAME``) or one client address (``addr:IP``): the
    throttle's memory, in the database so that it holds across the portal's processes."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
