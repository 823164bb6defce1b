"""archives and retention: the record of archive exports and of purged cases, and triggers that
keep every row of a case's record until the case was closed ten years ago

Revision ID: b5e1c8d4f3a7
Revises: a9d3e5f7c2b1
Create Date: 2026-11-26 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b5e1c8d4f3a7"
down_revision: str | None = "a9d3e5f7c2b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables of a case's record and how a row names its case: a column of its own, or its
# parent's (an instalment through its agreement, a write-off document through its request).
# case_event keeps its own trigger (migration a9d3e5f7c2b1), which also refuses updates.
KEPT = (
    ("case", "id"),
    ("arrears_item", "case_id"),
    ("notice", "case_id"),
    ("officer_task", "case_id"),
    ("promise_to_pay", "case_id"),
    ("approval_request", "case_id"),
    ("write_off_document", "request"),
    ("bank_inquiry", "case_id"),
    ("employer_statement", "case_id"),
    ("transfer_execution", "case_id"),
    ("guarantee", "case_id"),
    ("payment_agreement", "case_id"),
    ("instalment", "agreement"),
    ("legal_challenge", "case_id"),
    ("deferral", "case_id"),
    ("fine", "case_id"),
    ("court_application", "case_id"),
    ("case_log_head", "case_id"),
)
APPEND_ONLY = ("archive_export", "purge_log")

# A row of a case's record is deleted only by the retention purge (which says so for its
# transaction) and only when the case was closed ten years ago or more.
PG_KEPT = """
CREATE OR REPLACE FUNCTION arrears_case_record_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF TG_ARGV[0] = 'agreement' THEN
            SELECT a.case_id INTO owner FROM payment_agreement a WHERE a.id = OLD.agreement_id;
        ELSIF TG_ARGV[0] = 'request' THEN
            SELECT r.case_id INTO owner FROM approval_request r WHERE r.id = OLD.request_id;
        ELSE
            owner := (to_jsonb(OLD) ->> TG_ARGV[0])::integer;
        END IF;
        IF current_setting('arrears.retention_purge', true) = 'on' AND EXISTS (
               SELECT 1 FROM "case" c
               WHERE c.id = owner AND c.closed_on IS NOT NULL
                 AND c.closed_on <= (current_date - interval '10 years')::date
           ) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'a case''s record is kept ten years after the case closed: % on % refused',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'cases closed ten years ago or more are removed by "arrears purge"';
END
$$
"""

PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION arrears_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _sqlite_owner(how: str) -> str:
    if how == "agreement":
        return "(SELECT a.case_id FROM payment_agreement a WHERE a.id = OLD.agreement_id)"
    if how == "request":
        return "(SELECT r.case_id FROM approval_request r WHERE r.id = OLD.request_id)"
    return f"OLD.{how}"


def _sqlite_kept(name: str, how: str) -> str:
    return f"""CREATE TRIGGER {name}_kept BEFORE DELETE ON "{name}"
    WHEN NOT EXISTS (
        SELECT 1 FROM "case" c WHERE c.id = {_sqlite_owner(how)} AND c.closed_on IS NOT NULL
        AND c.closed_on <= date('now', '-10 years')
    )
    BEGIN SELECT RAISE(ABORT,
        'a case''s record is kept ten years after the case closed: DELETE on {name} refused');
    END"""


def upgrade() -> None:
    op.create_table(
        "archive_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("manifest_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("retention_until", sa.Date(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_archive_export_year", "archive_export", ["year"])
    op.create_table(
        "purge_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("employer_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("employer_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("archived_years", sa.JSON(), nullable=False),
        sa.Column("closed_before", sa.Date(), nullable=False),
        sa.Column("purged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("purged_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_purge_log_case_id", "purge_log", ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_KEPT)
        op.execute(PG_APPEND_ONLY)
        for name, how in KEPT:
            op.execute(
                f'CREATE TRIGGER {name}_kept BEFORE DELETE ON "{name}" '
                f"FOR EACH ROW EXECUTE FUNCTION arrears_case_record_kept('{how}')"
            )
            op.execute(
                f'CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON "{name}" '
                f"FOR EACH STATEMENT EXECUTE FUNCTION arrears_case_record_kept('{how}')"
            )
        for name in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                "FOR EACH ROW EXECUTE FUNCTION arrears_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
                "FOR EACH STATEMENT EXECUTE FUNCTION arrears_append_only()"
            )
    else:
        for name, how in KEPT:
            op.execute(_sqlite_kept(name, how))
        for name in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {name}_no_{verb.lower()} BEFORE {verb} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, '{name} is append-only: {verb} refused'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _how in KEPT:
            op.execute(f'DROP TRIGGER IF EXISTS {name}_kept ON "{name}"')
            op.execute(f'DROP TRIGGER IF EXISTS {name}_no_truncate ON "{name}"')
        for name in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}")
        op.execute("DROP FUNCTION IF EXISTS arrears_case_record_kept()")
        op.execute("DROP FUNCTION IF EXISTS arrears_append_only()")
    else:
        for name, _how in KEPT:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_kept")
        for name in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_delete")
    op.drop_index("ix_purge_log_case_id", table_name="purge_log")
    op.drop_table("purge_log")
    op.drop_index("ix_archive_export_year", table_name="archive_export")
    op.drop_table("archive_export")
