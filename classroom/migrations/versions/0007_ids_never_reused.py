"""sessions and recordings: an id is never given twice (SQLite AUTOINCREMENT)

A session not yet held can now be cancelled, which deletes it and its pending recording. SQLite
gives a new row the largest id plus one, so the next session or recording would take the id of
one just deleted — and ids name things outside the database: the recording's objects
(``recordings/session-N/recording-M/``), its directory and markers on the agent, the calendar
event's UID. PostgreSQL's sequences never give an id twice; on SQLite the two tables are rebuilt
with AUTOINCREMENT (rows, indexes and foreign keys kept).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("sessions", "recordings")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
