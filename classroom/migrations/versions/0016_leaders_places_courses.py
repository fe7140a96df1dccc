"""unit leaders (科队负责人, scoped to units); sessions at a place without a classroom; a
course's task (the kind of its sessions) and study items

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_KIND = sa.Enum(
    "training_day",
    "practical",
    "unit_study",
    "drill_training",
    "drill_assessment",
    "other",
    name="course_kind",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade() -> None:
    op.create_table(
        "unit_leaders",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("person_id", "unit_id"),
    )
    op.create_index("ix_unit_leaders_unit_id", "unit_leaders", ["unit_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("place", sa.String(200), nullable=False, server_default=""))
        batch.alter_column("classroom_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("kind", _KIND, nullable=True))
        batch.add_column(sa.Column("study_items", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.drop_constraint("course_kind", type_="check")
        batch.drop_column("study_items")
        batch.drop_column("kind")
    # Sessions at a place have no classroom to go back to: they stop the downgrade (on purpose;
    # nothing is deleted to make it pass).
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("classroom_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("place")
    op.drop_index("ix_unit_leaders_unit_id", table_name="unit_leaders")
    op.drop_table("unit_leaders")
