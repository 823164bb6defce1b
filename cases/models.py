"""The case store: SQLModel tables.

Money columns hold integer fen (``*_fen``) so that SQLite, which has no exact decimal type, never
rounds an amount through a float. Dates the law counts in (due dates, service, deadlines) are plain
``date`` in the agency's local calendar; instants (when a row was written) are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Employer(SQLModel, table=True):
    __tablename__ = "employer"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=18, unique=True, description="unified social credit code (USCC)")
    name: str
    district: str = Field(index=True)
    contact_name: str | None = None
    mobile: str | None = Field(default=None, description="E.164, e.g. +8613812345678")
    address: str | None = None
    sms_opted_out: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Case(SQLModel, table=True):
    """One collection episode for one employer, from first arrears to settlement or write-off."""

    __tablename__ = "case"
    __table_args__ = (
        # At most one open (not closed) case per employer; closed ones stay as history.
        # "Take next case": the open, unclaimed cases in queue order, nothing else.
        Index(
            "ix_case_unclaimed_queue",
            "priority",
            "id",
            sqlite_where=text("officer_id IS NULL AND closed_on IS NULL"),
            postgresql_where=text("officer_id IS NULL AND closed_on IS NULL"),
        ),
        # ... and those of one district, for an officer taking the next case of theirs.
        Index(
            "ix_case_unclaimed_district",
            "district",
            "priority",
            "id",
            sqlite_where=text("officer_id IS NULL AND closed_on IS NULL"),
            postgresql_where=text("officer_id IS NULL AND closed_on IS NULL"),
        ),
        Index(
            "uq_case_open_per_employer",
            "employer_id",
            unique=True,
            sqlite_where=text("closed_on IS NULL"),
            postgresql_where=text("closed_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    employer_id: int = Field(foreign_key="employer.id", index=True)
    status: str = Field(default="open", index=True)
    stage: int = Field(default=0, description="highest ladder level taken; 0 before the first step")
    stage_step: str | None = None
    opened_on: date
    closed_on: date | None = None
    first_overdue_on: date
    policy_name: str
    policy_version: str
    officer_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    # The employer's district, copied by database triggers (migration d7c3e1f0a2b5) on insert and
    # when the employer moves: never written by the code, read by the queue.
    district: str | None = Field(default=None)
    claimed_at: datetime | None = Field(default=None, description="when its officer took it")
    # The officers' queue order, highest first, then the newest id (cases.worklist keeps it):
    # tier (tasks due, legal deadlines about to lapse) x 10^18 + fen owed (capped) x 10^5
    # + days overdue (capped), so one ascending index serves "take next" read backwards.
    priority: int = Field(default=0, sa_type=BigInteger)
    uncooperative: bool = False
    malicious: bool = False
    # The night the case is next decided; None: at the next run (new, or a fact changed since).
    next_review_on: date | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ArrearsItem(SQLModel, table=True):
    __tablename__ = "arrears_item"
    __table_args__ = (UniqueConstraint("employer_id", "period", "insurance"),)

    id: int | None = Field(default=None, primary_key=True)
    employer_id: int = Field(foreign_key="employer.id", index=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    period: str = Field(max_length=7)
    insurance: str
    kind: str
    amount_due_fen: int = Field(sa_type=BigInteger)
    due_date: date
    # Cached from the last allocation replay so lists can sort without recomputing.
    principal_paid_fen: int = Field(default=0, sa_type=BigInteger)
    fee_paid_fen: int = Field(default=0, sa_type=BigInteger)
    settled_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CaseEvent(SQLModel, table=True):
    """Append-only log of everything that happened to a case, and why."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    at: datetime = Field(default_factory=utcnow)
    on_date: date = Field(description="the agency-local business date the event belongs to")
    kind: str = Field(index=True)
    actor: str = Field(description="user name, or 'system:<component>'")
    message: str
    step: str | None = None
    policy_version: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The case's hash chain (cases.eventlog): filled in when the event is written.
    seq: int | None = Field(
        default=None, nullable=False, description="position in the case's chain, from 1"
    )
    prev_hash: str | None = Field(default=None, nullable=False, max_length=64)
    hash: str | None = Field(default=None, nullable=False, max_length=64)

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_event_chain"),)


class CaseLogHead(SQLModel, table=True):
    """The last link of each case's event chain; writers of a chain queue on its row."""

    __tablename__ = "case_log_head"

    case_id: int = Field(primary_key=True, foreign_key="case.id")
    seq: int = Field(description="the chain's length")
    hash: str = Field(max_length=64)
    sealed_seq: int = Field(default=0, description="the length last written to a day's heads file")


class LogSeal(SQLModel, table=True):
    """One export of the chains' heads (cases.logseal): what it covered and its digest."""

    __tablename__ = "log_seal"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True, description="the business day the heads were taken for")
    at: datetime = Field(default_factory=utcnow)
    chains: int = Field(description="chains that grew since the seal before")
    events: int = Field(description="events those chains gained")
    prev_digest: str = Field(max_length=64)
    digest: str = Field(max_length=64, unique=True)
    file_name: str


class ArchiveExport(SQLModel, table=True):
    """One year's archive bundle written (cases.archive): what it holds and its manifest's digest.

    Append-only (database triggers); the retention purge reads it to know which years are archived.
    """

    __tablename__ = "archive_export"

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    file_name: str
    manifest_sha256: str = Field(max_length=64)
    files: int
    cases: int
    events: int
    retention_until: date
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str


class PurgeLog(SQLModel, table=True):
    """One case removed by the retention purge (cases.retention): who it was, what went, when.

    Append-only (database triggers): the record that a case's chain ended on purpose.
    """

    __tablename__ = "purge_log"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True, description="the removed case's number (no longer a row)")
    employer_code: str
    employer_name: str
    district: str
    status: str
    opened_on: date
    closed_on: date
    chain_seq: int = Field(description="the length of the case's event chain when removed")
    chain_hash: str = Field(max_length=64, description="the hash at the chain's last position")
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    documents: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    archived_years: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    closed_before: date = Field(description="the cut-off the purge was run with")
    purged_at: datetime = Field(default_factory=utcnow)
    purged_by: str


class Notice(SQLModel, table=True):
    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    business_key: str = Field(unique=True, description="case:step:channel[:document]:as_of")
    step: str
    level: int
    channel: str
    document_type: str | None = Field(
        default=None, description="for letters: the template's name, e.g. order_to_pay"
    )
    status: str = Field(default="planned", index=True)
    document_number: str | None = Field(default=None, unique=True)
    issued_on: date
    served_on: date | None = None
    service_method: str | None = None
    receipt_number: str | None = None
    deadline_on: date | None = None
    recipient: str | None = None
    body: str | None = Field(default=None, description="the SMS text or the voice script sent")
    segments: int | None = Field(default=None, description="SMS parts billed (UCS-2 / GSM-7)")
    provider_id: str | None = Field(default=None, index=True, description="Twilio SID")
    error_code: int | None = None
    error: str | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    content_sha256: str | None = Field(default=None, description="sha256 of the stored PDF")
    data_sha256: str | None = Field(
        default=None, description="sha256 of the letter's data, printed in its QR code"
    )
    pages: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DocumentSequence(SQLModel, table=True):
    """The last document number (文号) issued per notice type and year; numbers never skip."""

    __tablename__ = "document_sequence"

    notice_type: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class OfficerTask(SQLModel, table=True):
    __tablename__ = "officer_task"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str
    step: str | None = None
    due_on: date
    assigned_to: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    status: str = Field(default="open", index=True)
    outcome: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class Payment(SQLModel, table=True):
    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    employer_id: int = Field(foreign_key="employer.id", index=True)
    amount_fen: int = Field(sa_type=BigInteger)
    paid_on: date
    reference: str = Field(unique=True, description="bank serial number")
    import_id: int | None = Field(default=None, foreign_key="import_batch.id")
    created_at: datetime = Field(default_factory=utcnow)


class Allocation(SQLModel, table=True):
    """How payments were applied; rebuilt for an employer whenever its items or payments change."""

    __tablename__ = "allocation"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    employer_id: int = Field(foreign_key="employer.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="arrears_item.id", index=True)
    principal_fen: int = Field(default=0, sa_type=BigInteger)
    fee_fen: int = Field(default=0, sa_type=BigInteger)
    credit_fen: int = Field(default=0, sa_type=BigInteger)
    paid_on: date


class PromiseToPay(SQLModel, table=True):
    __tablename__ = "promise_to_pay"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    amount_fen: int = Field(sa_type=BigInteger)
    due_on: date
    made_on: date
    status: str = Field(default="open", description="open | kept | broken | withdrawn")
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class ApprovalRequest(SQLModel, table=True):
    __tablename__ = "approval_request"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    step: str
    status: str = Field(default="pending", index=True, description="pending|approved|rejected")
    requested_on: date
    reason: str
    # Who asked: a user name, or "system:<component>" for the nightly run. Whoever asked may
    # not decide (four eyes); None on requests older than that rule.
    requested_by: str | None = None
    decided_by: str | None = None
    decided_on: date | None = None
    decision_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BankInquiry(SQLModel, table=True):
    __tablename__ = "bank_inquiry"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    bank_name: str
    account_number: str
    balance_fen: int = Field(sa_type=BigInteger)
    inquired_on: date
    recorded_by: str
    # "officer": typed in; "bank_file": read from the bank's reply file (import_id says which).
    source: str = Field(default="officer")
    # The bank's serial number of its reply line: importing the same reply twice changes nothing.
    reference: str | None = Field(default=None, unique=True)
    import_id: int | None = Field(default=None, foreign_key="import_batch.id")
    created_at: datetime = Field(default_factory=utcnow)


# --- the enforcement track (Social Insurance Law arts. 63, 84, 86; Administrative Compulsion Law)


class EmployerStatement(SQLModel, table=True):
    """The employer's statement and defence (陈述、申辩) after a written demand, and its review.

    ``kind`` "statement": what the employer said, reviewed before any enforcement decision
    (Administrative Compulsion Law art. 36); "none_made": an officer records that the employer
    made none within the demand's deadline, so the right lapsed.
    """

    __tablename__ = "employer_statement"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(description="statement | none_made")
    received_on: date = Field(description="when stated (or, for none_made, when recorded)")
    summary: str
    recorded_by: str
    reviewed_on: date | None = None
    reviewed_by: str | None = None
    review_outcome: str | None = Field(default=None, description="upheld | partly | dismissed")
    review_note: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class TransferExecution(SQLModel, table=True):
    """What the bank did with a forced-transfer notice: full, partial or nothing transferred."""

    __tablename__ = "transfer_execution"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    bank_name: str
    account_number: str
    requested_fen: int = Field(sa_type=BigInteger, description="amount the notice ordered")
    result: str = Field(description="full | partial | none")
    amount_fen: int = Field(sa_type=BigInteger, description="amount transferred")
    executed_on: date
    reference: str = Field(unique=True, description="the bank's serial number of its answer")
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    note: str | None = None
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class Guarantee(SQLModel, table=True):
    """Collateral (担保) by mortgage (抵押) or pledge (质押) for a short balance."""

    __tablename__ = "guarantee"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(description="mortgage | pledge")
    asset: str
    appraised_value_fen: int = Field(sa_type=BigInteger)
    registration_number: str
    registered_on: date
    registered_with: str | None = Field(default=None, description="the registering authority")
    status: str = Field(default="active", description="active | released | enforced")
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class PaymentAgreement(SQLModel, table=True):
    """A deferred-payment agreement (延期缴费协议) and its instalment schedule."""

    __tablename__ = "payment_agreement"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    guarantee_id: int | None = Field(default=None, foreign_key="guarantee.id")
    signed_on: date
    total_fen: int = Field(sa_type=BigInteger, description="amount the schedule covers")
    status: str = Field(default="active", description="active | completed | breached | cancelled")
    ended_on: date | None = None
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class Instalment(SQLModel, table=True):
    __tablename__ = "instalment"
    __table_args__ = (UniqueConstraint("agreement_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="payment_agreement.id", index=True)
    seq: int = Field(description="1, 2, ... in due order")
    due_on: date
    amount_fen: int = Field(sa_type=BigInteger)
    paid_fen: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default="due", description="due | paid | missed")
    settled_on: date | None = None


class LegalChallenge(SQLModel, table=True):
    """Administrative reconsideration (行政复议) or lawsuit (行政诉讼) against the agency's
    decision: enforcement is frozen while one is open."""

    __tablename__ = "legal_challenge"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(description="reconsideration | lawsuit")
    filed_on: date
    body: str = Field(description="the reconsideration body or the court")
    reference: str = Field(description="its case number")
    against: str | None = Field(default=None, description="the step or decision challenged")
    outcome: str | None = Field(default=None, description="upheld | revoked | changed | withdrawn")
    decided_on: date | None = None
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class Deferral(SQLModel, table=True):
    """A force-majeure deferral (up to 1 year, provincially approved): no late fee accrues and
    escalation pauses from ``starts_on`` to ``ends_on`` inclusive."""

    __tablename__ = "deferral"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    starts_on: date
    ends_on: date
    approval_reference: str = Field(description="the provincial approval's document number")
    reason: str
    status: str = Field(default="active", description="active | ended | revoked")
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)


class Fine(SQLModel, table=True):
    """A fine of 1 to 3 times the arrears (Social Insurance Law art. 86), proposed by an officer
    after the order to pay's deadline and decided by a supervisor."""

    __tablename__ = "fine"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    proposed_on: date
    arrears_fen: int = Field(sa_type=BigInteger, description="the arrears the fine is based on")
    multiple_pct: int = Field(description="100 to 300: the multiple of the arrears, in percent")
    amount_fen: int = Field(sa_type=BigInteger)
    reason: str
    proposed_by: str
    status: str = Field(default="proposed", description="proposed | imposed | rejected")
    decided_by: str | None = None
    decided_on: date | None = None
    decision_reason: str | None = None
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    created_at: datetime = Field(default_factory=utcnow)


class CourtApplication(SQLModel, table=True):
    """An application to the people's court for enforcement, and what the court made of it."""

    __tablename__ = "court_application"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    filed_on: date | None = None
    court: str | None = None
    court_reference: str | None = None
    window_closes_on: date | None = Field(
        default=None, description="last day to apply (Administrative Compulsion Law art. 53)"
    )
    outcome: str | None = Field(
        default=None, description="accepted | refused | enforced | withdrawn"
    )
    decided_on: date | None = None
    recorded_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class WriteOffDocument(SQLModel, table=True):
    """A document supporting a write-off proposal: a bankruptcy ruling, a deregistration notice."""

    __tablename__ = "write_off_document"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="approval_request.id", index=True)
    kind: str = Field(description="bankruptcy_ruling | deregistration_notice | other")
    issued_by: str
    reference: str
    issued_on: date
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    display_name: str
    role: str = Field(description="officer | supervisor | admin")
    districts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str | None = None
    language: str = Field(default="zh_CN", description="zh_CN | en")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """One attempt to sign in to the web app: what login throttling counts."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, description="as typed, lower-cased")
    client: str = Field(index=True, description="the client's address")
    at: datetime = Field(default_factory=utcnow, index=True)
    succeeded: bool


class DistrictTarget(SQLModel, table=True):
    """What the city expects a district to recover in a quarter (the dashboard's yardstick)."""

    __tablename__ = "district_target"
    __table_args__ = (UniqueConstraint("district", "year", "quarter"),)

    id: int | None = Field(default=None, primary_key=True)
    district: str
    year: int
    quarter: int = Field(description="1-4")
    recovery_fen: int = Field(sa_type=BigInteger, description="amount to recover in the quarter")
    cases_closed: int = Field(default=0, description="cases to close in the quarter")
    set_by: str
    created_at: datetime = Field(default_factory=utcnow)


class ImportBatch(SQLModel, table=True):
    """One imported file: what it was and what it changed."""

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(description="ledger | payments")
    file_name: str
    sha256: str = Field(index=True)
    rows: int
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    imported_at: datetime = Field(default_factory=utcnow)


class StoreLock(SQLModel, table=True):
    """Named locks that serialise writers which must not interleave (imports, nightly runs)."""

    __tablename__ = "store_lock"

    name: str = Field(primary_key=True)
    held_by: str
    taken_at: datetime = Field(default_factory=utcnow)


class EscalationRun(SQLModel, table=True):
    """One night's run: claimed by one worker, its counts kept when it completes."""

    __tablename__ = "escalation_run"

    as_of: date = Field(primary_key=True)
    status: str = Field(description="running | completed | failed")
    worker: str
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    attempts: int = 1
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DistrictRun(SQLModel, table=True):
    """One district's share of a night, when the night is spread over workers."""

    __tablename__ = "district_run"

    as_of: date = Field(primary_key=True)
    district: str = Field(primary_key=True)
    worker: str
    finished_at: datetime = Field(default_factory=utcnow)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# Every ORM write that changes what a case's decision reads clears its review date (the hook is
# installed when cases.review is imported).
import cases.eventlog  # noqa: E402
import cases.review  # noqa: E402, F401
