"""step 3: recording on schedule (auto_record, PTZ preset), pause and resume, agent status,
courseware

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD_KINDS = ("start_recording", "stop_recording")
_NEW_KINDS = (*_OLD_KINDS, "pause_recording", "resume_recording")


def _kind(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="command_kind", native_enum=False, create_constraint=True, length=32
    )


def _swap_kinds(old: tuple[str, ...], new: tuple[str, ...], unique: bool) -> None:
    # A recording now has many pause/resume commands: (recording, kind) is no longer unique;
    # start and stop stay one each by the code that writes them.
    with op.batch_alter_table("agent_commands", recreate="auto") as batch:
        if unique:
            batch.create_unique_constraint(
                "uq_agent_commands_recording_kind", ["recording_id", "kind"]
            )
        else:
            batch.drop_constraint("uq_agent_commands_recording_kind", type_="unique")
        batch.alter_column(
            "kind", existing_type=_kind(old), type_=_kind(new), existing_nullable=False
        )


def upgrade() -> None:
    # Plain ADD COLUMN: a batch rebuild of sessions or recordings fails under enforced foreign
    # keys once rows reference them.
    op.add_column(
        "sessions",
        sa.Column("auto_record", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("sessions", sa.Column("ptz_preset", sa.Integer(), nullable=True))
    op.add_column(
        "recordings", sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("recordings", sa.Column("tracks", sa.JSON(), server_default="{}", nullable=False))
    _swap_kinds(_OLD_KINDS, _NEW_KINDS, unique=False)
    op.add_column("devices", sa.Column("status", sa.JSON(), nullable=True))
    op.create_table(
        "courseware",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_key"),
    )
    op.create_index("ix_courseware_course_id", "courseware", ["course_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_courseware_course_id", table_name="courseware")
    op.drop_table("courseware")
    op.execute("DELETE FROM agent_commands WHERE kind IN ('pause_recording', 'resume_recording')")
    _swap_kinds(_NEW_KINDS, _OLD_KINDS, unique=True)
    # Plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL), not a batch rebuild, as in upgrade().
    for table, column in (
        ("devices", "status"),
        ("recordings", "paused"),
        ("recordings", "tracks"),
        ("sessions", "ptz_preset"),
        ("sessions", "auto_record"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
