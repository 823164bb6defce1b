"""The case page's actions: for each form, the ``cases.actions`` service it calls, how its fields
are read (``web.form_fields``), who may post it, and what the page says once it worked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from arrears.wiring import App
from cases import actions
from cases.access import Role
from web import form_fields as form
from web.labels import N_


@dataclass(frozen=True)
class Action:
    """One form of the case page: the service it calls and how it reads the form."""

    label: str  # a message id
    done: str  # a message id: what the page says after it worked
    call: Callable[..., Any]
    fields: Callable[[Mapping[str, str], App], dict[str, Any]]
    roles: tuple[Role, ...] = (Role.OFFICER, Role.SUPERVISOR)


ACTIONS: dict[str, Action] = {
    "call": Action(
        N_("Record a call"),
        N_("Call recorded."),
        actions.record_call,
        lambda f, a: {"outcome": form.text(f, "outcome"), "note": form.optional(f, "note")},
    ),
    "promise": Action(
        N_("Record a promise to pay"),
        N_("Promise recorded."),
        actions.record_promise,
        lambda f, a: {
            "amount": form.amount(f, "amount"),
            "due_on": form.day(f, "due_on"),
            "policy": a.policy,
        },
    ),
    "payment": Action(
        N_("Record a payment"),
        N_("Payment recorded."),
        actions.record_payment,
        lambda f, a: {
            "amount": form.amount(f, "amount"),
            "paid_on": form.day(f, "paid_on"),
            "reference": form.text(f, "reference"),
            "policy": a.policy,
        },
    ),
    "note": Action(
        N_("Add a note"),
        N_("Note added."),
        actions.add_note,
        lambda f, a: {"note": form.text(f, "note")},
    ),
    "mark": Action(
        N_("Mark the employer"),
        N_("Case marked."),
        actions.mark_case,
        lambda f, a: {"flag": form.text(f, "flag"), "reason": form.text(f, "reason")},
    ),
    "unmark": Action(
        N_("Clear a mark"),
        N_("Mark cleared."),
        actions.unmark_case,
        lambda f, a: {"flag": form.text(f, "flag"), "reason": form.text(f, "reason")},
        roles=(Role.SUPERVISOR,),
    ),
    "dispute": Action(
        N_("Open a dispute"),
        N_("Dispute opened: escalation paused."),
        actions.open_dispute,
        lambda f, a: {"reason": form.text(f, "reason")},
    ),
    "resolve-dispute": Action(
        N_("Resolve the dispute"),
        N_("Dispute resolved."),
        actions.resolve_dispute,
        lambda f, a: {"outcome": form.text(f, "outcome"), "reason": form.text(f, "reason")},
        roles=(Role.SUPERVISOR,),
    ),
    "interview": Action(
        N_("Schedule an interview"),
        N_("Interview scheduled."),
        actions.schedule_interview,
        lambda f, a: {
            "on": form.day(f, "on"),
            "place": form.text(f, "place"),
            "note": form.optional(f, "note"),
        },
    ),
    "interview-held": Action(
        N_("Record the interview"),
        N_("Interview recorded."),
        actions.record_interview,
        lambda f, a: {"outcome": form.text(f, "outcome"), "note": form.optional(f, "note")},
    ),
    "bank-inquiry": Action(
        N_("Record a bank-balance inquiry"),
        N_("Bank balance recorded."),
        actions.record_bank_inquiry,
        lambda f, a: {
            "bank_name": form.text(f, "bank_name"),
            "account_number": form.text(f, "account_number"),
            "balance": form.amount(f, "balance"),
            "inquired_on": form.day(f, "inquired_on"),
        },
    ),
    "served": Action(
        N_("Mark a letter served"),
        N_("Service recorded."),
        actions.record_service,
        lambda f, a: {
            "notice_id": form.record_id(f, "notice_id"),
            "served_on": form.day(f, "served_on"),
            "method": form.text(f, "method"),
            "receipt_number": form.optional(f, "receipt_number"),
            "policy": a.policy,
        },
    ),
    "statement": Action(
        N_("Record the employer's statement"),
        N_("Statement recorded."),
        actions.record_statement,
        lambda f, a: {
            "kind": form.text(f, "kind"),
            "received_on": form.day(f, "received_on"),
            "summary": form.text(f, "summary"),
            "policy": a.policy,
        },
    ),
    "review-statement": Action(
        N_("Review the employer's statement"),
        N_("Review recorded."),
        actions.review_statement,
        lambda f, a: {
            "statement_id": form.record_id(f, "statement_id"),
            "outcome": form.text(f, "outcome"),
            "note": form.text(f, "note"),
        },
    ),
    # --- the enforcement track: collateral and agreements, holds, transfers, fines, the court
    "guarantee": Action(
        N_("Record a mortgage or pledge"),
        N_("Guarantee recorded."),
        actions.record_guarantee,
        lambda f, a: {
            "kind": form.text(f, "kind"),
            "asset": form.text(f, "asset"),
            "appraised_value": form.amount(f, "appraised_value"),
            "registration_number": form.text(f, "registration_number"),
            "registered_on": form.day(f, "registered_on"),
            "registered_with": form.optional(f, "registered_with"),
        },
    ),
    "release-guarantee": Action(
        N_("Release a guarantee"),
        N_("Guarantee released."),
        actions.release_guarantee,
        lambda f, a: {
            "guarantee_id": form.record_id(f, "guarantee_id"),
            "reason": form.text(f, "reason"),
        },
    ),
    "agreement": Action(
        N_("Record a deferred-payment agreement"),
        N_("Agreement recorded."),
        actions.sign_agreement,
        lambda f, a: {
            "signed_on": form.day(f, "signed_on"),
            "instalments": form.instalments(f),
            "guarantee_id": form.optional_id(f, "guarantee_id"),
            "policy": a.policy,
        },
    ),
    "challenge": Action(
        N_("Record a reconsideration or lawsuit"),
        N_("Challenge recorded: enforcement waits for its outcome."),
        actions.record_challenge,
        lambda f, a: {
            "kind": form.text(f, "kind"),
            "filed_on": form.day(f, "filed_on"),
            "body": form.text(f, "body"),
            "reference": form.text(f, "reference"),
            "against": form.optional(f, "against"),
        },
    ),
    "challenge-outcome": Action(
        N_("Record a challenge's outcome"),
        N_("Outcome recorded."),
        actions.record_challenge_outcome,
        lambda f, a: {
            "challenge_id": form.record_id(f, "challenge_id"),
            "outcome": form.text(f, "outcome"),
            "decided_on": form.day(f, "decided_on"),
            "note": form.optional(f, "note"),
        },
    ),
    "deferral": Action(
        N_("Grant a force-majeure deferral"),
        N_("Deferral granted."),
        actions.grant_deferral,
        lambda f, a: {
            "starts_on": form.day(f, "starts_on"),
            "ends_on": form.day(f, "ends_on"),
            "approval_reference": form.text(f, "approval_reference"),
            "reason": form.text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "end-deferral": Action(
        N_("End a deferral early"),
        N_("Deferral ended."),
        actions.end_deferral,
        lambda f, a: {
            "deferral_id": form.record_id(f, "deferral_id"),
            "ended_on": form.day(f, "ended_on"),
            "reason": form.text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "revoke-deferral": Action(
        N_("Revoke a deferral"),
        N_("Deferral revoked."),
        actions.revoke_deferral,
        lambda f, a: {
            "deferral_id": form.record_id(f, "deferral_id"),
            "reason": form.text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "transfer": Action(
        N_("Record the bank's forced transfer"),
        N_("Transfer result recorded."),
        actions.record_transfer_execution,
        lambda f, a: {
            "result": form.text(f, "result"),
            "amount": form.transferred(f),
            "executed_on": form.day(f, "executed_on"),
            "reference": form.text(f, "reference"),
            "bank_name": form.text(f, "bank_name"),
            "account_number": form.text(f, "account_number"),
            "note": form.optional(f, "note"),
            "policy": a.policy,
        },
    ),
    "fine": Action(
        N_("Propose a fine"),
        N_("Fine proposed to a supervisor."),
        actions.propose_fine,
        lambda f, a: {
            "multiple": form.multiple(f, "multiple"),
            "reason": form.text(f, "reason"),
            "policy": a.policy,
        },
    ),
    "decide-fine": Action(
        N_("Decide the proposed fine"),
        N_("Fine decided."),
        actions.decide_fine,
        lambda f, a: {
            "fine_id": form.record_id(f, "fine_id"),
            "impose": form.verdict(f),
            "reason": form.text(f, "reason"),
        },
        roles=(Role.SUPERVISOR,),
    ),
    "court-filing": Action(
        N_("Record the court application's filing"),
        N_("Filing recorded."),
        actions.record_court_filing,
        lambda f, a: {
            "filed_on": form.day(f, "filed_on"),
            "court": form.text(f, "court"),
            "court_reference": form.text(f, "court_reference"),
            "calendar": a.policy.calendar,
        },
    ),
    "court-outcome": Action(
        N_("Record the court's decision"),
        N_("Court's decision recorded."),
        actions.record_court_outcome,
        lambda f, a: {
            "application_id": form.record_id(f, "application_id"),
            "outcome": form.text(f, "outcome"),
            "decided_on": form.day(f, "decided_on"),
            "note": form.optional(f, "note"),
        },
    ),
    "enforcement": Action(
        N_("Request an enforcement step"),
        N_("Request sent to a supervisor."),
        actions.request_step,
        lambda f, a: {
            "step": form.text(f, "step"),
            "reason": form.text(f, "reason"),
            "policy": a.policy,
        },
    ),
    "write-off": Action(
        N_("Propose a write-off"),
        N_("Write-off proposed to a supervisor."),
        actions.propose_write_off,
        lambda f, a: {"reason": form.text(f, "reason"), "documents": [form.write_off_document(f)]},
    ),
    "release": Action(
        N_("Give the case back to the queue"),
        N_("Case returned to the queue."),
        actions.release_case,
        lambda f, a: {},
    ),
}
