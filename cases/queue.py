"""Read side: case lists and one case in full, with figures as of a given date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlmodel import Session, col

from cases import ledger
from cases.access import Actor, CaseNotFound, visible_case
from cases.accounts import case_items, case_position, load_books
from cases.models import (
    ApprovalRequest,
    Case,
    CaseEvent,
    Employer,
    Notice,
    Payment,
    PromiseToPay,
    User,
)
from cases.money import format_yuan
from cases.notices import SERVICE_METHODS
from cases.states import CLOSED, CaseStatus


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    employer_code: str
    employer_name: str
    district: str
    status: str
    stage: int
    stage_step: str | None
    opened_on: date
    first_overdue_on: date
    officer: str | None
    principal_outstanding: int
    late_fee: int
    total_due: int
    days_overdue: int

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "employer_code": self.employer_code,
            "employer_name": self.employer_name,
            "district": self.district,
            "status": self.status,
            "stage": self.stage_step or "none",
            "stage_level": self.stage,
            "opened_on": str(self.opened_on),
            "first_overdue_on": str(self.first_overdue_on),
            "officer": self.officer,
            "principal_outstanding": format_yuan(self.principal_outstanding),
            "late_fee": format_yuan(self.late_fee),
            "total_due": format_yuan(self.total_due),
            "days_overdue": self.days_overdue,
        }


def list_cases(
    session: Session,
    *,
    as_of: date,
    rules: ledger.FeeRules,
    statuses: Sequence[str] | None = None,
    district: str | None = None,
    include_closed: bool = False,
) -> list[CaseSummary]:
    """Cases with their figures as of ``as_of``, largest total due first."""
    query = (
        select(
            Case, col(Employer.code), col(Employer.name), col(Employer.district), col(User.username)
        )
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .outerjoin(User, col(User.id) == col(Case.officer_id))
    )
    if statuses:
        query = query.where(col(Case.status).in_(list(statuses)))
    elif not include_closed:
        query = query.where(col(Case.status).not_in([s.value for s in CLOSED]))
    if district:
        query = query.where(col(Employer.district) == district)
    rows = session.execute(query).all()
    books = load_books(session, [case.employer_id for case, *_ in rows])
    summaries = []
    for case, code, name, district_name, officer in rows:
        book = books[case.employer_id]
        pos = case_position(book, case.id, as_of, rules)
        days = max((p.days_overdue for p in pos.items.values()), default=0)
        summaries.append(
            CaseSummary(
                case_id=case.id,
                employer_code=code,
                employer_name=name,
                district=district_name,
                status=case.status,
                stage=case.stage,
                stage_step=case.stage_step,
                opened_on=case.opened_on,
                first_overdue_on=case.first_overdue_on,
                officer=officer,
                principal_outstanding=pos.principal_outstanding,
                late_fee=pos.fee_outstanding,
                total_due=pos.total_due,
                days_overdue=days,
            )
        )
    summaries.sort(key=lambda s: (-s.total_due, s.employer_code))
    return summaries


def case_detail(
    session: Session, employer_code: str, *, as_of: date, rules: ledger.FeeRules
) -> dict[str, Any]:
    """The employer's current case (the open one, else the latest) as a JSON-ready dict."""
    employer = session.execute(
        select(Employer).where(col(Employer.code) == employer_code.strip().upper())
    ).scalar_one_or_none()
    if employer is None:
        raise CaseNotFound(f"no employer with code {employer_code} in the case store")
    case = session.execute(
        select(Case)
        .where(col(Case.employer_id) == employer.id)
        .order_by(col(Case.closed_on).is_not(None), col(Case.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(f"employer {employer_code} has no case")
    assert employer.id is not None and case.id is not None
    book = load_books(session, [employer.id])[employer.id]
    pos, lines = case_items(book, case.id, as_of, rules)
    items = [
        {
            "period": line.period,
            "insurance": line.insurance,
            "kind": line.kind,
            "due_date": str(line.due_date),
            "amount_due": format_yuan(line.amount_due),
            "principal_paid": format_yuan(line.principal_paid),
            "principal_outstanding": format_yuan(line.principal_outstanding),
            "late_fee_accrued": format_yuan(line.fee_accrued),
            "late_fee_paid": format_yuan(line.fee_paid),
            "late_fee": format_yuan(line.fee_outstanding),
            "total_due": format_yuan(line.total_outstanding),
            "days_overdue": line.days_overdue,
            "settled_on": str(line.settled_on) if line.settled_on else None,
        }
        for line in lines
    ]
    officer = session.get(User, case.officer_id) if case.officer_id else None
    return {
        "case_id": case.id,
        "employer_code": employer.code,
        "employer_name": employer.name,
        "district": employer.district,
        "contact_name": employer.contact_name,
        "mobile": employer.mobile,
        "address": employer.address,
        "sms_opted_out": employer.sms_opted_out,
        "status": case.status,
        "closed": CaseStatus(case.status) in CLOSED,
        "stage": case.stage_step or "none",
        "stage_level": case.stage,
        "opened_on": str(case.opened_on),
        "closed_on": str(case.closed_on) if case.closed_on else None,
        "first_overdue_on": str(case.first_overdue_on),
        "policy": f"{case.policy_name} {case.policy_version}",
        "officer": officer.username if officer else None,
        "flags": {"uncooperative": case.uncooperative, "malicious": case.malicious},
        "as_of": str(as_of),
        "principal_outstanding": format_yuan(pos.principal_outstanding),
        "late_fee": format_yuan(pos.fee_outstanding),
        "total_due": format_yuan(pos.total_due),
        "credit": format_yuan(pos.credit),
        "items": items,
        "payments": [
            {
                "reference": p.reference,
                "amount": format_yuan(p.amount_fen),
                "paid_on": str(p.paid_on),
            }
            for p in session.execute(
                select(Payment)
                .where(col(Payment.employer_id) == employer.id)
                .order_by(col(Payment.paid_on), col(Payment.id))
            ).scalars()
        ],
        "promises": [
            {
                "amount": format_yuan(p.amount_fen),
                "due_on": str(p.due_on),
                "made_on": str(p.made_on),
                "status": p.status,
            }
            for p in session.execute(
                select(PromiseToPay).where(col(PromiseToPay.case_id) == case.id)
            ).scalars()
        ],
        "approvals": [
            {"step": a.step, "status": a.status, "requested_on": str(a.requested_on)}
            for a in session.execute(
                select(ApprovalRequest).where(col(ApprovalRequest.case_id) == case.id)
            ).scalars()
        ],
        "notices": [
            {
                "id": n.id,
                "step": n.step,
                "channel": n.channel,
                "status": n.status,
                "document_number": n.document_number,
                "issued_on": str(n.issued_on),
                "served_on": str(n.served_on) if n.served_on else None,
                "pdf": bool(n.pdf),
            }
            for n in _notices(session, case.id)
        ],
        "events": [
            {
                "on_date": str(e.on_date),
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor": e.actor,
                "message": e.message,
                "step": e.step,
                "policy_version": e.policy_version,
            }
            for e in _events(session, case.id)
        ],
        "item_count": len(items),
        "open_items": sum(1 for i in items if i["principal_outstanding"] != "0.00"),
    }


# The timeline's two reads, built once (every case page makes them): the columns it shows, as
# rows rather than ORM objects.
_EVENTS = (
    select(
        col(CaseEvent.on_date),
        col(CaseEvent.at),
        col(CaseEvent.kind),
        col(CaseEvent.actor),
        col(CaseEvent.message),
        col(CaseEvent.step),
        col(CaseEvent.policy_version),
        col(CaseEvent.data),
    )
    .where(col(CaseEvent.case_id) == bindparam("case_id"))
    .order_by(col(CaseEvent.id))
)
_NOTICES = (
    select(
        col(Notice.id),
        col(Notice.step),
        col(Notice.channel),
        col(Notice.status),
        col(Notice.document_number),
        col(Notice.document_type),
        col(Notice.issued_on),
        col(Notice.created_at),
        col(Notice.content_sha256).is_not(None).label("pdf"),
        col(Notice.served_on),
        col(Notice.deadline_on),
        col(Notice.recipient),
        col(Notice.service_method),
        col(Notice.error_code),
        col(Notice.error),
    )
    .where(col(Notice.case_id) == bindparam("case_id"))
    .order_by(col(Notice.id))
)


def _events(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """The case's log, oldest first."""
    return session.execute(_EVENTS, {"case_id": case_id}).all()


def _notices(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """What was sent or printed for the case, oldest first."""
    return session.execute(_NOTICES, {"case_id": case_id}).all()


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's history: an event, or a notice (``kind`` "notice")."""

    kind: str
    on_date: date  # the business date: an event's, a notice's issue date
    at: datetime  # when it was written (UTC), to order a day's entries
    actor: str | None
    message: str
    step: str | None
    policy_version: str | None
    notice_id: int | None = None
    channel: str | None = None  # sms | voice | officer_task | letter
    status: str | None = None
    document_number: str | None = None
    document_type: str | None = None
    pdf: bool = False  # a printed letter's PDF is on file
    served_on: date | None = None
    deadline_on: date | None = None
    # What a screen needs to say it in the reader's language: an event's data, a notice's
    # addressee, service method and provider error (the message stays the English record).
    data: dict[str, Any] = field(default_factory=dict)
    recipient: str | None = None
    service_method: str | None = None
    error_code: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            name: str(value) if isinstance(value, date) else value
            for name, value in self.__dict__.items()
        }


def case_timeline(session: Session, actor: Actor, case_id: int) -> list[TimelineEntry]:
    """The case's events and notices merged, newest first (``CaseNotFound`` if not visible)."""
    visible_case(session, actor, case_id)
    return timeline_of(session, case_id)


def timeline_of(session: Session, case_id: int) -> list[TimelineEntry]:
    """``case_timeline`` for a caller that has already checked the case is visible."""
    entries = [
        TimelineEntry(
            kind=e.kind,
            on_date=e.on_date,
            at=_aware(e.at),
            actor=e.actor,
            message=e.message,
            step=e.step,
            policy_version=e.policy_version,
            data=dict(e.data or {}),
        )
        for e in _events(session, case_id)
    ]
    entries += [
        TimelineEntry(
            kind="notice",
            on_date=n.issued_on,
            at=_aware(n.created_at),
            actor=None,
            message=_notice_message(n),
            step=n.step,
            policy_version=None,
            notice_id=n.id,
            channel=n.channel,
            status=n.status,
            document_number=n.document_number,
            document_type=n.document_type,
            pdf=bool(n.pdf),
            served_on=n.served_on,
            deadline_on=n.deadline_on,
            recipient=n.recipient,
            service_method=n.service_method,
            error_code=n.error_code,
            error=n.error,
        )
        for n in _notices(session, case_id)
    ]
    # Entries of the same instant (one flush) come newest first too: by their place in the log.
    order = sorted(range(len(entries)), key=lambda i: (entries[i].on_date, entries[i].at, i))
    return [entries[i] for i in reversed(order)]


def _aware(at: datetime) -> datetime:
    # SQLite hands instants back without their zone; they were written in UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_CHANNELS = {
    "sms": "SMS",
    "voice": "voice call",
    "officer_task": "officer's task",
    "letter": "letter",
}


def _notice_message(n: Row[Any]) -> str:
    what = n.document_type or n.step
    parts = [f"{_CHANNELS.get(n.channel, n.channel)} {what.replace('_', ' ')}"]
    if n.document_number:
        parts[0] += f" {n.document_number}"
    if n.recipient and n.channel in ("sms", "voice"):
        parts[0] += f" to {n.recipient}"
    parts.append(n.status.replace("_", " "))
    if n.served_on:
        method = SERVICE_METHODS.get(n.service_method or "", n.service_method)
        parts.append(f"served {n.served_on} ({method})")
    if n.deadline_on:
        parts.append(f"deadline {n.deadline_on}")
    if n.error:
        parts.append(f"error: {n.error}")
    return "; ".join(parts)
