"""The officer's record of contact with the employer: calls, notes, interviews, bank inquiries
and letters served.

An answered call and an attended interview are responses ``decide`` reads (the "no response"
guard, ``cases.review.RESPONSE_EVENTS``); a bank balance is a fact the enforcement rungs read; a
letter's service starts its clock. Those go through the ORM, whose hooks bring the case back to
the next night. A note, an unanswered call or a scheduled interview changes no decision.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor
from cases.fields import ACCOUNT_DIGITS, compact_account
from cases.messages import N_, Term
from cases.models import BankInquiry, CaseEvent, Notice, OfficerTask, utcnow
from cases.money import format_yuan
from cases.notices import SERVICE_METHODS, NoticeError, serve
from cases.policy import Policy
from cases.refusals import (
    ActionRefused,
    acting_on,
    choice,
    fen,
    log,
    not_after_today,
    still_open,
    text,
)

CALL_OUTCOMES = ("answered", "no_answer", "refused", "wrong_number", "left_message")
INTERVIEW_OUTCOMES = ("attended", "not_attended")
# Service leaves a receipt (送达回证) except by public announcement, which the gazette proves.
RECEIPT_NOT_NEEDED = frozenset({"public_announcement"})


def record_call(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    outcome: str,
    note: str | None = None,
) -> CaseEvent:
    """An officer's call to the employer; an answered call is the employer responding.

    The night's open call task (rung ``phone_reminder``) is done with this outcome.
    """
    case = acting_on(session, actor, case_id, doing=N_("record a call"))
    choice("outcome", outcome, CALL_OUTCOMES, kind="call")
    said = text("note", note, required=False)
    tasks = _open_tasks(session, case_id, "phone_reminder")
    for task in tasks:
        _complete(session, task, outcome)
    words = outcome.replace("_", " ")
    return log(
        session,
        case,
        kind="call_answered" if outcome == "answered" else "call_attempted",
        actor=actor,
        today=today,
        message=f"{actor.username} called the employer: {words}" + (f". {said}" if said else ""),
        data={"outcome": outcome, "note": said or None, "tasks_done": [t.id for t in tasks]},
    )


def add_note(*, session: Session, actor: Actor, case_id: int, today: date, note: str) -> CaseEvent:
    """A note on the case file; ``decide`` does not read notes."""
    case = acting_on(session, actor, case_id, doing=N_("add a note"))
    said = text("note", note)
    return log(
        session,
        case,
        kind="note",
        actor=actor,
        today=today,
        message=f"{actor.username} noted: {said}",
        data={"note": said},
    )


def schedule_interview(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    on: date,
    place: str,
    note: str | None = None,
) -> OfficerTask:
    """An interview (约谈) with the employer: a task for the case's officer on that day."""
    case = acting_on(session, actor, case_id, doing=N_("schedule an interview"))
    still_open(case, doing=N_("schedule an interview"))
    if on < today:
        raise ActionRefused(
            "date",
            key=N_("{day} is before today ({today}): pick a day still to come"),
            day=on,
            today=today,
        )
    where = text("place", place, limit=200)
    said = text("note", note, required=False)
    task = OfficerTask(
        case_id=case_id,
        kind="interview",
        due_on=on,
        assigned_to=case.officer_id or actor.user_id,
        status="open",
    )
    session.add(task)
    session.flush()
    log(
        session,
        case,
        kind="interview_scheduled",
        actor=actor,
        today=today,
        message=f"{actor.username} scheduled an interview with the employer on {on} at {where}"
        + (f". {said}" if said else ""),
        data={
            "task_id": task.id,
            "on": str(on),
            "place": where,
            "note": said or None,
            "assigned_to": task.assigned_to,
        },
    )
    return task


def record_interview(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    outcome: str,
    note: str | None = None,
    task_id: int | None = None,
) -> CaseEvent:
    """Whether the employer came to the interview; attending is the employer responding.

    ``task_id``: the interview task it closes; none given, the case's earliest open interview
    task is done (an interview held without one is recorded all the same).
    """
    case = acting_on(session, actor, case_id, doing=N_("record an interview"))
    choice("outcome", outcome, INTERVIEW_OUTCOMES, kind="interview")
    said = text("note", note, required=False)
    tasks = _open_tasks(session, case_id, "interview")
    if task_id is not None:
        tasks = [t for t in tasks if t.id == task_id]
        if not tasks:
            raise ActionRefused(
                "task",
                key=N_("task {task} is not an open interview task of case {case}"),
                task=task_id,
                case=case_id,
            )
    task = tasks[0] if tasks else None
    if task is not None:
        _complete(session, task, outcome)
    attended = outcome == "attended"
    how = "came to the interview" if attended else "did not come to the interview"
    return log(
        session,
        case,
        kind="interview_attended" if attended else "interview_missed",
        actor=actor,
        today=today,
        message=f"{actor.username} recorded that the employer {how}"
        + (f" set for {task.due_on}" if task else "")
        + (f". {said}" if said else ""),
        data={
            "outcome": outcome,
            "note": said or None,
            "task_id": task.id if task else None,
            "on": str(task.due_on) if task else None,
        },
    )


def record_bank_inquiry(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    bank_name: str,
    account_number: str,
    balance: Decimal,
    inquired_on: date,
) -> BankInquiry:
    """The balance the employer's bank reported: forced transfer or collateral reads it."""
    case = acting_on(session, actor, case_id, doing=N_("record a bank-balance inquiry"))
    bank = text("bank_name", bank_name, limit=100)
    account = account_number_of(account_number)
    amount = fen("balance", balance, allow_zero=True)
    not_after_today("inquired_on", inquired_on, today, what=N_("an inquiry"))
    inquiry = BankInquiry(
        case_id=case_id,
        bank_name=bank,
        account_number=account,
        balance_fen=amount,
        inquired_on=inquired_on,
        recorded_by=actor.username,
    )
    session.add(inquiry)
    log(
        session,
        case,
        kind="bank_inquiry_recorded",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} recorded the balance of {bank} account ending {account[-4:]}: "
            f"¥{format_yuan(amount)} on {inquired_on}"
        ),
        data={
            "bank_name": bank,
            "account_number": account,
            "balance": format_yuan(amount),
            "inquired_on": str(inquired_on),
        },
    )
    return inquiry


def record_service(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    notice_id: int,
    served_on: date,
    method: str,
    receipt_number: str | None,
    policy: Policy,
) -> Notice:
    """A letter of the case served (送达) on the employer: its deadline runs from ``served_on``.

    ``method`` is one of ``cases.notices.SERVICE_METHODS``; the event is dated the day of
    service, as every clock reads it (``cases.notices.serve``).
    """
    acting_on(session, actor, case_id, doing=N_("record a letter's service"))
    notice = session.get(Notice, notice_id)
    if notice is None or notice.case_id != case_id or notice.channel != "letter":
        raise ActionRefused(
            "notice", key=N_("case {case} has no letter {letter}"), case=case_id, letter=notice_id
        )
    if notice.document_number is None:
        raise ActionRefused(
            "notice",
            key=N_("letter {letter} is not printed yet: it has no document number to serve"),
            letter=notice_id,
        )
    if notice.served_on is not None:
        how = notice.service_method or ""
        raise ActionRefused(
            "notice",
            key=N_("{number} was already served on {day} ({method})"),
            number=notice.document_number,
            day=notice.served_on,
            method=Term("service", how, str(SERVICE_METHODS.get(how, notice.service_method))),
        )
    choice("method", method, tuple(SERVICE_METHODS), kind="service")
    not_after_today("served_on", served_on, today, what=N_("service"))
    receipt = text("receipt_number", receipt_number, required=False, limit=64)
    if not receipt and method not in RECEIPT_NOT_NEEDED:
        raise ActionRefused(
            "receipt_number",
            key=N_("required for service by {method}: the service receipt's number"),
            method=Term("service", method, SERVICE_METHODS[method]),
        )
    try:
        return serve(
            session,
            document_number=notice.document_number,
            method=method,
            served_on=served_on,
            receipt_number=receipt or None,
            actor=actor.username,
            policy=policy,
        )
    except NoticeError as exc:
        raise ActionRefused("served_on", str(exc), key=exc.key, **exc.params) from None


def account_number_of(typed: str, field: str = "account_number") -> str:
    """A bank account number as typed (often in groups of four) -> its digits; refused unless
    it is 8 to 30 of them. The bank's reply file is checked by the same rule
    (``cases.fields.check_account``)."""
    account = compact_account(typed)
    if account is None:
        low, high = ACCOUNT_DIGITS
        raise ActionRefused(
            field,
            key=N_("{number!r}: an account number is {low} to {high} digits"),
            number=typed,
            low=low,
            high=high,
        )
    return account


def _open_tasks(session: Session, case_id: int, kind: str) -> list[OfficerTask]:
    return list(
        session.execute(
            select(OfficerTask)
            .where(
                col(OfficerTask.case_id) == case_id,
                col(OfficerTask.kind) == kind,
                col(OfficerTask.status) == "open",
            )
            .order_by(col(OfficerTask.due_on), col(OfficerTask.id))
        ).scalars()
    )


def _complete(session: Session, task: OfficerTask, outcome: str) -> None:
    task.status = "done"
    task.outcome = outcome
    task.completed_at = utcnow()
    session.add(task)
