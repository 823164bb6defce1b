"""the log's chain heads follow each inserted event by trigger, in the database

Revision ID: c7f2a9e4d6b8
Revises: b5e1c8d4f3a7
Create Date: 2026-11-26 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c7f2a9e4d6b8"
down_revision: str | None = "b5e1c8d4f3a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The writer has locked the head (cases.eventlog); the event row carries the new position and
# hash. Moving the head in the same statement spares the writer a round trip per write.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION arrears_log_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_log_head SET seq = NEW.seq, hash = NEW.hash
    WHERE case_id = NEW.case_id AND seq < NEW.seq;
    RETURN NULL;
END
$$
"""
SQLITE_TRIGGER = """CREATE TRIGGER case_event_head_follows AFTER INSERT ON case_event
BEGIN
    UPDATE case_log_head SET seq = NEW.seq, hash = NEW.hash
    WHERE case_id = NEW.case_id AND seq < NEW.seq;
END"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER case_event_head_follows AFTER INSERT ON case_event "
            "FOR EACH ROW EXECUTE FUNCTION arrears_log_head_follows()"
        )
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_event_head_follows ON case_event")
        op.execute("DROP FUNCTION IF EXISTS arrears_log_head_follows()")
    else:
        op.execute("DROP TRIGGER IF EXISTS case_event_head_follows")
