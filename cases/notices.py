"""Letters on record: numbering them, what they state, and when they were served.

Rendering lives in ``notifications``; this module owns the notice rows. A letter is opened with
its document number (文号) inside the caller's transaction, so a letter that fails to print rolls
its number back and the sequence keeps no gap. Clocks run from service (送达): serving a letter
records how and when, and fixes the deadline its step gives the employer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases import ledger
from cases.accounts import case_position, load_books
from cases.messages import N_, Explained, Term, Terms
from cases.models import BankInquiry, Case, CaseEvent, Employer, Notice, utcnow
from cases.numbering import format_number, next_number
from cases.policy import Policy, Step
from cases.workdays import UnknownCalendarYear

SERVICE_METHODS = {
    "in_person": "直接送达",
    "left_at_premises": "留置送达",
    "post": "邮寄送达",
    "public_announcement": "公告送达",
}
# A fine's penalty decision (行政处罚决定书) is a letter of the case but no rung of the ladder: its
# notices carry this step, and the employer pays the fine within this many days of service.
FINE_STEP = "fine"
FINE_PAYMENT_DAYS = 15


class NoticeError(Explained, Exception):
    """A letter action the record does not allow; the message is meant for an officer.

    ``key`` and ``params``: the message again for a reader of another language
    (``cases.messages``).
    """

    def __init__(self, message: str, *, key: str | None = None, **params: Any) -> None:
        self.explain(key, params)
        super().__init__(message)


def document_types(step: Step, channel: str = "letter") -> list[str]:
    """The documents a step issues by letter, named after their templates (``order_to_pay``)."""
    return [PurePosixPath(t).name.removesuffix(".html.j2") for t in step.templates_for(channel)]


@dataclass(frozen=True)
class LetterItem:
    period: str
    insurance: str
    kind: str
    principal: int  # fen outstanding
    late_fee: int  # fen outstanding


@dataclass(frozen=True)
class ServedNotice:
    document_number: str
    document_type: str
    issued_on: date
    served_on: date | None
    service_method: str | None
    receipt_number: str | None = None  # the service receipt (送达回证)


@dataclass(frozen=True)
class LetterFacts:
    """What a letter states about the case on its issue date."""

    case_id: int
    employer_code: str
    employer_name: str
    employer_address: str | None
    contact_name: str | None
    mobile: str | None
    items: tuple[LetterItem, ...]
    principal: int
    late_fee: int
    total: int
    bank_name: str | None
    account_number: str | None
    balance: int | None
    earlier: tuple[ServedNotice, ...]


def letter_facts(
    session: Session, *, case_id: int, as_of: date, rules: ledger.FeeRules
) -> LetterFacts:
    case = session.get(Case, case_id)
    if case is None:
        raise NoticeError(f"no case {case_id}")
    employer = session.get(Employer, case.employer_id)
    assert employer is not None
    book = load_books(session, [case.employer_id])[case.employer_id]
    pos = case_position(book, case_id, as_of, rules)
    rows = {i.id: i for i in book.items}
    items = tuple(
        LetterItem(
            period=rows[item.item_id].period,
            insurance=rows[item.item_id].insurance,
            kind=rows[item.item_id].kind,
            principal=pos.items[item.item_id].principal_outstanding,
            late_fee=pos.items[item.item_id].fee_outstanding,
        )
        for item in ledger.allocation_order(
            [rows[i].as_ledger_item() for i in pos.items], rules.insurance_order
        )
        if pos.items[item.item_id].total_outstanding
    )
    inquiry = session.execute(
        select(BankInquiry)
        .where(col(BankInquiry.case_id) == case_id, col(BankInquiry.inquired_on) <= as_of)
        .order_by(col(BankInquiry.inquired_on).desc(), col(BankInquiry.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    earlier = tuple(
        ServedNotice(
            n.document_number or "",
            n.document_type or n.step,
            n.issued_on,
            n.served_on,
            n.service_method,
            n.receipt_number,
        )
        for n in session.execute(
            select(Notice)
            .where(
                col(Notice.case_id) == case_id,
                col(Notice.document_number).is_not(None),
                col(Notice.issued_on) <= as_of,
            )
            .order_by(col(Notice.issued_on), col(Notice.id))
        ).scalars()
    )
    return LetterFacts(
        case_id=case_id,
        employer_code=employer.code,
        employer_name=employer.name,
        employer_address=employer.address,
        contact_name=employer.contact_name,
        mobile=employer.mobile,
        items=items,
        principal=pos.principal_outstanding,
        late_fee=pos.fee_outstanding,
        total=pos.total_due,
        bank_name=inquiry.bank_name if inquiry else None,
        account_number=inquiry.account_number if inquiry else None,
        balance=inquiry.balance_fen if inquiry else None,
        earlier=earlier,
    )


def plan_letter(
    session: Session,
    *,
    case_id: int,
    step: Step,
    document_type: str,
    issued_on: date,
) -> tuple[Notice, bool]:
    """The notice row of one document to print; ``(notice, False)`` when it already exists.

    It gets its document number only when it is printed (``number_letter``), in a short
    transaction of its own, so planning a night's letters never holds the number sequence.
    """
    key = letter_key(case_id, step.kind, document_type, issued_on)
    existing = session.execute(
        select(Notice).where(col(Notice.business_key) == key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    notice = Notice(
        case_id=case_id,
        business_key=key,
        step=step.kind,
        level=step.level,
        channel="letter",
        document_type=document_type,
        status="planned",
        issued_on=issued_on,
    )
    session.add(notice)
    session.flush()
    return notice, True


def number_letter(session: Session, notice: Notice, *, prefix: str) -> None:
    """Give a planned letter its document number (文号); a numbered letter keeps its own."""
    if notice.document_number is not None:
        return
    year = notice.issued_on.year
    number = next_number(session, notice_type=notice.document_type or notice.step, year=year)
    notice.document_number = format_number(prefix, year, number)
    notice.status = "numbered"
    notice.updated_at = utcnow()
    session.add(notice)
    session.flush()


def letters_to_print(session: Session) -> list[int]:
    """Letters planned (by the nightly run or a fallback) and not yet printed, oldest first."""
    return list(
        session.execute(
            select(col(Notice.id))
            .where(
                col(Notice.channel) == "letter",
                col(Notice.content_sha256).is_(None),
                col(Notice.status).in_(["planned", "numbered"]),
            )
            .order_by(col(Notice.issued_on), col(Notice.id))
        ).scalars()
    )


def record_printed(
    session: Session,
    notice: Notice,
    *,
    content_sha256: str,
    data_sha256: str,
    pages: int,
    title: str,
    actor: str,
) -> None:
    notice.content_sha256 = content_sha256
    notice.data_sha256 = data_sha256
    notice.pages = pages
    notice.status = "printed"
    notice.updated_at = utcnow()
    session.add(notice)
    session.add(
        CaseEvent(
            case_id=notice.case_id,
            on_date=notice.issued_on,
            kind="letter_issued",
            actor=actor,
            step=notice.step,
            message=f"{title} {notice.document_number} issued ({pages} page(s))",
            data={
                "document_number": notice.document_number,
                "document_type": notice.document_type,
                "sha256": content_sha256,
                "data_sha256": data_sha256,
                "title": title,
                "pages": pages,
            },
        )
    )


def take_step(
    session: Session,
    case: Case,
    step: Step,
    *,
    on_date: date,
    actor: str,
    reason: str,
    policy: Policy,
) -> None:
    """Record that the case climbed to ``step`` (its stage never goes down)."""
    if step.level > case.stage:
        case.stage = step.level
        case.stage_step = step.kind
        case.updated_at = utcnow()
        session.add(case)
    session.add(
        CaseEvent(
            **step_event_row(
                case.id or 0, step, on_date=on_date, actor=actor, reason=reason, policy=policy
            )
        )
    )


def step_event_row(
    case_id: int, step: Step, *, on_date: date, actor: str, reason: str, policy: Policy
) -> dict[str, Any]:
    """The ``step_taken`` event of a case climbing to ``step``, as a row."""
    return {
        "case_id": case_id,
        "at": utcnow(),
        "on_date": on_date,
        "kind": "step_taken",
        "actor": actor,
        "step": step.kind,
        "policy_version": f"{policy.name} {policy.version}",
        "message": f"{step.label} ({step.title}): {reason}",
        "data": {"level": step.level},
    }


def letter_key(case_id: int, step_kind: str, document_type: str, issued_on: date) -> str:
    """A letter's business key: one document of a step per case and day."""
    return f"{case_id}:{step_kind}:letter:{document_type}:{issued_on}"


def message_key(case_id: int, step_kind: str, channel: str, issued_on: date) -> str:
    """An SMS's, call's or officer task's business key: one per step, channel and day."""
    return f"{case_id}:{step_kind}:{channel}:{issued_on}"


def notice_row(
    *,
    case_id: int,
    business_key: str,
    step: Step,
    channel: str,
    issued_on: date,
    status: str = "planned",
    document_type: str | None = None,
    recipient: str | None = None,
    body: str | None = None,
    segments: int | None = None,
) -> dict[str, Any]:
    """A planned notice as a row for a bulk insert, every column given."""
    now = utcnow()
    return {
        "case_id": case_id,
        "business_key": business_key,
        "step": step.kind,
        "level": step.level,
        "channel": channel,
        "document_type": document_type,
        "status": status,
        "document_number": None,
        "issued_on": issued_on,
        "served_on": None,
        "service_method": None,
        "receipt_number": None,
        "deadline_on": None,
        "recipient": recipient,
        "body": body,
        "segments": segments,
        "provider_id": None,
        "error_code": None,
        "error": None,
        "attempts": 0,
        "sent_at": None,
        "content_sha256": None,
        "data_sha256": None,
        "pages": None,
        "created_at": now,
        "updated_at": now,
    }


def find_letter(session: Session, document_number: str) -> Notice:
    notice: Notice | None = session.execute(
        select(Notice).where(col(Notice.document_number) == document_number.strip())
    ).scalar_one_or_none()
    if notice is None:
        raise NoticeError(
            f"no letter with document number {document_number}",
            key=N_("no letter with document number {number}"),
            number=document_number,
        )
    return notice


def serve(
    session: Session,
    *,
    document_number: str,
    method: str,
    served_on: date,
    receipt_number: str | None,
    actor: str,
    policy: Policy,
) -> Notice:
    """Record service (送达) of a letter; its step's deadline now runs from ``served_on``."""
    notice = find_letter(session, document_number)
    if method not in SERVICE_METHODS:
        raise NoticeError(
            f"unknown service method {method!r}: use one of {', '.join(SERVICE_METHODS)}",
            key=N_("unknown service method {method!r}: use one of {methods}"),
            method=method,
            methods=Terms("service", tuple(SERVICE_METHODS)),
        )
    if served_on < notice.issued_on:
        raise NoticeError(
            f"{document_number} was issued on {notice.issued_on}; it cannot be served on "
            f"{served_on}, before it existed",
            key=N_(
                "{number} was issued on {issued}; it cannot be served on {day}, before it existed"
            ),
            number=document_number,
            issued=notice.issued_on,
            day=served_on,
        )
    if notice.served_on is not None:
        how = notice.service_method or ""
        method_words = str(SERVICE_METHODS.get(how, notice.service_method))
        raise NoticeError(
            f"{document_number} was already served on {notice.served_on} ({method_words})",
            key=N_("{number} was already served on {day} ({method})"),
            number=document_number,
            day=notice.served_on,
            method=Term("service", how, method_words),
        )
    step = policy.find(notice.step)
    message = f"{document_number} served {served_on} by {SERVICE_METHODS[method]}"
    data: dict[str, str | None] = {
        "document_number": document_number,
        "method": method,
        "served_on": str(served_on),
        "receipt_number": receipt_number,
    }
    if step is not None and step.deadline_days:
        try:
            notice.deadline_on = policy.deadline(served_on, step.deadline_days)
            message += f"; the employer's time limit runs to {notice.deadline_on}"
            data["deadline_on"] = str(notice.deadline_on)
        except UnknownCalendarYear as exc:
            message += f"; deadline not set: {exc}"
            data["missing_calendar_year"] = str(exc.year)
    elif step is None and notice.step == FINE_STEP:
        # Fifteen calendar days: longer than the working-day limit of Compulsion Law art. 69.
        notice.deadline_on = served_on + timedelta(days=FINE_PAYMENT_DAYS)
        message += f"; the fine is to be paid by {notice.deadline_on}"
        data["deadline_on"] = str(notice.deadline_on)
    notice.served_on = served_on
    notice.service_method = method
    notice.receipt_number = receipt_number
    notice.status = "served"
    notice.updated_at = utcnow()
    session.add(notice)
    session.add(
        CaseEvent(
            case_id=notice.case_id,
            on_date=served_on,
            kind="notice_served",
            actor=actor,
            step=notice.step,
            message=message,
            data=data,
        )
    )
    return notice


def letters_issued_on(session: Session, day: date) -> list[tuple[Notice, Employer]]:
    """The day's printed letters in document-number order, with their addressees."""
    rows = session.execute(
        select(Notice, Employer)
        .join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            col(Notice.issued_on) == day,
            col(Notice.channel) == "letter",
            col(Notice.content_sha256).is_not(None),
        )
        .order_by(col(Notice.document_type), col(Notice.document_number))
    ).all()
    return [(notice, employer) for notice, employer in rows]
