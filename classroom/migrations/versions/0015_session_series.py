"""recurring sessions: session_series, and each session's series and occurrence

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from classroom.db.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_series",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rrule", sa.String(500), nullable=False),
        sa.Column("first_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("exdates", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("occurrence", UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_sessions_series_id", "session_series", ["series_id"], ["id"])
        batch.create_index("ix_sessions_series_id", ["series_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_series_id")
        batch.drop_constraint("fk_sessions_series_id", type_="foreignkey")
        batch.drop_column("occurrence")
        batch.drop_column("series_id")
    op.drop_table("session_series")
