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
