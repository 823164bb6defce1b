"""web app: queue order and claims, login attempts, district targets, user language

The officers' queue takes the next case by priority from the open, unclaimed cases (a partial
index holds only those); sign-in attempts are kept for throttling; district targets are the
dashboard's yardstick; each user reads the app in their language.

Revision ID: c1a55e7d0a61
Revises: 3b7f0c2a91d4
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c1a55e7d0a61"
down_revision: str | None = "3b7f0c2a91d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCLAIMED = "officer_id IS NULL AND closed_on IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(
            sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("priority", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index(
        "ix_case_unclaimed_queue",
        "case",
        ["priority", "id"],
        sqlite_where=sa.text(UNCLAIMED),
        postgresql_where=sa.text(UNCLAIMED),
    )
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column(
                "language",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="zh_CN",
            )
        )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempt_username", "login_attempt", ["username"])
    op.create_index("ix_login_attempt_client", "login_attempt", ["client"])
    op.create_index("ix_login_attempt_at", "login_attempt", ["at"])
    op.create_table(
        "district_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("recovery_fen", sa.BigInteger(), nullable=False),
        sa.Column("cases_closed", sa.Integer(), nullable=False),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("district", "year", "quarter"),
    )


def downgrade() -> None:
    op.drop_table("district_target")
    op.drop_index("ix_login_attempt_at", table_name="login_attempt")
    op.drop_index("ix_login_attempt_client", table_name="login_attempt")
    op.drop_index("ix_login_attempt_username", table_name="login_attempt")
    op.drop_table("login_attempt")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("language")
    op.drop_index("ix_case_unclaimed_queue", table_name="case")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("priority")
        batch.drop_column("claimed_at")
