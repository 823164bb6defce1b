"""case review dates

Each open case carries the night it is next decided, so a night decides only the cases that can
move. Existing cases start with none, which means "decide at the next run".

Revision ID: 3b7f0c2a91d4
Revises: e8e1a54754a1
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7f0c2a91d4"
down_revision: str | None = "e8e1a54754a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("next_review_on", sa.Date(), nullable=True))
        batch.create_index("ix_case_next_review_on", ["next_review_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_next_review_on")
        batch.drop_column("next_review_on")
