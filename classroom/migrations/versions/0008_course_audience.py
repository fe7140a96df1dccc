"""courses: their audience (units) and trainers, set by managers and admins

Who may see a course came from its sessions (a bureau-wide session opened it to everyone), and any
trainer could book a session of any course: so any trainer could widen a course's audience. Now a
course names its audience units (none: the whole bureau) and its trainers. Existing courses keep
who could see them: a course with only unit sessions is open to those units, any other to all;
its trainers are those who taught its sessions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_audience",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("course_id", "unit_id"),
    )
    op.create_table(
        "course_trainers",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("course_id", "person_id"),
    )
    op.create_index("ix_course_trainers_person_id", "course_trainers", ["person_id"])
    op.execute(
        """
        INSERT INTO course_audience (course_id, unit_id)
        SELECT DISTINCT s.course_id, s.unit_id FROM sessions s
        WHERE s.unit_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM sessions o WHERE o.course_id = s.course_id AND o.unit_id IS NULL)
        """
    )
    op.execute(
        "INSERT INTO course_trainers (course_id, person_id) "
        "SELECT DISTINCT course_id, trainer_id FROM sessions"
    )


def downgrade() -> None:
    op.drop_index("ix_course_trainers_person_id", table_name="course_trainers")
    op.drop_table("course_trainers")
    op.drop_table("course_audience")
