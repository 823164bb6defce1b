"""tamper-evident escalation log: each case's events chained by hash, the chains' heads, the
seals of exported heads, and triggers that keep the log append-only

Revision ID: a9d3e5f7c2b1
Revises: f2a8c4e6b1d9
Create Date: 2026-11-26 16:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from cases import eventlog

revision: str = "a9d3e5f7c2b1"
down_revision: str | None = "f2a8c4e6b1d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A row of the log is deleted only by the retention purge, and only for a case closed ten years
# ago or more; nothing updates one. PostgreSQL also wants the purge to say so for its transaction.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION arrears_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'case_event'
       AND current_setting('arrears.retention_purge', true) = 'on'
       AND EXISTS (
           SELECT 1 FROM "case" c
           WHERE c.id = OLD.case_id AND c.closed_on IS NOT NULL
             AND c.closed_on <= (current_date - interval '10 years')::date
       ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the escalation log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'cases closed ten years ago or more are removed by "arrears purge"';
END
$$
"""

SQLITE_TRIGGERS = (
    """CREATE TRIGGER case_event_no_update BEFORE UPDATE ON case_event
    BEGIN SELECT RAISE(ABORT, 'the escalation log is append-only: UPDATE on case_event refused');
    END""",
    """CREATE TRIGGER case_event_no_delete BEFORE DELETE ON case_event
    WHEN NOT EXISTS (
        SELECT 1 FROM "case" c WHERE c.id = OLD.case_id AND c.closed_on IS NOT NULL
        AND c.closed_on <= date('now', '-10 years')
    )
    BEGIN SELECT RAISE(ABORT, 'the escalation log is append-only: DELETE on case_event refused');
    END""",
    """CREATE TRIGGER log_seal_no_update BEFORE UPDATE ON log_seal
    BEGIN SELECT RAISE(ABORT, 'the escalation log is append-only: UPDATE on log_seal refused');
    END""",
    """CREATE TRIGGER log_seal_no_delete BEFORE DELETE ON log_seal
    BEGIN SELECT RAISE(ABORT, 'the escalation log is append-only: DELETE on log_seal refused');
    END""",
)


def _backfill() -> None:
    """Chain the events already written, per case in the order they were written."""
    bind = op.get_bind()
    events = sa.table(
        "case_event",
        sa.column("id", sa.Integer()),
        sa.column("case_id", sa.Integer()),
        sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("on_date", sa.Date()),
        sa.column("kind", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("message", sa.String()),
        sa.column("step", sa.String()),
        sa.column("policy_version", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    heads_table = sa.table(
        "case_log_head", sa.column("case_id"), sa.column("seq"), sa.column("hash")
    )
    rows = bind.execute(sa.select(events).order_by(events.c.case_id, events.c.id)).mappings()
    links: list[dict[str, object]] = []
    heads: dict[int, tuple[int, str]] = {}
    for row in rows:
        seq, prev = heads.get(row["case_id"], (0, eventlog.GENESIS))
        fields = dict(row) | {"seq": seq + 1}
        value = eventlog.link(prev, fields)
        heads[row["case_id"]] = (seq + 1, value)
        links.append({"event_id": row["id"], "s": seq + 1, "p": prev, "h": value})
    if links:
        bind.execute(
            sa.update(events)
            .where(events.c.id == sa.bindparam("event_id"))
            .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            links,
        )
    if heads:
        bind.execute(
            sa.insert(heads_table),
            [{"case_id": c, "seq": s, "hash": h} for c, (s, h) in heads.items()],
        )


def upgrade() -> None:
    op.create_table(
        "case_log_head",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sealed_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "log_seal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("chains", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("prev_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_log_seal_day", "log_seal", ["day"])
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _backfill()
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column(
            "prev_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        )
        batch_op.alter_column(
            "hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        )
        batch_op.create_unique_constraint("uq_case_event_chain", ["case_id", "seq"])
        batch_op.drop_index("ix_case_event_case_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for name in ("case_event", "log_seal"):
            op.execute(
                f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                "FOR EACH ROW EXECUTE FUNCTION arrears_log_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
                "FOR EACH STATEMENT EXECUTE FUNCTION arrears_log_append_only()"
            )
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("case_event", "log_seal"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}")
        op.execute("DROP FUNCTION IF EXISTS arrears_log_append_only()")
    else:
        for name in (
            "case_event_no_update",
            "case_event_no_delete",
            "log_seal_no_update",
            "log_seal_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index("ix_case_event_case_id", ["case_id"], unique=False)
        batch_op.drop_constraint("uq_case_event_chain", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_index("ix_log_seal_day", table_name="log_seal")
    op.drop_table("log_seal")
    op.drop_table("case_log_head")
