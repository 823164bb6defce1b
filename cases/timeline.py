"""A case's timeline: its events and notices merged, newest first, as the case page shows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlmodel import Session

from cases.access import Actor, visible_case
from cases.bulk import table
from cases.models import CaseEvent, Notice
from cases.notices import SERVICE_METHODS

# The timeline's two reads, built once (every case page makes them): the columns it shows, as
# plain rows (SQLAlchemy Core: no ORM result processing).
_event = table(CaseEvent)
_notice = table(Notice)
_EVENTS: Select[Any] = (
    select(
        _event.c.on_date,
        _event.c.at,
        _event.c.kind,
        _event.c.actor,
        _event.c.message,
        _event.c.step,
        _event.c.policy_version,
        _event.c.data,
    )
    .where(_event.c.case_id == bindparam("case_id"))
    .order_by(_event.c.id)
)
_NOTICES: Select[Any] = (
    select(
        _notice.c.id,
        _notice.c.step,
        _notice.c.channel,
        _notice.c.status,
        _notice.c.document_number,
        _notice.c.document_type,
        _notice.c.issued_on,
        _notice.c.created_at,
        _notice.c.content_sha256.is_not(None).label("pdf"),
        _notice.c.served_on,
        _notice.c.deadline_on,
        _notice.c.recipient,
        _notice.c.service_method,
        _notice.c.error_code,
        _notice.c.error,
    )
    .where(_notice.c.case_id == bindparam("case_id"))
    .order_by(_notice.c.id)
)


def case_events(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """The case's log, oldest first."""
    return session.connection().execute(_EVENTS, {"case_id": case_id}).all()


def case_notices(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """What was sent or printed for the case, oldest first."""
    return session.connection().execute(_NOTICES, {"case_id": case_id}).all()


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's history: an event, or a notice (``kind`` "notice")."""

    kind: str
    on_date: date  # the business date: an event's, a notice's issue date
    at: datetime  # when it was written (UTC), to order a day's entries
    actor: str | None
    message: str
    step: str | None
    policy_version: str | None
    notice_id: int | None = None
    channel: str | None = None  # sms | voice | officer_task | letter
    status: str | None = None
    document_number: str | None = None
    document_type: str | None = None
    pdf: bool = False  # a printed letter's PDF is on file
    served_on: date | None = None
    deadline_on: date | None = None
    # What a screen needs to say it in the reader's language: an event's data, a notice's
    # addressee, service method and provider error (the message stays the English record).
    data: dict[str, Any] = field(default_factory=dict)
    recipient: str | None = None
    service_method: str | None = None
    error_code: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            name: str(value) if isinstance(value, date) else value
            for name, value in self.__dict__.items()
        }


def case_timeline(session: Session, actor: Actor, case_id: int) -> list[TimelineEntry]:
    """The case's events and notices merged, newest first (``CaseNotFound`` if not visible)."""
    visible_case(session, actor, case_id)
    return timeline_of(session, case_id)


def timeline_of(session: Session, case_id: int) -> list[TimelineEntry]:
    """``case_timeline`` for a caller that has already checked the case is visible."""
    entries = [
        TimelineEntry(
            kind=e.kind,
            on_date=e.on_date,
            at=_aware(e.at),
            actor=e.actor,
            message=e.message,
            step=e.step,
            policy_version=e.policy_version,
            data=dict(e.data or {}),
        )
        for e in case_events(session, case_id)
    ]
    entries += [
        TimelineEntry(
            kind="notice",
            on_date=n.issued_on,
            at=_aware(n.created_at),
            actor=None,
            message=_notice_message(n),
            step=n.step,
            policy_version=None,
            notice_id=n.id,
            channel=n.channel,
            status=n.status,
            document_number=n.document_number,
            document_type=n.document_type,
            pdf=bool(n.pdf),
            served_on=n.served_on,
            deadline_on=n.deadline_on,
            recipient=n.recipient,
            service_method=n.service_method,
            error_code=n.error_code,
            error=n.error,
        )
        for n in case_notices(session, case_id)
    ]
    # Entries of the same instant (one flush) come newest first too: by their place in the log.
    order = sorted(range(len(entries)), key=lambda i: (entries[i].on_date, entries[i].at, i))
    return [entries[i] for i in reversed(order)]


def _aware(at: datetime) -> datetime:
    # SQLite hands instants back without their zone; they were written in UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_CHANNELS = {
    "sms": "SMS",
    "voice": "voice call",
    "officer_task": "officer's task",
    "letter": "letter",
}


def _notice_message(n: Row[Any]) -> str:
    what = n.document_type or n.step
    parts = [f"{_CHANNELS.get(n.channel, n.channel)} {what.replace('_', ' ')}"]
    if n.document_number:
        parts[0] += f" {n.document_number}"
    if n.recipient and n.channel in ("sms", "voice"):
        parts[0] += f" to {n.recipient}"
    parts.append(n.status.replace("_", " "))
    if n.served_on:
        method = SERVICE_METHODS.get(n.service_method or "", n.service_method)
        parts.append(f"served {n.served_on} ({method})")
    if n.deadline_on:
        parts.append(f"deadline {n.deadline_on}")
    if n.error:
        parts.append(f"error: {n.error}")
    return "; ".join(parts)
