"""step 4: face enrolments (embeddings, consent), ID cards, two-factor classrooms

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("consent_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by_id", sa.Integer(), nullable=False),
        sa.Column("photo_keys", sa.JSON(), nullable=False),
        sa.Column("created_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enrolled_by_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id"),
    )
    op.create_table(
        "face_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(length=512), nullable=False),
        sa.ForeignKeyConstraint(["enrollment_id"], ["face_enrollments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_face_embeddings_enrollment_id", "face_embeddings", ["enrollment_id"], unique=False
    )
    op.create_table(
        "id_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_no", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", classroom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["registered_by_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("card_no"),
    )
    op.create_index("ix_id_cards_person_id", "id_cards", ["person_id"], unique=False)
    op.add_column(
        "classrooms",
        sa.Column("two_factor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE classrooms DROP COLUMN two_factor")
    op.drop_index("ix_id_cards_person_id", table_name="id_cards")
    op.drop_table("id_cards")
    op.drop_index("ix_face_embeddings_enrollment_id", table_name="face_embeddings")
    op.drop_table("face_embeddings")
    op.drop_table("face_enrollments")
