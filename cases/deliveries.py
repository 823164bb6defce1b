"""What became of each SMS and call: provider statuses, replies, opt-outs, fallbacks.

Statuses only move forward (queued → sending → sent → delivered / undelivered / failed): Twilio
may call back late, twice, or out of order, and a replay must change nothing. An SMS that ends
undelivered or failed is not the end of the rung: the case gets the step's letter instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlmodel import Session, col

from cases.messages import N_
from cases.models import Case, CaseEvent, Employer, Notice, utcnow

# Rank of each provider status; a callback whose rank is not higher than the notice's changes
# nothing. Terminal statuses share the top rank, so the first one reported stands.
STATUS_RANK = {
    "planned": 0,
    "sending": 1,
    "unknown": 1,
    "accepted": 2,
    "scheduled": 2,
    "queued": 2,
    "initiated": 2,  # calls
    "ringing": 3,  # calls
    "in-progress": 4,  # calls
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "completed": 5,  # calls
    "busy": 5,  # calls
    "no-answer": 5,  # calls
    "canceled": 5,
    "read": 6,  # after delivered (WhatsApp/RCS; harmless for SMS)
}
FAILED = frozenset({"undelivered", "failed", "busy", "no-answer", "canceled"})
OPT_OUT_ERROR = 21610  # Twilio: the recipient replied STOP to this sender

OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "td", "退订", "取消", "退定"}
)
OPT_IN_WORDS = frozenset({"start", "yes", "unstop", "订阅", "恢复"})


def normalise_number(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class StatusOutcome:
    notice_id: int | None
    changed: bool
    status: str | None
    fallback_planned: bool = False
    opted_out: bool = False


def apply_status(
    session: Session,
    *,
    provider_id: str,
    status: str,
    error_code: int | None,
    on_date: date,
    actor: str = "twilio",
) -> StatusOutcome:
    """Record a provider status callback; older or repeated statuses change nothing."""
    # Locked: Twilio often reports "sent" and "delivered" within milliseconds, and two callbacks
    # reading the same old status must not both write (and so move the status backwards).
    notice = session.execute(
        select(Notice).where(col(Notice.provider_id) == provider_id).with_for_update()
    ).scalar_one_or_none()
    if notice is None or notice.id is None:
        return StatusOutcome(None, False, None)
    status = status.strip().lower()
    old = notice.status
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(old, -1):
        return StatusOutcome(notice.id, False, old)
    notice.status = status
    if error_code is not None:
        notice.error_code = error_code
        notice.error = provider_error_text(error_code)
    notice.updated_at = utcnow()
    session.add(notice)
    message = f"{notice.channel} {notice.step}: {old} → {status}"
    if error_code is not None:
        message += f" (error {error_code}: {provider_error_text(error_code)})"
    _event(
        session,
        notice.case_id,
        kind="delivery_status",
        on_date=on_date,
        actor=actor,
        step=notice.step,
        message=message,
        data={
            "provider_id": provider_id,
            "from": old,
            "to": status,
            "error_code": error_code,
            "channel": notice.channel,
        },
    )
    opted_out = False
    if error_code == OPT_OUT_ERROR and notice.recipient:
        opted_out = (
            set_opt_out(
                session,
                number=notice.recipient,
                opted_out=True,
                on_date=on_date,
                actor=actor,
                why=f"Twilio error {OPT_OUT_ERROR}: the recipient has opted out",
            )
            > 0
        )
    fallback = False
    if status in FAILED and notice.channel == "sms":
        fallback = plan_fallback(session, notice, on_date=on_date, actor=actor, why=message)
    return StatusOutcome(notice.id, True, status, fallback, opted_out)


def plan_fallback(session: Session, notice: Notice, *, on_date: date, actor: str, why: str) -> bool:
    """Plan the step's letter when its SMS could not reach the employer (once per step)."""
    key = f"{notice.case_id}:{notice.step}:letter:fallback"
    exists = session.execute(
        select(col(Notice.id)).where(col(Notice.business_key) == key)
    ).scalar_one_or_none()
    if exists is not None:
        return False
    session.add(
        Notice(
            case_id=notice.case_id,
            business_key=key,
            step=notice.step,
            level=notice.level,
            channel="letter",
            document_type="reminder_letter",
            status="planned",
            issued_on=on_date,
        )
    )
    _event(
        session,
        notice.case_id,
        kind="fallback_planned",
        on_date=on_date,
        actor=actor,
        step=notice.step,
        message=f"the SMS did not reach the employer; a reminder letter is planned instead ({why})",
        data={"from_notice": notice.id},
    )
    return True


@dataclass(frozen=True)
class InboundOutcome:
    number: str | None
    employers: int
    action: str  # "opted_out" | "opted_in" | "reply" | "unknown_number"


def record_inbound(
    session: Session, *, from_number: str, body: str, on_date: date, actor: str = "twilio"
) -> InboundOutcome:
    """An SMS from an employer: STOP / 退订 opts the number out, START / 订阅 back in."""
    number = normalise_number(from_number)
    if number is None:
        return InboundOutcome(None, 0, "unknown_number")
    word = body.strip().lower().rstrip("。.!！")
    if word in OPT_OUT_WORDS:
        count = set_opt_out(
            session,
            number=number,
            opted_out=True,
            on_date=on_date,
            actor=actor,
            why=f"replied {body.strip()!r}",
        )
        return InboundOutcome(number, count, "opted_out")
    if word in OPT_IN_WORDS:
        count = set_opt_out(
            session,
            number=number,
            opted_out=False,
            on_date=on_date,
            actor=actor,
            why=f"replied {body.strip()!r}",
        )
        return InboundOutcome(number, count, "opted_in")
    employers = _employers_with(session, number)
    for employer in employers:
        case_id = _current_case(session, employer)
        if case_id is not None:
            _event(
                session,
                case_id,
                kind="sms_reply",
                on_date=on_date,
                actor=actor,
                step=None,
                message=f"SMS reply from {number}: {body.strip()[:500]}",
                data={"from": number, "body": body.strip()[:1000]},
            )
    return InboundOutcome(number, len(employers), "reply" if employers else "unknown_number")


def set_opt_out(
    session: Session, *, number: str, opted_out: bool, on_date: date, actor: str, why: str
) -> int:
    """Mark every employer with this mobile number; returns how many changed."""
    changed = 0
    for employer in _employers_with(session, number):
        if employer.sms_opted_out == opted_out:
            continue
        employer.sms_opted_out = opted_out
        employer.updated_at = utcnow()
        session.add(employer)
        changed += 1
        case_id = _current_case(session, employer)
        if case_id is not None:
            what = "opted out of SMS: letters instead" if opted_out else "opted back in to SMS"
            _event(
                session,
                case_id,
                kind="sms_opt_out" if opted_out else "sms_opt_in",
                on_date=on_date,
                actor=actor,
                step=None,
                message=f"{number} {what} ({why})",
                data={"number": number},
            )
    return changed


def provider_error_text(code: int) -> str:
    """Twilio's error codes in words an officer can act on."""
    return PROVIDER_ERRORS.get(code, UNKNOWN_PROVIDER_ERROR.format(code=code))


# Marked for the catalogs: the web app says a notice's error in the reader's language by its code.
UNKNOWN_PROVIDER_ERROR = N_("the SMS provider refused the message (code {code})")

PROVIDER_ERRORS = {
    21211: N_("the mobile number is not valid"),
    21214: N_("the number cannot receive calls or messages"),
    21408: N_("sending to this region is not enabled on the account"),
    21610: N_("the recipient has opted out of messages from this sender"),
    21612: N_("the provider cannot route to this number"),
    21614: N_("the number is not a mobile number"),
    30003: N_("the handset is switched off or unreachable"),
    30004: N_("the message was blocked by the recipient or the carrier"),
    30005: N_("the number is unknown to the carrier"),
    30006: N_("the number is a landline or cannot receive SMS"),
    30007: N_("the carrier filtered the message"),
    30008: N_("delivery failed for an unknown reason"),
}


def _employers_with(session: Session, number: str) -> list[Employer]:
    return list(session.execute(select(Employer).where(col(Employer.mobile) == number)).scalars())


def _current_case(session: Session, employer: Employer) -> int | None:
    case_id: int | None = session.execute(
        select(col(Case.id))
        .where(col(Case.employer_id) == employer.id)
        .order_by(col(Case.closed_on).is_not(None), col(Case.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    return case_id


def _event(
    session: Session,
    case_id: int,
    *,
    kind: str,
    on_date: date,
    actor: str,
    step: str | None,
    message: str,
    data: dict[str, Any],
) -> None:
    session.add(
        CaseEvent(
            case_id=case_id,
            on_date=on_date,
            kind=kind,
            actor=actor,
            step=step,
            message=message,
            data=data,
        )
    )
