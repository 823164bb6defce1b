"""A case's timeline in the reader's language.

Each event is described from its kind, step and data with a message per kind; its stored
``message`` is the English record of the log, shown only when the event lacks the data its
description needs (rows written before the data was kept). Notices are described from their
channel, step (by its policy title), document, status and service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cases.deliveries import PROVIDER_ERRORS, UNKNOWN_PROVIDER_ERROR
from cases.timeline import TimelineEntry
from notifications.letter_context import KIND_LABELS, TITLES
from web.explain import Reader
from web.labels import N_, label

NIGHTLY_ACTOR = "system:escalation"

# Clauses of one description are joined by these, so a translation punctuates them its own way.
THEN = N_("{first}; {then}")
BECAUSE = N_("{what}: {reason}")
SAID = N_("{what}. {note}")

STATUS_CAUSES = {
    "promise_made": N_(
        "the employer promised to pay {amount} by {day}; escalation pauses until then"
    ),
    "dispute_opened": N_("the employer disputes the arrears: {reason}"),
    "promise_broken": N_("promise broken, escalation resumes"),
    "promise_kept": N_("promise kept, escalation resumes on what is left"),
    "settled": N_("principal and late fees settled"),
    "write_off": N_("write-off approved: {reason}"),
    "challenge_decided": N_("{outcome}: an officer reviews the case"),
}
DISPUTE_RULINGS = {
    "upheld": N_("dispute upheld, escalation resumes: {reason}"),
    "rejected": N_("dispute rejected, escalation resumes: {reason}"),
}
ITEM_CHANGES = {
    "amount_due": N_("amount due {old} → {new}"),
    "due_date": N_("due date {old} → {new}"),
    "kind": N_("kind {old} → {new}"),
}
EMPLOYER_FIELDS = {
    "name": N_("Name"),
    "district": N_("District"),
    "contact_name": N_("Contact"),
    "mobile": N_("Mobile"),
    "address": N_("Address"),
}
SEND_OUTCOMES = {
    "outbox": N_("{channel} to {recipient}: kept in the outbox"),
    "unknown": N_("{channel} to {recipient}: outcome unknown"),
    "failed": N_("{channel} to {recipient}: not sent"),
}


class _Missing(Exception):
    """The event lacks what its description needs: its stored message is shown instead."""


def actor_name(reader: Reader, actor: str | None) -> str:
    """Who acted: a user by name, the system's components in words."""
    if not actor:
        return ""
    if actor == NIGHTLY_ACTOR:
        return reader._(N_("Nightly run"))
    if actor.startswith("system:"):
        return reader._(N_("System"))
    return actor


def words(reader: Reader) -> dict[str, Any]:
    """What the templates use to say the store's codes and events in the reader's language."""

    def task_name(kind: str) -> str:
        return reader._(N_("Interview")) if kind == "interview" else reader.step(kind)

    return {
        "describe": lambda entry: describe(reader, entry),
        "actor_name": lambda actor: actor_name(reader, actor),
        "step_title": reader.step,
        "task_name": task_name,
    }


def describe(reader: Reader, entry: TimelineEntry) -> str:
    """The entry in the reader's language (its stored message when the data falls short)."""
    if entry.kind == "notice":
        return _notice(reader, entry)
    describer = _BY_KIND.get(entry.kind) or _by_prefix(entry.kind)
    if describer is None:
        return entry.message
    try:
        return describer(reader, entry, entry.data or {})
    except (_Missing, KeyError, TypeError, ValueError, InvalidOperation):
        return entry.message


def _by_prefix(kind: str) -> _Describer | None:
    for prefix, describer in _BY_PREFIX.items():
        if kind.startswith(prefix):
            return describer
    return None


def _need(data: Mapping[str, Any], *names: str) -> None:
    if any(data.get(name) is None for name in names):
        raise _Missing(names)


def _with_reason(reader: Reader, what: str, reason: str | None) -> str:
    return reader.say(BECAUSE, what=what, reason=reason) if reason else what


def _with_note(reader: Reader, what: str, note: str | None) -> str:
    return reader.say(SAID, what=what, note=note) if note else what


def _status(reader: Reader, code: str) -> str:
    return reader._(label("status", code))


# --- events ---------------------------------------------------------------------------------


def _status_changed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "from", "to", "cause")
    change = reader.say(
        N_("{old} → {new}"), old=_status(reader, d["from"]), new=_status(reader, d["to"])
    )
    cause = d["cause"]
    if cause == "dispute_resolved":
        why = reader.say(DISPUTE_RULINGS[d["outcome"]], reason=d["reason"])
    elif cause == "court_decided":
        why = _with_note(
            reader,
            reader.say(
                N_("the court application was {outcome}: the officer decides what follows"),
                outcome=reader._(label("court", d["outcome"])),
            ),
            d.get("reason"),
        )
    elif cause == "promise_made":
        why = reader.say(
            STATUS_CAUSES[cause], amount=reader.money(d["amount"]), day=reader.day(d["due_on"])
        )
    elif cause == "challenge_decided":
        outcome = reader._(label("challenge_outcome", d["outcome"]))
        why = reader.say(STATUS_CAUSES[cause], outcome=outcome)
    else:
        why = reader.say(STATUS_CAUSES[cause], reason=d.get("reason") or "")
    return reader.say(BECAUSE, what=change, reason=why)


def _step_taken(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "level")
    if not e.step:
        raise _Missing("step")
    return reader.say(
        N_("Escalated to step {level}: {title}"), level=d["level"], title=reader.step(e.step)
    )


def _approval_requested(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    step = d.get("step") or e.step
    if not step:
        raise _Missing("step")
    what = reader.step(step)
    if d.get("reason"):
        asked = reader.say(
            N_("Asked a supervisor to approve {what}: {reason}"), what=what, reason=d["reason"]
        )
        papers = [
            reader.say(
                N_("{document} {reference} of {issued_by}, issued {day}"),
                document=reader._(label("write_off_document", one["kind"])),
                reference=one["reference"],
                issued_by=one["issued_by"],
                day=reader.day(one["issued_on"]),
            )
            for one in d.get("documents") or []
        ]
        return _with_note(reader, asked, _joined(reader, papers) if papers else None)
    if e.actor != NIGHTLY_ACTOR:
        raise _Missing("reason")
    return reader.say(N_("{what} awaits a supervisor's approval"), what=what)


def _approval_decided(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "step", "reason")
    key = (
        N_("Approved {what}: {reason}")
        if e.kind == "approval_granted"
        else N_("Rejected {what}: {reason}")
    )
    return reader.say(key, what=reader.step(d["step"]), reason=d["reason"])


def _promise_made(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_("Recorded the employer's promise to pay {amount} by {day}"),
        amount=reader.money(d["amount"]),
        day=reader.day(d["due_on"]),
    )


def _promise_withdrawn(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_("Promise of {amount} by {day} (made {made}) withdrawn: a new promise was recorded"),
        amount=reader.money(d["amount"]),
        day=reader.day(d["due_on"]),
        made=reader.day(d["made_on"]),
    )


def _promise_kept(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_("Promise of {amount} by {day} kept: {paid} paid since {made}"),
        amount=reader.money(d["amount"]),
        day=reader.day(d["due_on"]),
        paid=reader.money(d["paid"]),
        made=reader.day(d["made_on"]),
    )


def _payment_received(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    credit = reader.money(d["credit"]) if d.get("credit") not in (None, "0.00") else None
    key = (
        N_(
            "Payment of {amount} on {day} (bank serial {reference}): principal {principal}, "
            "late fee {fee}, credit {credit}; now owed {owed}"
        )
        if credit
        else N_(
            "Payment of {amount} on {day} (bank serial {reference}): principal {principal}, "
            "late fee {fee}; now owed {owed}"
        )
    )
    return reader.say(
        key,
        amount=reader.money(d["amount"]),
        day=reader.day(d["paid_on"]),
        reference=d["reference"],
        principal=reader.money(d["principal"]),
        fee=reader.money(d["late_fee"]),
        credit=credit,
        owed=reader.money(d["total_due"]),
    )


def _note(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(N_("Note: {note}"), note=d["note"])


def _call(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = reader.say(
        N_("Called the employer: {outcome}"), outcome=reader._(label("call", d["outcome"]))
    )
    return _with_note(reader, what, d.get("note"))


def _interview_scheduled(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = reader.say(
        N_("Interview with the employer scheduled on {day} at {place}"),
        day=reader.day(d["on"]),
        place=d["place"],
    )
    return _with_note(reader, what, d.get("note"))


def _interview_held(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    if "on" not in d and d.get("task_id") is not None:
        raise _Missing("on")  # written before the interview's date was kept
    came = e.kind == "interview_attended"
    if d.get("on"):
        key = (
            N_("The employer came to the interview set for {day}")
            if came
            else N_("The employer did not come to the interview set for {day}")
        )
        what = reader.say(key, day=reader.day(d["on"]))
    else:
        what = reader._(
            N_("The employer came to the interview")
            if came
            else N_("The employer did not come to the interview")
        )
    return _with_note(reader, what, d.get("note"))


def _bank_inquiry(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_("Balance of the {bank} account ending {last4}: {balance} on {day}"),
        bank=d["bank_name"],
        last4=str(d["account_number"])[-4:],
        balance=reader.money(d["balance"]),
        day=reader.day(d["inquired_on"]),
    )


def _statement(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "received_on")
    if e.kind == "statement_none_made":
        what = reader.say(
            N_("No statement or defence made by {day}"), day=reader.day(d["received_on"])
        )
    else:
        what = reader.say(
            N_("The employer's statement and defence of {day} recorded"),
            day=reader.day(d["received_on"]),
        )
    return what


def _statement_reviewed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "outcome")
    what = reader.say(
        N_("Statement reviewed: {outcome}"), outcome=reader._(label("review", d["outcome"]))
    )
    return _with_note(reader, what, d.get("note"))


def _notice_served(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = reader.say(
        N_("{number} served on {day} ({method})"),
        number=d["document_number"],
        day=reader.day(d["served_on"]),
        method=reader._(label("service", d["method"])),
    )
    if d.get("deadline_on"):
        then = reader.say(
            N_("the employer's time limit runs to {day}"), day=reader.day(d["deadline_on"])
        )
        return reader.say(THEN, first=what, then=then)
    if d.get("missing_calendar_year"):
        then = reader.say(
            N_("deadline not set: no holiday calendar for {year}"), year=d["missing_calendar_year"]
        )
        return reader.say(THEN, first=what, then=then)
    return what


def _letter_issued(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "document_number")
    title = d.get("title") or TITLES[d["document_type"]]
    if d.get("pages"):
        return reader.say(
            N_("{title} {number} issued ({pages} page(s))"),
            title=title,
            number=d["document_number"],
            pages=d["pages"],
        )
    return reader.say(N_("{title} {number} issued"), title=title, number=d["document_number"])


def _case_reassigned(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = (
        reader.say(N_("Gave the case to {new} (from {old})"), new=d["to"], old=d["from"])
        if d.get("from")
        else reader.say(N_("Gave the case to {new}"), new=d["to"])
    )
    return _with_reason(reader, what, d.get("reason"))


def _marked(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    flag = reader._(label("flag", d["flag"]))
    key = (
        N_("Took back the mark: {flag}")
        if e.kind.startswith("unmarked_")
        else N_("Marked the employer: {flag}")
    )
    return _with_reason(reader, reader.say(key, flag=flag), d.get("reason"))


def _dispute_opened(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = reader._(N_("Recorded that the employer disputes the arrears"))
    return _with_reason(reader, what, d["reason"])


def _dispute_resolved(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    rulings = {
        "upheld": N_("Upheld the employer's dispute"),
        "rejected": N_("Rejected the dispute"),
    }
    return _with_reason(reader, reader._(rulings[d["outcome"]]), d.get("reason"))


def _court_filed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_(
            "Application {number} filed with {court} on {day} ({reference}); the window to "
            "apply closes on {closes}"
        ),
        number=d["document_number"],
        court=d["court"],
        day=reader.day(d["filed_on"]),
        reference=d["court_reference"],
        closes=reader.day(d["window_closes_on"]),
    )


def _court_decided(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    what = reader.say(
        N_("{court}, {day}: {outcome} ({reference})"),
        court=d["court"],
        day=reader.day(d["decided_on"]),
        outcome=reader._(label("court", d["outcome"])),
        reference=d["court_reference"],
    )
    return _with_note(reader, what, d.get("note"))


def _challenge_filed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "kind", "reference", "body", "filed_on")
    said = reader.say(
        N_("{kind} {reference} filed with {body} on {day}: enforcement waits for its outcome"),
        kind=reader._(label("challenge", d["kind"])),
        reference=d["reference"],
        body=d["body"],
        day=reader.day(d["filed_on"]),
    )
    if d.get("against"):
        return reader.say(N_("{what} (against {against})"), what=said, against=d["against"])
    return said


def _challenge_decided(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "kind", "reference", "outcome", "decided_on")
    said = reader.say(
        N_("{kind} {reference} decided on {day}: {outcome}"),
        kind=reader._(label("challenge", d["kind"])),
        reference=d["reference"],
        day=reader.day(d["decided_on"]),
        outcome=reader._(label("challenge_outcome", d["outcome"])),
    )
    return _with_note(reader, said, d.get("note"))


def _deferral(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "reason")
    if e.kind == "deferral_granted":
        _need(d, "starts_on", "ends_on", "approval_reference")
        what = reader.say(
            N_("Granted a force-majeure deferral {start} to {end} (approval {approval})"),
            start=reader.day(d["starts_on"]),
            end=reader.day(d["ends_on"]),
            approval=d["approval_reference"],
        )
    elif e.kind == "deferral_ended":
        _need(d, "approval_reference", "ended_on")
        what = reader.say(
            N_("Ended the deferral {approval} early: its last day was {day}"),
            approval=d["approval_reference"],
            day=reader.day(d["ended_on"]),
        )
    else:
        _need(d, "approval_reference")
        what = reader.say(N_("Revoked the deferral {approval}"), approval=d["approval_reference"])
    return _with_reason(reader, what, d["reason"])


def _transfer_executed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "result", "amount", "requested", "bank_name", "account_number", "executed_on")
    what = reader.say(
        N_(
            "Forced transfer under {number}: {result}, {amount} of the {requested} ordered, "
            "from {bank} account ending {tail} on {day} (bank serial number {reference})"
        ),
        number=d.get("document_number"),
        result=reader._(label("transfer", d["result"])),
        amount=reader.money(d["amount"]),
        requested=reader.money(d["requested"]),
        bank=d["bank_name"],
        tail=d["account_number"][-4:],
        day=reader.day(d["executed_on"]),
        reference=d.get("reference"),
    )
    return _with_note(reader, what, d.get("note"))


def _fine(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "amount", "reason")
    if e.kind == "fine_proposed":
        _need(d, "multiple", "arrears")
        what = reader.say(
            N_("Proposed a fine of {amount} ({multiple} times the arrears of {arrears})"),
            amount=reader.money(d["amount"]),
            multiple=d["multiple"],
            arrears=reader.money(d["arrears"]),
        )
    elif e.kind == "fine_imposed":
        what = reader.say(N_("Imposed the fine of {amount}"), amount=reader.money(d["amount"]))
    else:
        what = reader.say(
            N_("Rejected the proposed fine of {amount}"), amount=reader.money(d["amount"])
        )
    return _with_reason(reader, what, d["reason"])


def _claimed(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader._(N_("Took the case from the queue"))


def _released(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader._(N_("Gave the case back to the queue"))


def _items(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    items = d["items"]
    total = sum(Decimal(i["amount_due"]) for i in items)
    key = (
        N_("Case opened with {count} arrears item(s), {total} principal, from {source}")
        if e.kind == "case_opened"
        else N_("Added {count} arrears item(s), {total} principal, from {source}")
    )
    return reader.say(key, count=len(items), total=reader.money(total), source=d["source"])


def _item_corrected(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    shown = []
    for name, change in d["changes"].items():
        old, new = change["from"], change["to"]
        if name == "amount_due":
            old, new = reader.money(old), reader.money(new)
        elif name == "due_date":
            old, new = reader.day(old), reader.day(new)
        elif name == "kind":
            old, new = KIND_LABELS.get(old, old), KIND_LABELS.get(new, new)
        shown.append(reader.say(ITEM_CHANGES[name], old=old, new=new))
    return reader.say(
        N_("{period} {insurance} corrected: {changes}"),
        period=d["period"],
        insurance=reader._(label("insurance", d["insurance"])),
        changes=_joined(reader, shown),
    )


def _employer_updated(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    shown = [
        reader.say(
            N_("{what}: {old} → {new}"),
            what=reader._(EMPLOYER_FIELDS[name]),
            old=change["from"] or "—",
            new=change["to"] or "—",
        )
        for name, change in d["changes"].items()
    ]
    return reader.say(N_("Employer details changed: {changes}"), changes=_joined(reader, shown))


def _joined(reader: Reader, parts: list[str]) -> str:
    if not parts:
        raise _Missing("changes")
    text = parts[0]
    for part in parts[1:]:
        text = reader.say(THEN, first=text, then=part)
    return text


def _first_overdue(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(
        N_("First overdue date moved from {old} to {new}: an older arrears item was added"),
        old=reader.day(d["from"]),
        new=reader.day(d["to"]),
    )


def _channel(reader: Reader, code: str) -> str:
    return reader._(label("channel", code))


def _notice_status(reader: Reader, code: str) -> str:
    return reader._(label("notice", code))


def provider_error(reader: Reader, code: int | None, text: str | None) -> str | None:
    """A provider's error in the reader's language when its code is known; its own words if not."""
    if code is not None:
        known = PROVIDER_ERRORS.get(code)
        return reader._(known) if known else reader.say(UNKNOWN_PROVIDER_ERROR, code=code)
    return text


def _delivery_status(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "channel", "from", "to")
    what = reader.say(
        N_("{channel} of {step}: {old} → {new}"),
        channel=_channel(reader, d["channel"]),
        step=reader.step(e.step),
        old=_notice_status(reader, d["from"]),
        new=_notice_status(reader, d["to"]),
    )
    error = provider_error(reader, d.get("error_code"), None)
    return reader.say(THEN, first=what, then=error) if error else what


def _fallback(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader._(N_("The SMS did not reach the employer; a reminder letter is planned instead"))


def _sms_reply(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    return reader.say(N_("SMS reply from {number}: {body}"), number=d["from"], body=d["body"])


def _opt(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    key = (
        N_("{number} opted out of SMS: letters instead")
        if e.kind == "sms_opt_out"
        else N_("{number} opted back in to SMS")
    )
    return reader.say(key, number=d["number"])


def _reconciled(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "channel", "recipient")
    return reader.say(
        N_("{channel} to {recipient} had reached the provider; not sent again"),
        channel=_channel(reader, d["channel"]),
        recipient=d["recipient"],
    )


def _sent(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "channel", "recipient", "status")
    status = d["status"]
    key = SEND_OUTCOMES.get(status) or N_("{channel} to {recipient}: {status}")
    what = reader.say(
        key,
        channel=_channel(reader, d["channel"]),
        recipient=d["recipient"],
        status=_notice_status(reader, status),
    )
    if status == "outbox":
        return what  # its error only says again that no provider is configured
    error = provider_error(reader, d.get("error_code"), d.get("error"))
    return reader.say(THEN, first=what, then=error) if error else what


def _deferred(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    _need(d, "step", "missing_calendar_year")
    return reader.say(
        N_("{step} put off: no holiday calendar for {year} yet"),
        step=reader.step(d["step"]),
        year=d["missing_calendar_year"],
    )


def _collateral(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    if e.kind == "collateral_released":
        return reader.say(
            N_("Guarantee released (registration {number}): {reason}"),
            number=d["registration_number"],
            reason=d["reason"],
        )
    key = (
        N_(
            "{kind} of {asset} appraised at {value} recorded: registration {number} of {day} "
            "with {authority}"
        )
        if d.get("registered_with")
        else N_("{kind} of {asset} appraised at {value} recorded: registration {number} of {day}")
    )
    return reader.say(
        key,
        kind=reader._(label("guarantee", d["kind"])),
        asset=d["asset"],
        value=reader.money(d["appraised_value"]),
        number=d["registration_number"],
        day=reader.day(d["registered_on"]),
        authority=d.get("registered_with"),
    )


def _agreement(reader: Reader, e: TimelineEntry, d: Mapping[str, Any]) -> str:
    if e.kind == "agreement_signed":
        return reader.say(
            N_("Deferred-payment agreement signed on {day}: {count} instalment(s), {total} in all"),
            day=reader.day(d["signed_on"]),
            count=len(d["instalments"]),
            total=reader.money(d["total"]),
        )
    if e.kind == "agreement_breached":
        return reader.say(
            N_(
                "Deferred-payment agreement breached: instalment {seq} of {amount} due {day} "
                "was not paid in full ({missing} missing); escalation resumes"
            ),
            seq=d["seq"],
            amount=reader.money(d["amount"]),
            day=reader.day(d["due_on"]),
            missing=reader.money(d["missing"]),
        )
    _need(d, "by")
    return reader._(
        N_("Deferred-payment agreement completed: every instalment paid")
        if d["by"] == "instalments"
        else N_("Deferred-payment agreement completed: the case's debt is paid")
    )


_Describer = Callable[[Reader, TimelineEntry, Mapping[str, Any]], str]
_BY_KIND: dict[str, _Describer] = {
    "status_changed": _status_changed,
    "step_taken": _step_taken,
    "approval_requested": _approval_requested,
    "approval_granted": _approval_decided,
    "approval_rejected": _approval_decided,
    "promise_made": _promise_made,
    "promise_withdrawn": _promise_withdrawn,
    "promise_kept": _promise_kept,
    "payment_received": _payment_received,
    "note": _note,
    "interview_scheduled": _interview_scheduled,
    "interview_attended": _interview_held,
    "interview_missed": _interview_held,
    "bank_inquiry_recorded": _bank_inquiry,
    "statement_recorded": _statement,
    "statement_none_made": _statement,
    "statement_reviewed": _statement_reviewed,
    "notice_served": _notice_served,
    "letter_issued": _letter_issued,
    "case_reassigned": _case_reassigned,
    "dispute_opened": _dispute_opened,
    "dispute_resolved": _dispute_resolved,
    "court_filed": _court_filed,
    "court_decided": _court_decided,
    "challenge_filed": _challenge_filed,
    "challenge_decided": _challenge_decided,
    "deferral_granted": _deferral,
    "deferral_ended": _deferral,
    "deferral_revoked": _deferral,
    "transfer_executed": _transfer_executed,
    "fine_proposed": _fine,
    "fine_imposed": _fine,
    "fine_rejected": _fine,
    "case_claimed": _claimed,
    "case_released": _released,
    "case_opened": _items,
    "items_added": _items,
    "item_corrected": _item_corrected,
    "employer_updated": _employer_updated,
    "first_overdue_changed": _first_overdue,
    "delivery_status": _delivery_status,
    "fallback_planned": _fallback,
    "sms_reply": _sms_reply,
    "sms_opt_out": _opt,
    "sms_opt_in": _opt,
    "notice_reconciled": _reconciled,
    "notice_sent": _sent,
    "notice_failed": _sent,
    "step_deferred": _deferred,
}
# Kinds named after what they carry: call_answered, call_no_answer (the CLI's), marked_malicious.
_BY_PREFIX: dict[str, _Describer] = {
    "call_": _call,
    "marked_": _marked,
    "unmarked_": _marked,
    "collateral_": _collateral,
    "agreement_": _agreement,
}


# --- notices --------------------------------------------------------------------------------


def _notice(reader: Reader, n: TimelineEntry) -> str:
    if n.channel == "letter":
        title = TITLES.get(n.document_type or "") or reader.step(n.step)
        what = f"{title} {n.document_number}" if n.document_number else title
    elif n.channel in ("sms", "voice") and n.recipient:
        what = reader.say(
            N_("{step} to {recipient}"), step=reader.step(n.step), recipient=n.recipient
        )
    else:
        what = reader.step(n.step)
    if n.served_on:
        served = reader.say(
            N_("served {day} ({method})"),
            day=reader.day(n.served_on),
            method=reader._(label("service", n.service_method)),
        )
        what = reader.say(THEN, first=what, then=served)
    if n.deadline_on:
        deadline = reader.say(N_("deadline {day}"), day=reader.day(n.deadline_on))
        what = reader.say(THEN, first=what, then=deadline)
    error = provider_error(reader, n.error_code, n.error)
    if error:
        what = reader.say(THEN, first=what, then=error)
    return what
