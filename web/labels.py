"""Words for the codes the store keeps (statuses, outcomes, flags), as message ids.

Templates show ``label("status", code)``, translated; a code without a label is shown as it is,
so a new code never breaks a page.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for the catalogs; it is translated where it is shown."""
    return message


LABELS: dict[str, dict[str, str]] = {
    "status": {
        "open": N_("Open"),
        "promised": N_("Promised to pay"),
        "disputed": N_("Disputed"),
        "on_hold": N_("On hold"),
        "closed_paid": N_("Closed (paid)"),
        "written_off": N_("Written off"),
    },
    "call": {
        "answered": N_("Answered"),
        "no_answer": N_("No answer"),
        "refused": N_("Refused to talk"),
        "wrong_number": N_("Wrong number"),
        "left_message": N_("Left a message"),
        "promised": N_("Promised to pay"),
    },
    "interview": {"attended": N_("Attended"), "not_attended": N_("Did not attend")},
    "flag": {"uncooperative": N_("Uncooperative"), "malicious": N_("Malicious or refusing")},
    "dispute": {
        "upheld": N_("Upheld (the employer is right)"),
        "rejected": N_("Rejected (the arrears stand)"),
    },
    "service": {
        "in_person": N_("In person"),
        "left_at_premises": N_("Left at the premises"),
        "post": N_("By post"),
        "public_announcement": N_("Public announcement"),
    },
    "approval": {
        "pending": N_("Pending"),
        "approved": N_("Approved"),
        "rejected": N_("Rejected"),
    },
    "channel": {
        "sms": N_("SMS"),
        "voice": N_("Voice call"),
        "letter": N_("Letter"),
        "officer_task": N_("Officer task"),
    },
    # A notice's state: ours (planned → printed → served; an officer's task) and the SMS and
    # voice provider's (Twilio's words).
    "notice": {
        "planned": N_("Planned"),
        "numbered": N_("Numbered"),
        "printed": N_("Printed"),
        "served": N_("Served"),
        "task_open": N_("Task open"),
        "done": N_("Done"),
        "sending": N_("Sending"),
        "unknown": N_("Outcome unknown"),
        "outbox": N_("Kept in the outbox"),
        "accepted": N_("Accepted by the provider"),
        "scheduled": N_("Scheduled"),
        "queued": N_("Queued"),
        "initiated": N_("Call started"),
        "ringing": N_("Ringing"),
        "in-progress": N_("Call in progress"),
        "sent": N_("Sent"),
        "delivered": N_("Delivered"),
        "undelivered": N_("Not delivered"),
        "failed": N_("Failed"),
        "completed": N_("Call completed"),
        "busy": N_("Line busy"),
        "no-answer": N_("No answer"),
        "canceled": N_("Canceled"),
        "read": N_("Read"),
    },
    "statement": {
        "statement": N_("A statement was made"),
        "none_made": N_("No statement was made in time"),
    },
    "review": {
        "upheld": N_("Upheld"),
        "partly": N_("Partly upheld"),
        "dismissed": N_("Dismissed"),
    },
    # What the law requires before an enforcement step (cases.preconditions).
    "precondition": {
        "order_served": N_("the order to pay was served"),
        "order_deadline_passed": N_("the order to pay's time limit has run out"),
        "demand_served": N_("the written demand was served"),
        "demand_deadline_passed": N_("the written demand's deadline has passed"),
        "statement_heard": N_(
            "the employer's statement was recorded and reviewed, or its absence recorded"
        ),
        "demand_ten_days": N_("the written demand was served at least 10 days before"),
        "appeal_periods_closed": N_("the periods to appeal the order to pay have closed"),
        "court_window_open": N_("the 3 months to apply to the court have not run out"),
        "no_open_challenge": N_("no reconsideration or lawsuit is pending"),
        "no_deferral": N_("no force-majeure deferral is in force"),
    },
    "guarantee": {"mortgage": N_("Mortgage"), "pledge": N_("Pledge")},
    "guarantee_status": {
        "active": N_("In force"),
        "released": N_("Released"),
        "enforced": N_("Enforced"),
    },
    # A legal window (cases.deadlines.WINDOW_KINDS).
    "window": {
        "court_application": N_("Court application"),
        "reconsideration": N_("Reconsideration"),
        "lawsuit": N_("Administrative lawsuit"),
        "service": N_("Service of a letter"),
    },
    "court": {
        "accepted": N_("Accepted by the court"),
        "refused": N_("Refused by the court"),
        "enforced": N_("Enforced by the court"),
        "withdrawn": N_("Withdrawn"),
    },
    "write_off_document": {
        "bankruptcy_ruling": N_("Bankruptcy ruling"),
        "deregistration_notice": N_("Deregistration notice"),
        "other": N_("Other document"),
    },
    "challenge": {
        "reconsideration": N_("Administrative reconsideration"),
        "lawsuit": N_("Administrative lawsuit"),
    },
    "challenge_outcome": {
        "upheld": N_("Decision upheld"),
        "revoked": N_("Decision revoked"),
        "changed": N_("Decision changed"),
        "withdrawn": N_("Challenge withdrawn"),
    },
    "agreement": {
        "active": N_("Running"),
        "completed": N_("Completed"),
        "breached": N_("Breached"),
        "cancelled": N_("Cancelled"),
    },
    "instalment": {"due": N_("Due"), "paid": N_("Paid"), "missed": N_("Missed")},
    "transfer": {
        "full": N_("Transferred in full"),
        "partial": N_("Transferred in part"),
        "none": N_("Nothing transferred"),
    },
    "fine": {
        "proposed": N_("Proposed"),
        "imposed": N_("Imposed"),
        "rejected": N_("Rejected"),
    },
    "deferral": {
        "active": N_("In force"),
        "ended": N_("Ended early"),
        "revoked": N_("Revoked"),
    },
    "insurance": {
        "pension": N_("Pension"),
        "medical": N_("Medical"),
        "work_injury": N_("Work injury"),
        "unemployment": N_("Unemployment"),
        "maternity": N_("Maternity"),
    },
}


def label(kind: str, code: str | None) -> str:
    """The message id for ``code`` (translate it where it is shown), or the code itself."""
    if code is None:
        return ""
    return LABELS.get(kind, {}).get(code, code)
