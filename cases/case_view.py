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

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select
from sqlmodel import Session, SQLModel, col

from cases import ledger
from cases.access import Actor, CaseNotFound
from cases.accounts import FEE_FREE_STATUSES, ItemLine, case_items, load_book
from cases.agreement_standing import Standing, standing
from cases.bulk import table
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
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
from cases.states import CLOSED, CaseStatus
from cases.timeline import TimelineEntry, timeline_of

M = TypeVar("M", bound=SQLModel)


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


_case = table(Case)
_employer = table(Employer)
_officer = table(User)
_other_case = table(Case).alias("other_case")

# Everything the page needs to know before it reads the lists, in one statement built once: the
# case, its employer, its officer's name, and which of the lists have rows at all (most cases
# have nothing in most of them; only those that do are read).
_HEAD = (
    select(
        _case.c.id,
        _case.c.employer_id,
        _case.c.status,
        _case.c.stage,
        _case.c.stage_step,
        _case.c.opened_on,
        _case.c.closed_on,
        _case.c.first_overdue_on,
        _case.c.policy_name,
        _case.c.policy_version,
        _case.c.officer_id,
        _case.c.uncooperative,
        _case.c.malicious,
        # Kept equal to the employer's by database triggers; the employer's if ever missing.
        func.coalesce(_case.c.district, _employer.c.district).label("case_district"),
        _employer.c.code,
        _employer.c.name,
        _employer.c.district,
        _employer.c.contact_name,
        _employer.c.mobile,
        _employer.c.address,
        _employer.c.sms_opted_out,
        _officer.c.display_name.label("officer_name"),
        exists().where(table(Payment).c.employer_id == _employer.c.id).label("has_payments"),
        # A fee-free deferral on any of the employer's cases: its items' late fees need it.
        exists()
        .where(
            table(Deferral).c.case_id == _other_case.c.id,
            _other_case.c.employer_id == _employer.c.id,
            table(Deferral).c.status.in_(FEE_FREE_STATUSES),
        )
        .label("has_deferrals"),
        *(
            exists().where(table(model).c.case_id == _case.c.id).label(model.__tablename__)
            for model in _BY_CASE
        ),
    )
    .select_from(
        _case.join(_employer, _employer.c.id == _case.c.employer_id).outerjoin(
            _officer, _officer.c.id == _case.c.officer_id
        )
    )
    .where(_case.c.id == bindparam("case_id"))
)


def _of_case(model: type[M], *order: ColumnElement[Any]) -> Select[Any]:
    case_id: Any = model.case_id  # type: ignore[attr-defined]
    return select(model).where(col(case_id) == bindparam("case_id")).order_by(*order)


# The page's lists, each read with a statement built once (building them anew was a sixth of a
# page's time), newest first unless the list reads better otherwise.
_LISTS: dict[type[SQLModel], Select[Any]] = {
    PromiseToPay: _of_case(PromiseToPay, col(PromiseToPay.id).desc()),
    ApprovalRequest: _of_case(ApprovalRequest, col(ApprovalRequest.id).desc()),
    OfficerTask: _of_case(OfficerTask, col(OfficerTask.due_on).desc()),
    BankInquiry: _of_case(BankInquiry, col(BankInquiry.inquired_on).desc()),
    EmployerStatement: _of_case(EmployerStatement, col(EmployerStatement.id).desc()),
    Guarantee: _of_case(Guarantee, col(Guarantee.id).asc()),
    LegalChallenge: _of_case(LegalChallenge, col(LegalChallenge.id).desc()),
    Deferral: _of_case(Deferral, col(Deferral.id).desc()),
    Fine: _of_case(Fine, col(Fine.id).desc()),
    CourtApplication: _of_case(CourtApplication, col(CourtApplication.id).desc()),
    TransferExecution: _of_case(TransferExecution, col(TransferExecution.id).desc()),
}
# The agreement in force on the day: the latest signed by then.
_AGREEMENT = (
    select(PaymentAgreement)
    .where(
        col(PaymentAgreement.case_id) == bindparam("case_id"),
        col(PaymentAgreement.signed_on) <= bindparam("as_of"),
    )
    .order_by(col(PaymentAgreement.signed_on).desc(), col(PaymentAgreement.id).desc())
    .limit(1)
)
_SCHEDULE = (
    select(Instalment)
    .where(col(Instalment.agreement_id) == bindparam("agreement_id"))
    .order_by(col(Instalment.seq).asc())
)
_PAYMENTS = (
    select(Payment)
    .where(col(Payment.employer_id) == bindparam("employer_id"))
    .order_by(col(Payment.paid_on).desc())
)


def case_view(
    session: Session, actor: Actor, case_id: int, *, as_of: date, rules: ledger.FeeRules
) -> CaseView:
    case = session.execute(_HEAD, {"case_id": case_id}).one_or_none()
    if case is None or not actor.serves(case.case_district):
        raise CaseNotFound(f"no case {case_id}")
    present = {model for model in _BY_CASE if case._mapping[model.__tablename__]}

    def rows(model: type[M]) -> list[M]:
        if model not in present:
            return []
        return list(session.execute(_LISTS[model], {"case_id": case.id}).scalars())

    payments = (
        list(session.execute(_PAYMENTS, {"employer_id": case.employer_id}).scalars())
        if case.has_payments
        else []
    )
    book = load_book(
        session,
        case.employer_id,
        (
            ledger.Payment(payment_id=p.id or 0, amount=p.amount_fen, paid_on=p.paid_on)
            for p in payments
        ),
        deferrals=case.has_deferrals,
    )
    pos, items = case_items(book, case_id, as_of, rules)
    agreement = (
        session.execute(_AGREEMENT, {"case_id": case.id, "as_of": as_of}).scalars().first()
        if PaymentAgreement in present
        else None
    )
    agreement_standing = None
    if agreement is not None and agreement.status != "cancelled":
        schedule = list(session.execute(_SCHEDULE, {"agreement_id": agreement.id}).scalars())
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
        employer_id=case.employer_id,
        employer_code=case.code,
        employer_name=case.name,
        district=case.district,
        contact_name=case.contact_name,
        mobile=case.mobile,
        address=case.address,
        sms_opted_out=case.sms_opted_out,
        status=case.status,
        closed=CaseStatus(case.status) in CLOSED,
        stage=case.stage,
        stage_step=case.stage_step,
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        first_overdue_on=case.first_overdue_on,
        policy=f"{case.policy_name} {case.policy_version}",
        officer=case.officer_name,
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
        promises=rows(PromiseToPay),
        approvals=rows(ApprovalRequest),
        tasks=rows(OfficerTask),
        inquiries=rows(BankInquiry),
        statements=rows(EmployerStatement),
        guarantees=rows(Guarantee),
        agreement=agreement,
        agreement_standing=agreement_standing,
        challenges=rows(LegalChallenge),
        deferrals=rows(Deferral),
        fines=rows(Fine),
        court_applications=rows(CourtApplication),
        transfers=rows(TransferExecution),
        timeline=timeline_of(session, case.id),  # visible: checked above
    )
