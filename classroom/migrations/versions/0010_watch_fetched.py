"""watch_progress.fetched: what the portal sent each viewer of a recording (media seconds)

Watch credit counts only played stretches whose media the viewer's login fetched; progress kept
before this counts as it was.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watch_progress") as batch:
        batch.add_column(sa.Column("fetched", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("watch_progress") as batch:
        batch.drop_column("fetched")
