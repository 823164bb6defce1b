"""enforcement track: statements, transfers, collateral and agreements, challenges, deferrals,
fines, court applications, write-off documents; bank inquiries from the bank's reply file

Revision ID: f2a8c4e6b1d9
Revises: e4b9a6c2d813
Create Date: 2026-11-26 13:33:34.794950
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f2a8c4e6b1d9"
down_revision: str | None = "e4b9a6c2d813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deferral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("approval_reference", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deferral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deferral_case_id"), ["case_id"], unique=False)

    op.create_table(
        "employer_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=True),
        sa.Column("reviewed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("review_outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("review_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("employer_statement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employer_statement_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "guarantee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("asset", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("appraised_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("registration_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("registered_with", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guarantee", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guarantee_case_id"), ["case_id"], unique=False)

    op.create_table(
        "legal_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("against", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_challenge_case_id"), ["case_id"], unique=False)

    op.create_table(
        "court_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("court", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("court_reference", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("window_closes_on", sa.Date(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("court_application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_court_application_case_id"), ["case_id"], unique=False)

    op.create_table(
        "fine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("arrears_fen", sa.BigInteger(), nullable=False),
        sa.Column("multiple_pct", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("proposed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fine_case_id"), ["case_id"], unique=False)

    op.create_table(
        "payment_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("guarantee_id", sa.Integer(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["guarantee_id"],
            ["guarantee.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_agreement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_agreement_case_id"), ["case_id"], unique=False)

    op.create_table(
        "transfer_execution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("bank_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("executed_on", sa.Date(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("transfer_execution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_execution_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "write_off_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("issued_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("write_off_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_write_off_document_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "instalment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["payment_agreement.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "seq"),
    )
    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instalment_agreement_id"), ["agreement_id"], unique=False
        )

    with op.batch_alter_table("bank_inquiry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="officer",
            )
        )
        batch_op.add_column(
            sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_bank_inquiry_reference", ["reference"])
        batch_op.create_foreign_key(
            "fk_bank_inquiry_import_id", "import_batch", ["import_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_inquiry", schema=None) as batch_op:
        batch_op.drop_constraint("fk_bank_inquiry_import_id", type_="foreignkey")
        batch_op.drop_constraint("uq_bank_inquiry_reference", type_="unique")
        batch_op.drop_column("import_id")
        batch_op.drop_column("reference")
        batch_op.drop_column("source")

    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instalment_agreement_id"))

    op.drop_table("instalment")
    with op.batch_alter_table("write_off_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_off_document_request_id"))

    op.drop_table("write_off_document")
    with op.batch_alter_table("transfer_execution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_execution_case_id"))

    op.drop_table("transfer_execution")
    with op.batch_alter_table("payment_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_agreement_case_id"))

    op.drop_table("payment_agreement")
    with op.batch_alter_table("fine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fine_case_id"))

    op.drop_table("fine")
    with op.batch_alter_table("court_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_court_application_case_id"))

    op.drop_table("court_application")
    with op.batch_alter_table("legal_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_challenge_case_id"))

    op.drop_table("legal_challenge")
    with op.batch_alter_table("guarantee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guarantee_case_id"))

    op.drop_table("guarantee")
    with op.batch_alter_table("employer_statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employer_statement_case_id"))

    op.drop_table("employer_statement")
    with op.batch_alter_table("deferral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deferral_case_id"))

    op.drop_table("deferral")
