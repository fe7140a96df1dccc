"""step 5: watch views and watch progress (credit for watched recordings)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_views",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_report_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_watch_views_watcher", "watch_views", ["recording_id", "person_id"], unique=False
    )
    op.create_table(
        "watch_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.Column("watched_s", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("credit_event_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["credit_event_id"], ["credit_events.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recording_id", "person_id"),
    )
    op.create_index("ix_watch_progress_person_id", "watch_progress", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_watch_progress_person_id", table_name="watch_progress")
    op.drop_table("watch_progress")
    op.drop_index("ix_watch_views_watcher", table_name="watch_views")
    op.drop_table("watch_views")
