"""organisation: units nest and are deactivated; people's contacts and a forced password change

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_foreign_key("fk_units_parent_id", "units", ["parent_id"], ["id"])
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("must_change_password")
        batch.drop_column("email")
        batch.drop_column("phone")
    with op.batch_alter_table("units") as batch:
        batch.drop_constraint("fk_units_parent_id", type_="foreignkey")
        batch.drop_column("active")
        batch.drop_column("parent_id")
