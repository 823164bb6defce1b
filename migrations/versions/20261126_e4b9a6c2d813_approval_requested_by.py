"""approval requests: who asked

Whoever asked for an enforcement step or a write-off may not decide it (four eyes): the request
keeps who asked. Requests made before this change have none and anyone may decide them.

Revision ID: e4b9a6c2d813
Revises: d7c3e1f0a2b5
Create Date: 2026-11-26 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "e4b9a6c2d813"
down_revision: str | None = "d7c3e1f0a2b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "approval_request",
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("approval_request") as batch:
        batch.drop_column("requested_by")
