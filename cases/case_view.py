"""One case as its page shows it: employer, the arrears with the late fee to a date, what is
pending (promises, approvals, tasks), the enforcement track's records (guarantees, the latest
deferred-payment agreement and where it stands, legal challenges, deferrals, fines, court
applications, forced-transfer results) and the timeline. Amounts are int fen.

The reader must be allowed to see the case (``cases.access``): a case outside their districts is
``CaseNotFound``, like a case that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, exists, select
from sqlmodel import Session, SQLModel, col

from cases import ledger
from cases.access import Actor, visible_case
from cases.accounts import ItemLine, case_items, load_books
from cases.agreements import Standing, standing
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    CourtApplication,
    Deferral,
    Employer,
    EmployerStatement,
    Fine,
    Guarantee,
    Instalment,
    LegalChallenge,
    OfficerTask,
    Payment,
    PaymentAgreement,
    PromiseToPay,
    TransferExecution,
    User,
)
from cases.priorities import DEAD_NOTICE_STATUSES
from cases.queue import TimelineEntry, timeline_of
from cases.states import CLOSED, CaseStatus

M = TypeVar("M", bound=SQLModel)
Ordering = ColumnElement[Any] | tuple[ColumnElement[Any], ...]


@dataclass(frozen=True)
class CaseView:
    case_id: int
    employer_id: int
    employer_code: str
    employer_name: str
    district: str
    contact_name: str | None
    mobile: str | None
    address: str | None
    sms_opted_out: bool
    status: str
    closed: bool
    stage: int
    stage_step: str | None
    opened_on: date
    closed_on: date | None
    first_overdue_on: date
    policy: str
    officer: str | None
    officer_id: int | None
    uncooperative: bool
    malicious: bool
    as_of: date
    items: list[ItemLine]
    principal_outstanding: int
    fee_outstanding: int
    total_due: int
    credit: int
    payments: list[Payment]
    promises: list[PromiseToPay]
    approvals: list[ApprovalRequest]
    tasks: list[OfficerTask]
    inquiries: list[BankInquiry]
    statements: list[EmployerStatement]  # the employer's statements after the demand
    guarantees: list[Guarantee]  # mortgages and pledges, oldest first
    agreement: PaymentAgreement | None  # the latest deferred-payment agreement signed by as_of
    agreement_standing: Standing | None  # where it stands at the end of as_of (not cancelled)
    challenges: list[LegalChallenge]  # reconsiderations and lawsuits, newest first
    deferrals: list[Deferral]  # force-majeure deferrals, newest first
    fines: list[Fine]  # newest first
    court_applications: list[CourtApplication]  # newest first
    transfers: list[TransferExecution]  # the bank's answers to forced-transfer notices
    timeline: list[TimelineEntry]

    @property
    def open_promise(self) -> PromiseToPay | None:
        return next((p for p in self.promises if p.status == "open"), None)

    @property
    def pending_approvals(self) -> list[ApprovalRequest]:
        return [a for a in self.approvals if a.status == "pending"]

    @property
    def open_tasks(self) -> list[OfficerTask]:
        return [t for t in self.tasks if t.status == "open"]

    @property
    def unreviewed_statements(self) -> list[EmployerStatement]:
        return [s for s in self.statements if s.kind == "statement" and s.reviewed_on is None]

    @property
    def active_guarantees(self) -> list[Guarantee]:
        return [g for g in self.guarantees if g.status == "active"]

    @property
    def agreement_running(self) -> bool:
        return self.agreement is not None and self.agreement.status == "active"

    @property
    def open_challenges(self) -> list[LegalChallenge]:
        return [c for c in self.challenges if c.outcome is None]

    @property
    def active_deferrals(self) -> list[Deferral]:
        return [d for d in self.deferrals if d.status == "active"]

    @property
    def proposed_fines(self) -> list[Fine]:
        return [f for f in self.fines if f.status == "proposed"]

    @property
    def filed_applications(self) -> list[CourtApplication]:
        return [a for a in self.court_applications if a.filed_on is not None]

    @property
    def undecided_applications(self) -> list[CourtApplication]:
        """Filed applications the court may still decide: none yet, or accepted so far."""
        return [a for a in self.filed_applications if a.outcome in (None, "accepted")]

    @property
    def application_standing(self) -> bool:
        """An application is filed and not withdrawn: another filing would be refused."""
        latest = next(iter(self.filed_applications), None)
        return latest is not None and latest.outcome != "withdrawn"

    @property
    def collateral_demanded(self) -> bool:
        """The collateral demand an agreement answers was issued (and not cancelled)."""
        return any(
            e.step == "collateral_demand" and e.status not in DEAD_NOTICE_STATUSES
            for e in self.letters
        )

    @property
    def order_served(self) -> bool:
        """An order to pay was served: a fine may follow once its time limit has passed."""
        return any(e.step == "order_to_pay" and e.served_on for e in self.letters)

    def issued(self, step: str, document_type: str | None = None) -> bool:
        """A letter of ``step`` (of ``document_type``, if given) was numbered on this case."""
        return any(
            e.step == step
            and e.document_number
            and (document_type is None or e.document_type == document_type)
            for e in self.letters
        )

    @property
    def letters(self) -> list[TimelineEntry]:
        """The case's letters, newest first (for marking one served)."""
        return [e for e in self.timeline if e.channel == "letter" and e.notice_id is not None]


# The tables keyed by case that the page lists.
_BY_CASE: tuple[Any, ...] = (
    PromiseToPay,
    ApprovalRequest,
    OfficerTask,
    BankInquiry,
    EmployerStatement,
    Guarantee,
    PaymentAgreement,
    LegalChallenge,
    Deferral,
    Fine,
    CourtApplication,
    TransferExecution,
)


_PROBE = select(
    *(
        exists().where(model.__table__.c.case_id == bindparam("case_id")).label(model.__tablename__)
        for model in _BY_CASE
    )
)  # built once: every page asks it


def _tables_with_rows(session: Session, case_id: int) -> set[Any]:
    found = session.execute(_PROBE, {"case_id": case_id}).one()
    return {model for model, has in zip(_BY_CASE, found, strict=True) if has}


def case_view(
    session: Session, actor: Actor, case_id: int, *, as_of: date, rules: ledger.FeeRules
) -> CaseView:
    case = visible_case(session, actor, case_id)
    employer = session.get(Employer, case.employer_id)
    assert employer is not None and employer.id is not None and case.id is not None
    book = load_books(session, [employer.id])[employer.id]
    pos, items = case_items(book, case.id, as_of, rules)
    officer = session.get(User, case.officer_id) if case.officer_id else None

    # Most cases have nothing in most of these tables: one query asks which have rows for the
    # case, and only those are read (the page used to make a query per table).
    present = _tables_with_rows(session, case.id)

    def rows(model: type[M], where: ColumnElement[bool], *, order: Ordering) -> list[M]:
        if model in _BY_CASE and model not in present:
            return []
        by = order if isinstance(order, tuple) else (order,)
        return list(session.execute(select(model).where(where).order_by(*by)).scalars())

    payments = rows(
        Payment, col(Payment.employer_id) == employer.id, order=col(Payment.paid_on).desc()
    )
    agreement = next(
        iter(
            rows(
                PaymentAgreement,
                (col(PaymentAgreement.case_id) == case.id)
                & (col(PaymentAgreement.signed_on) <= as_of),
                order=(col(PaymentAgreement.signed_on).desc(), col(PaymentAgreement.id).desc()),
            )
        ),
        None,
    )
    agreement_standing = None
    if agreement is not None and agreement.status != "cancelled":
        schedule = rows(
            Instalment,
            col(Instalment.agreement_id) == agreement.id,
            order=col(Instalment.seq).asc(),
        )
        # The employer's money since the signing, in the order it came (as the nightly settles).
        money = sorted(
            (p.paid_on, p.id or 0, p.amount_fen)
            for p in payments
            if p.paid_on >= agreement.signed_on
        )
        closed_paid_on = case.closed_on if case.status == CaseStatus.CLOSED_PAID.value else None
        agreement_standing = standing(
            [(i.seq, i.due_on, i.amount_fen) for i in schedule],
            [(paid_on, fen) for paid_on, _, fen in money],
            as_of=as_of,
            closed_paid_on=closed_paid_on,
        )

    return CaseView(
        case_id=case.id,
        employer_id=employer.id,
        employer_code=employer.code,
        employer_name=employer.name,
        district=employer.district,
        contact_name=employer.contact_name,
        mobile=employer.mobile,
        address=employer.address,
        sms_opted_out=employer.sms_opted_out,
        status=case.status,
        closed=CaseStatus(case.status) in CLOSED,
        stage=case.stage,
        stage_step=case.stage_step,
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        first_overdue_on=case.first_overdue_on,
        policy=f"{case.policy_name} {case.policy_version}",
        officer=officer.display_name if officer else None,
        officer_id=case.officer_id,
        uncooperative=case.uncooperative,
        malicious=case.malicious,
        as_of=as_of,
        items=items,
        principal_outstanding=pos.principal_outstanding,
        fee_outstanding=pos.fee_outstanding,
        total_due=pos.total_due,
        credit=pos.credit,
        payments=payments,
        promises=rows(
            PromiseToPay, col(PromiseToPay.case_id) == case.id, order=col(PromiseToPay.id).desc()
        ),
        approvals=rows(
            ApprovalRequest,
            col(ApprovalRequest.case_id) == case.id,
            order=col(ApprovalRequest.id).desc(),
        ),
        tasks=rows(
            OfficerTask, col(OfficerTask.case_id) == case.id, order=col(OfficerTask.due_on).desc()
        ),
        inquiries=rows(
            BankInquiry,
            col(BankInquiry.case_id) == case.id,
            order=col(BankInquiry.inquired_on).desc(),
        ),
        statements=rows(
            EmployerStatement,
            col(EmployerStatement.case_id) == case.id,
            order=col(EmployerStatement.id).desc(),
        ),
        guarantees=rows(
            Guarantee, col(Guarantee.case_id) == case.id, order=col(Guarantee.id).asc()
        ),
        agreement=agreement,
        agreement_standing=agreement_standing,
        challenges=rows(
            LegalChallenge,
            col(LegalChallenge.case_id) == case.id,
            order=col(LegalChallenge.id).desc(),
        ),
        deferrals=rows(Deferral, col(Deferral.case_id) == case.id, order=col(Deferral.id).desc()),
        fines=rows(Fine, col(Fine.case_id) == case.id, order=col(Fine.id).desc()),
        court_applications=rows(
            CourtApplication,
            col(CourtApplication.case_id) == case.id,
            order=col(CourtApplication.id).desc(),
        ),
        transfers=rows(
            TransferExecution,
            col(TransferExecution.case_id) == case.id,
            order=col(TransferExecution.id).desc(),
        ),
        timeline=timeline_of(session, case.id),  # visible: checked above
    )
