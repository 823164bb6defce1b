"""Saying the domain's messages in the reader's language: refusals, and the values they carry.

The domain writes its messages in English and, beside them, a message id with parameters
(``cases.messages``). A ``Reader`` translates the id and shows each parameter as the pages do:
amounts with the ``yuan`` filter's function, dates in the agency's format, codes by their labels,
steps by their policy titles. A message written without an id is replaced by a general sentence,
never shown in English to a reader of Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request

from cases.access import NotAllowed, Role
from cases.messages import Explained, Money, Term, Terms, Words
from cases.policy import Policy
from cases.refusals import ActionRefused
from web.auth import language_of
from web.labels import N_, label
from web.pages import ROLE_LABELS, Pages, pages_of, yuan

WRITE_OFF_TITLE = N_("Write-off")  # the one approval that is no rung of the ladder
# How a list of codes is joined: the catalogs hold sentences, not separators.
LIST_SEPARATORS = {"zh_CN": {", ": "、", " or ": "或"}}

# The form's words for the field a refusal names; an action whose form words a field its own
# way says so in ``ACTION_FIELD_LABELS``.
FIELD_LABELS = {
    "amount": N_("Amount (yuan)"),
    "due_on": N_("Pay by"),
    "paid_on": N_("Paid on"),
    "reference": N_("Bank serial number"),
    "note": N_("Note"),
    "outcome": N_("Outcome"),
    "reason": N_("Reason"),
    "flag": N_("Mark as"),
    "date": N_("Date"),
    "on": N_("Date"),
    "place": N_("Place"),
    "bank_name": N_("Bank"),
    "account_number": N_("Account number"),
    "balance": N_("Balance (yuan)"),
    "inquired_on": N_("Inquired on"),
    "notice": N_("Letter"),
    "notice_id": N_("Letter"),
    "method": N_("Method"),
    "served_on": N_("Served on"),
    "receipt_number": N_("Receipt number"),
    "step": N_("Step"),
    "officer": N_("Officer"),
    "case": N_("Case"),
    "cases": N_("Case"),
    "task": N_("Interview"),
    "request": N_("Request"),
    "verdict": N_("Decision"),
    # The enforcement track's forms.
    "asset": N_("Asset (as the contract names it)"),
    "appraised_value": N_("Appraised value (yuan)"),
    "registration_number": N_("Registration number"),
    "registered_on": N_("Registered on"),
    "registered_with": N_("Registering authority"),
    "guarantee": N_("Guarantee"),
    "guarantee_id": N_("Guarantee"),
    "signed_on": N_("Signed on"),
    "instalments": N_("Instalments"),
    "filed_on": N_("Filed on"),
    "body": N_("Reconsideration body or court"),
    "against": N_("Decision challenged"),
    "challenge": N_("Challenge"),
    "challenge_id": N_("Challenge"),
    "decided_on": N_("Decided on"),
    "starts_on": N_("From"),
    "ends_on": N_("Until (last day)"),
    "approval_reference": N_("Provincial approval number"),
    "deferral": N_("Deferral"),
    "deferral_id": N_("Deferral"),
    "ended_on": N_("Last day of the deferral"),
    "result": N_("Result"),
    "executed_on": N_("Transferred on"),
    "multiple": N_("Multiple of the arrears (1 to 3)"),
    "fine": N_("Fine"),
    "fine_id": N_("Fine"),
    "court": N_("Court"),
    "court_reference": N_("Court's case number"),
    "application": N_("Court application"),
    "application_id": N_("Court application"),
}
ACTION_FIELD_LABELS = {
    ("dispute", "reason"): N_("What the employer contests"),
    ("resolve-dispute", "outcome"): N_("Ruling"),
    ("unmark", "flag"): N_("Mark"),
    ("write-off", "reason"): N_("Reason (bankruptcy, deregistration…)"),
    ("write-off", "kind"): N_("Document"),
    ("write-off", "issued_by"): N_("Issued by (court, registration authority)"),
    ("write-off", "reference"): N_("Document number"),
    ("write-off", "issued_on"): N_("Issued on"),
    ("write-off", "documents"): N_("Supporting documents"),
    ("approval", "reason"): N_("Reason for your decision"),
    ("guarantee", "kind"): N_("Mortgage or pledge"),
    ("agreement", "guarantee"): N_("Secured by"),
    ("agreement", "guarantee_id"): N_("Secured by"),
    ("challenge", "kind"): N_("Reconsideration or lawsuit"),
    ("challenge", "reference"): N_("Case number"),
    ("transfer", "amount"): N_("Amount transferred (yuan)"),
    ("decide-fine", "reason"): N_("Reason for your decision"),
    ("court-outcome", "outcome"): N_("Court's decision"),
}
# Labels of ``web.labels`` by the kind a ``Term`` names when the two differ.
_LABEL_KINDS = {"outcome": "call"}


@dataclass(frozen=True)
class Reader:
    """One reader's language, and the policy's step titles to name steps by."""

    pages: Pages
    language: str
    steps: Mapping[str, str]  # step kind -> its title in the policy (Chinese)

    def _(self, message: str) -> str:
        return self.pages.gettext(self.language, message)

    def say(self, key: str, **params: Any) -> str:
        """``key`` translated, its placeholders filled with the values as this reader reads them."""
        return self._(key).format(**{name: self.show(value) for name, value in params.items()})

    def show(self, value: Any) -> str:
        if isinstance(value, Money):
            return yuan(value.fen)
        if isinstance(value, Term):
            return self.term(value.kind, value.code, value.text)
        if isinstance(value, Terms):
            sep = LIST_SEPARATORS.get(self.language, {}).get(value.sep, value.sep)
            return sep.join(self.term(value.kind, code, code) for code in value.codes)
        if isinstance(value, Words):
            return self._(value)
        if isinstance(value, datetime | date):
            return self.day(value)
        if value is None:
            return "—"
        return str(value)

    def day(self, value: date | datetime | str) -> str:
        """A date (or an ISO date as events store it) in the agency's format."""
        if isinstance(value, str):
            value = date.fromisoformat(value)
        return self.pages.agency_date(value, self.language)

    def money(self, value: str | int | Decimal) -> str:
        """An amount as events store it (``"30000.00"`` yuan) or fen, as ``¥30,000.00``."""
        return yuan(Decimal(value) if isinstance(value, str) else value)

    def step(self, code: str | None) -> str:
        """A step by its title in the policy; the code only when the policy has no such step."""
        if not code:
            return ""
        if code == "write_off":
            return self._(WRITE_OFF_TITLE)
        return self.steps.get(code, code)

    def term(self, kind: str, code: str, text: str = "") -> str:
        if kind == "step":
            return self.step(code)
        if kind == "role":
            role = next((r for r in Role if r.value == code), None)
            return self._(ROLE_LABELS[role]) if role else code
        shown = label(_LABEL_KINDS.get(kind, kind), code)
        if shown == code and text and self.language == "en":
            return text  # a code without a label: its English wording reads better than the code
        return self._(shown)

    def explained(self, exc: Explained, fallback: str) -> str:
        """An exception's message in this reader's language; ``fallback`` (a message id) when it
        was written without an id."""
        if exc.key is None:
            return self._(fallback)
        return self.say(exc.key, **exc.params)


def reader_of(request: Request, policy: Policy) -> Reader:
    return Reader(pages_of(request), language_of(request), {s.kind: s.title for s in policy.steps})


def refusal(reader: Reader, exc: ActionRefused, *, action: str | None = None) -> str:
    """A refused action as the page shows it: the field by its form label, then the reason."""
    field = ACTION_FIELD_LABELS.get((action or "", exc.field)) or FIELD_LABELS.get(exc.field)
    reason = reader.say(exc.key, **exc.params) if exc.key else exc.reason
    return reader.say(
        N_("{field_label}: {because}"),
        field_label=reader._(field) if field else exc.field,
        because=reason,
    )


def not_allowed(reader: Reader, exc: NotAllowed) -> str:
    return reader.explained(exc, N_("Your role does not allow this."))
