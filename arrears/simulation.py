"""What a simulation stands in for: the receipts of letters served by post.

In a real office an officer records each letter's service from its receipt (送达回证). A simulated
span of nights has no post room, so letters are recorded as served by post a few days after they
were issued, letting the ladder's clocks (which run from service) move on.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from cases.models import Notice
from cases.notices import serve
from cases.policy import Policy


def serve_by_post(session: Session, *, day: date, after_days: int, policy: Policy) -> int:
    """Record printed, unserved letters issued ``after_days`` or more before ``day`` as served."""
    letters = list(
        session.execute(
            select(col(Notice.document_number), col(Notice.issued_on))
            .where(
                col(Notice.channel) == "letter",
                col(Notice.served_on).is_(None),
                col(Notice.content_sha256).is_not(None),
                col(Notice.issued_on) <= day - timedelta(days=after_days),
            )
            .order_by(col(Notice.id))
        )
    )
    for number, issued_on in letters:
        serve(
            session,
            document_number=number or "",
            method="post",
            served_on=issued_on + timedelta(days=after_days),
            receipt_number=f"SIM-{number}",
            actor="simulation",
            policy=policy,
        )
    return len(letters)
