"""Sending the night's SMS and calls: never twice, never forgotten, a batch at a time.

Messages go out in batches (``SEND_BATCH``), several requests in flight at once
(``concurrency``). Each transaction

1. records the answers to a batch already sent: each notice's status and provider id, a
   ``notice_sent`` event, and for a refusal what follows from it (a retry on a later run, the
   opt-out, the letter instead);
2. locks the next batch's notices, settles the ones that need no request (already done by another
   worker, no number, opted out since planning, an earlier attempt whose fate is unknown and
   which the provider's log shows went out) and marks the rest ``sending``, the attempt counted;

and commits, while the batch between the two is on the wire. A batch's requests leave only once
its claim is committed.

A crash leaves at most two batches ``sending`` with their answers unrecorded; the next run looks
each of them up at the provider before sending it (``Transport.find_sent``), so none goes out
twice. Voice calls are not looked up (the provider's call log is not searched), so a call whose
fate is unknown waits for an officer instead of ringing the employer twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from cases.bulk import among, table
from cases.casework import add_events, event_row
from cases.deliveries import OPT_OUT_ERROR, plan_fallback, set_opt_out
from cases.models import Case, CaseEvent, Employer, Notice, utcnow
from notifications.channels import OutboundCall, OutboundSms, SendResult, Transport
from notifications.night_plan import ACTOR
from notifications.texts import twiml_say

if TYPE_CHECKING:
    from notifications.escalation import NightSummary

log = logging.getLogger(__name__)
Sessions = Callable[[], AbstractContextManager[Session]]
SEND_BATCH = 200
PENDING = ("planned", "sending", "unknown")
ACCEPTED = frozenset({"queued", "sent", "outbox"})


@dataclass
class Dispatch:
    sessions: Sessions
    transport: Transport
    status_callback: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # A message the provider could not take (throttled, down) is tried again on later runs,
    # this many attempts in all, before the step goes by letter.
    max_attempts: int = 3
    # Requests in flight at once: each waits for the provider's answer (~100-300 ms from China
    # to Twilio), so one at a time would take a night's 8,000 SMS most of an hour.
    concurrency: int = 4
    batch: int = SEND_BATCH

    def send(self, summary: NightSummary, district: str | None = None) -> None:
        """Send every pending SMS and call (of one district, if given), oldest first.

        Each transaction records the answers to one batch and claims a later one, while the batch
        between them is on the wire; a batch's requests leave only once it is claimed.
        """
        with self.sessions() as session:
            query = (
                select(col(Notice.id))
                .where(col(Notice.channel).in_(["sms", "voice"]), col(Notice.status).in_(PENDING))
                .order_by(col(Notice.id))
            )
            ids = list(session.execute(in_district(query, district)).scalars())
        parts = [ids[i : i + self.batch] for i in range(0, len(ids), self.batch)]
        answered: list[tuple[Outgoing, SendResult]] = []
        in_flight: tuple[list[Outgoing], Any] | None = None
        with ExitStack() as stack:
            # One at a time: in this thread (an interrupt stops at once); else on a pool.
            send_all: Callable[[Callable[[Outgoing], SendResult], list[Outgoing]], Any] = map
            if self.concurrency > 1:
                pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="send")
                send_all = stack.enter_context(pool).map
            while parts or in_flight or answered:
                part = parts.pop(0) if parts else []
                claimed: list[Outgoing] = []
                try:
                    # While the batch before is on the wire: record the one before that, and
                    # claim the next.
                    with self.sessions() as session:
                        self._record(session, answered, summary)
                        claimed = self._claim(session, part, summary) if part else []
                except Exception as exc:  # recorded; the night goes on with the next batch
                    summary.failures.append(f"notices from {part[:1]}: {type(exc).__name__}: {exc}")
                answered = []  # on record, or left "sending" for the next run to look up
                if in_flight is not None:
                    outgoing, results = in_flight
                    answered = list(zip(outgoing, results, strict=True))
                    in_flight = None
                if claimed:
                    # Committed: from here a crash leaves these "sending", looked up next run.
                    in_flight = (claimed, send_all(self._request, claimed))

    # --------------------------------------------------------------------- before sending

    def _claim(self, session: Session, ids: list[int], summary: NightSummary) -> list[Outgoing]:
        """Lock the batch, settle what needs no request, mark the rest ``sending``."""
        rows = session.execute(
            select(*(notice_table.c[name] for name in Outgoing._fields), notice_table.c.status)
            .where(among(notice_table.c.id, ids))
            .order_by(notice_table.c.id)
            .with_for_update()
        ).all()
        opted_out = _opted_out_cases(session, [r.case_id for r in rows])
        outgoing: list[Outgoing] = []
        for row in rows:
            plain = row.status == "planned" and row.recipient
            if not plain or (row.channel == "sms" and row.case_id in opted_out):
                notice = session.get(Notice, row.id)  # the rare cases, one by one
                assert notice is not None
                status = self._settle(session, notice, opted_out)
                if status is not None:
                    summary.sent[status] += 1
                    continue
            outgoing.append(Outgoing(*row[: len(Outgoing._fields)]))
        if outgoing:
            session.flush()
            session.connection().execute(
                update(notice_table)
                .where(among(notice_table.c.id, [o.id for o in outgoing]))
                .values(status="sending", attempts=notice_table.c.attempts + 1, sent_at=utcnow())
            )
        return outgoing

    def _settle(self, session: Session, notice: Notice, opted_out: set[int]) -> str | None:
        """The notice's outcome when no request is to be made now, else None."""
        if notice.status not in PENDING:
            return notice.status  # another worker finished it meanwhile
        if notice.status in {"sending", "unknown"}:
            if notice.channel == "voice":
                notice.status = "unknown"
                notice.error = "outcome unknown: check the call log before calling again"
                session.add(notice)
                return notice.status
            if self._reconcile(session, notice):
                return notice.status
        if not notice.recipient:
            notice.status = "failed"
            notice.error = "no mobile number on record"
            session.add(notice)
            return notice.status
        if notice.channel == "sms" and notice.case_id in opted_out:
            # STOP arrived between planning and sending: the letter goes instead.
            notice.status = "canceled"
            notice.error = "the number opted out of SMS before it was sent"
            session.add(notice)
            plan_fallback(session, notice, on_date=notice.issued_on, actor=ACTOR, why=notice.error)
            return notice.status
        return None

    def _reconcile(self, session: Session, notice: Notice) -> bool:
        """A message whose fate is unknown: did the provider take it? Then do not send again."""
        if not notice.recipient:
            return False
        days = {notice.issued_on}
        if notice.sent_at is not None:
            days.add(notice.sent_at.astimezone(self.timezone).date())
        found = [
            message
            for day in sorted(days)
            for message in self.transport.find_sent(to=notice.recipient, on=day, body=notice.body)
        ]
        if not found:
            return False
        message = found[0]
        notice.status = message.status
        notice.provider_id = message.provider_id
        notice.updated_at = utcnow()
        session.add(notice)
        session.add(
            CaseEvent(
                **event_row(
                    case_id=notice.case_id,
                    kind="notice_reconciled",
                    on_date=notice.issued_on,
                    actor=ACTOR,
                    step=notice.step,
                    message=f"{notice.channel} to {notice.recipient} had reached the provider "
                    f"({message.provider_id}); not sent again",
                    data={
                        "channel": notice.channel,
                        "recipient": notice.recipient,
                        "provider_id": message.provider_id,
                    },
                )
            )
        )
        return True

    # ------------------------------------------------------------------------ sending

    def _request(self, out: Outgoing) -> SendResult:
        try:
            if out.channel == "sms":
                return self.transport.send_sms(
                    OutboundSms(
                        out.id,
                        out.business_key,
                        out.recipient,
                        out.body or "",
                        self.status_callback,
                    )
                )
            return self.transport.send_call(
                OutboundCall(
                    out.id,
                    out.business_key,
                    out.recipient,
                    twiml_say(out.body or ""),
                    self.status_callback,
                )
            )
        except Exception as exc:  # whether it left is not known: looked up before a resend
            log.exception("%s %s: the transport failed", out.channel, out.business_key)
            return SendResult(
                status="unknown",
                error=f"sending failed unexpectedly ({type(exc).__name__}); whether it went out "
                "is checked before it is sent again",
            )

    # --------------------------------------------------------------------- after sending

    def _record(
        self,
        session: Session,
        answered: list[tuple[Outgoing, SendResult]],
        summary: NightSummary,
    ) -> None:
        """The provider's answers: accepted ones in bulk, the others one by one."""
        done: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        now = utcnow()
        for out, result in answered:
            if result.status in ACCEPTED:
                done.append(
                    {
                        "b_id": out.id,
                        "b_status": result.status,
                        "b_provider": result.provider_id,
                        "b_code": result.error_code,
                        "b_error": result.error,
                        "b_now": now,
                    }
                )
                events.append(_sent_event(out, result))
                summary.sent[result.status] += 1
            else:
                summary.sent[self._record_refusal(session, out, result)] += 1
        session.flush()
        if done:
            session.connection().execute(
                update(notice_table)
                .where(notice_table.c.id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    provider_id=bindparam("b_provider"),
                    error_code=bindparam("b_code"),
                    error=bindparam("b_error"),
                    updated_at=bindparam("b_now"),
                ),
                done,
            )
        if events:
            add_events(session, events)

    def _record_refusal(self, session: Session, out: Outgoing, result: SendResult) -> str:
        """A failed or unknown answer: a retry later, the opt-out, or the letter instead."""
        row = session.get(Notice, out.id)
        assert row is not None
        retry = (
            result.status == "failed" and not result.permanent and row.attempts < self.max_attempts
        )
        row.status = "planned" if retry else result.status
        row.provider_id = result.provider_id
        row.error_code = result.error_code
        row.error = result.error
        row.updated_at = utcnow()
        session.add(row)
        session.add(CaseEvent(**_sent_event(out, result)))
        if result.error_code == OPT_OUT_ERROR and row.recipient:
            set_opt_out(
                session,
                number=row.recipient,
                opted_out=True,
                on_date=row.issued_on,
                actor=ACTOR,
                why=f"the provider refused: error {OPT_OUT_ERROR}",
            )
        if result.status == "failed" and row.channel == "sms" and not retry:
            plan_fallback(
                session, row, on_date=row.issued_on, actor=ACTOR, why=result.error or "refused"
            )
        return row.status


class Outgoing(NamedTuple):
    """A message claimed for sending: what the request and its record need, no session."""

    id: int
    case_id: int
    channel: str
    step: str
    issued_on: date
    business_key: str
    recipient: str
    body: str | None


notice_table = table(Notice)


def _sent_event(notice: Outgoing | Notice, result: SendResult) -> dict[str, Any]:
    what = {"outbox": "kept in the outbox", "unknown": "outcome unknown"}.get(
        result.status, result.status
    )
    return event_row(
        case_id=notice.case_id,
        kind="notice_sent" if result.status != "failed" else "notice_failed",
        on_date=notice.issued_on,
        actor=ACTOR,
        step=notice.step,
        message=f"{notice.channel} to {notice.recipient}: {what}"
        + (f" ({result.error})" if result.error else ""),
        data={
            "provider_id": result.provider_id,
            "error_code": result.error_code,
            "attempts": result.attempts,
            "channel": notice.channel,
            "recipient": notice.recipient,
            "status": result.status,
            "error": result.error,
        },
    )


def _opted_out_cases(session: Session, case_ids: list[int]) -> set[int]:
    return set(
        session.execute(
            select(col(Case.id))
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(among(col(Case.id), case_ids), col(Employer.sms_opted_out))
        ).scalars()
    )


def in_district(query: Any, district: str | None) -> Any:
    """Narrow a query over notices to one district's cases."""
    if district is None:
        return query
    return (
        query.join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Employer.district) == district)
    )
