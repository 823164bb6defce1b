"""The officers' and supervisors' case actions: one place to import them from.

Every action is a keyword-only function of ``session``, ``actor``, ``case_id`` and ``today`` (the
agency's business date, never read from the clock) plus its own fields. It checks that the actor
may see the case (``CaseNotFound``) and act (``NotAllowed``), refuses bad input with
``ActionRefused`` naming the field, writes its rows and one event, and changes a status only
through ``cases.states.transition``. The caller commits: the session is the unit of work.

The work is split by noun: contacts (calls, notes, interviews, bank inquiries, service), flags,
disputes, promises and receipts, collateral and deferred-payment agreements, the employer's
statement, approvals, holds (legal challenges, deferrals), assignment, forced-transfer results,
fines, the court application; giving a case back is ``cases.claims``'s and the timeline
``cases.timeline``'s.
"""

from __future__ import annotations

from cases.access import CaseNotFound, NotAllowed
from cases.agreements import sign_agreement
from cases.approvals import (
    WRITE_OFF,
    WRITE_OFF_DOCUMENT_KINDS,
    WriteOffDocumentIn,
    decide_approval,
    gated_steps,
    propose_write_off,
    request_step,
)
from cases.assignment import reassign_cases
from cases.claims import release as release_case
from cases.contacts import (
    CALL_OUTCOMES,
    INTERVIEW_OUTCOMES,
    add_note,
    record_bank_inquiry,
    record_call,
    record_interview,
    record_service,
    schedule_interview,
)
from cases.courts import COURT_OUTCOMES, record_court_filing, record_court_outcome
from cases.disputes import DISPUTE_OUTCOMES, open_dispute, resolve_dispute
from cases.fines import decide_fine, propose_fine
from cases.flags import FLAGS, mark_case, unmark_case
from cases.guarantees import GUARANTEE_KINDS, record_guarantee, release_guarantee
from cases.holds import (
    CHALLENGE_KINDS,
    CHALLENGE_OUTCOMES,
    end_deferral,
    grant_deferral,
    record_challenge,
    record_challenge_outcome,
    revoke_deferral,
)
from cases.notices import SERVICE_METHODS
from cases.promises import PROMISE_MAX_DAYS, Receipt, record_payment, record_promise
from cases.refusals import NOTE_MAX, ActionRefused
from cases.statements import record_statement, review_statement
from cases.timeline import TimelineEntry, case_timeline
from cases.transfers import TRANSFER_RESULTS, record_transfer_execution

__all__ = [
    "CALL_OUTCOMES",
    "CHALLENGE_KINDS",
    "CHALLENGE_OUTCOMES",
    "COURT_OUTCOMES",
    "DISPUTE_OUTCOMES",
    "FLAGS",
    "GUARANTEE_KINDS",
    "INTERVIEW_OUTCOMES",
    "NOTE_MAX",
    "PROMISE_MAX_DAYS",
    "SERVICE_METHODS",
    "TRANSFER_RESULTS",
    "WRITE_OFF",
    "WRITE_OFF_DOCUMENT_KINDS",
    "ActionRefused",
    "CaseNotFound",
    "NotAllowed",
    "Receipt",
    "TimelineEntry",
    "WriteOffDocumentIn",
    "add_note",
    "case_timeline",
    "decide_approval",
    "decide_fine",
    "end_deferral",
    "gated_steps",
    "grant_deferral",
    "mark_case",
    "open_dispute",
    "propose_fine",
    "propose_write_off",
    "reassign_cases",
    "record_bank_inquiry",
    "record_call",
    "record_challenge",
    "record_challenge_outcome",
    "record_court_filing",
    "record_court_outcome",
    "record_guarantee",
    "record_interview",
    "record_payment",
    "record_promise",
    "record_service",
    "record_statement",
    "record_transfer_execution",
    "release_case",
    "release_guarantee",
    "request_step",
    "resolve_dispute",
    "review_statement",
    "revoke_deferral",
    "schedule_interview",
    "sign_agreement",
    "unmark_case",
]
