"""One night of escalation: decide, plan what is due, send it, print the letters.

Planning writes every notice with its unique business key (case, step, channel, date) and the
step's event in one transaction, before anything leaves the building. Sending then takes the
planned messages one at a time: a message is marked ``sending`` and committed before the provider
is called, so after a crash a message left ``sending`` (or one whose outcome was unknown) is
looked up at the provider before it is sent again — never sent twice, never forgotten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from cases.deliveries import OPT_OUT_ERROR, plan_fallback, set_opt_out
from cases.facts import CaseHead, decisions
from cases.models import ApprovalRequest, Case, CaseEvent, Notice, OfficerTask, PromiseToPay, utcnow
from cases.money import format_grouped
from cases.notices import letters_to_print, take_step
from cases.policy import Policy, Step
from cases.states import CaseStatus, transition
from notifications.channels import OutboundCall, OutboundSms, Transport
from notifications.letters import LetterDesk, chinese_date
from notifications.texts import agency_context, render_text, text_environment, twiml_say

Sessions = Callable[[], AbstractContextManager[Session]]
ACTOR = "system:escalation"


@dataclass
class NightSummary:
    as_of: date
    examined: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    approvals_requested: int = 0
    promises_broken: int = 0
    deferred: int = 0
    sent: Counter[str] = field(default_factory=Counter)  # notice status after sending
    letters_printed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": str(self.as_of),
            "examined": self.examined,
            "steps": dict(self.steps),
            "channels": dict(self.channels),
            "approvals_requested": self.approvals_requested,
            "promises_broken": self.promises_broken,
            "deferred": self.deferred,
            "sent": dict(self.sent),
            "letters_printed": self.letters_printed,
            "failures": list(self.failures),
        }

    def add(self, other: dict[str, Any]) -> None:
        """Fold one district's counts (as ``as_dict`` gives them) into the night's."""
        self.examined += other["examined"]
        self.steps.update(other["steps"])
        self.channels.update(other["channels"])
        self.approvals_requested += other["approvals_requested"]
        self.promises_broken += other["promises_broken"]
        self.deferred += other["deferred"]
        self.sent.update(other["sent"])
        self.letters_printed += other["letters_printed"]
        self.failures.extend(other["failures"])


@dataclass
class Escalation:
    """The parts one night needs; ``sessions`` opens a unit of work (commit on success)."""

    sessions: Sessions
    policy: Policy
    agency: Any
    templates_dir: Any
    transport: Transport
    desk: Callable[[Session], LetterDesk]
    status_callback: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # A message the provider could not take (throttled, down) is tried again on later runs,
    # this many attempts in all, before the step goes by letter.
    max_attempts: int = 3

    def run(self, as_of: date, district: str | None = None) -> NightSummary:
        summary = NightSummary(as_of)
        self.plan(as_of, summary, district)
        self.send(summary, district)
        self.print_letters(summary, district)
        return summary

    # ------------------------------------------------------------------ planning

    def plan(self, as_of: date, summary: NightSummary, district: str | None = None) -> None:
        env = text_environment(self.templates_dir)
        with self.sessions() as session:
            for head, facts, decision in decisions(
                session, as_of=as_of, policy=self.policy, district=district
            ):
                summary.examined += 1
                step = decision.step
                if decision.action == "take_step" and step is not None:
                    channel = decision.channel or step.channel
                    self._plan_step(
                        session, env, head, facts, step, channel, as_of, decision.reason
                    )
                    summary.steps[step.kind] += 1
                    summary.channels[channel] += 1
                elif decision.action == "request_approval" and step is not None:
                    summary.approvals_requested += self._request_approval(
                        session, head, step, as_of, decision.reason
                    )
                elif decision.action == "promise_broken":
                    self._break_promise(session, head, as_of, decision.reason)
                    summary.promises_broken += 1
                elif decision.action == "defer":
                    summary.deferred += self._defer(session, head, as_of, decision.reason)

    def _plan_step(
        self,
        session: Session,
        env: Any,
        head: CaseHead,
        facts: Any,
        step: Step,
        channel: str,
        as_of: date,
        reason: str,
    ) -> None:
        case = session.get(Case, head.case_id)
        assert case is not None
        key = f"{head.case_id}:{step.kind}:{channel}:{as_of}"
        if channel == "letter":
            self.desk(session).plan(case_id=head.case_id, step=step, issued_on=as_of)
        elif _exists(session, key):
            return  # planned earlier the same night: a rerun plans nothing twice
        elif channel in {"sms", "voice", "officer_task"}:
            template = step.templates_for(channel)[0]
            text = render_text(env, template, self._text_context(head, facts, as_of))
            session.add(
                Notice(
                    case_id=head.case_id,
                    business_key=key,
                    step=step.kind,
                    level=step.level,
                    channel=channel,
                    status="task_open" if channel == "officer_task" else "planned",
                    issued_on=as_of,
                    recipient=head_mobile(session, head),
                    body=text.body,
                    segments=text.segments if channel == "sms" else None,
                )
            )
        if channel == "officer_task" or step.officer_task:
            session.add(
                OfficerTask(
                    case_id=head.case_id,
                    kind=step.kind,
                    step=step.kind,
                    due_on=as_of,
                    assigned_to=case.officer_id,
                )
            )
        take_step(
            session, case, step, on_date=as_of, actor=ACTOR, reason=reason, policy=self.policy
        )

    def _text_context(self, head: CaseHead, facts: Any, as_of: date) -> dict[str, Any]:
        return {
            "agency": agency_context(self.agency),
            "employer": {
                "name": head.employer_name,
                "contact_name": None,
                "code": head.employer_code,
            },
            "notice": {"deadline": None, "deadline_text": None},
            "totals": {
                "principal": format_grouped(facts.principal_outstanding),
                "late_fee": format_grouped(facts.total_due - facts.principal_outstanding),
                "total": format_grouped(facts.total_due),
            },
            "late_fee_as_of": chinese_date(as_of),
        }

    def _request_approval(
        self, session: Session, head: CaseHead, step: Step, as_of: date, reason: str
    ) -> int:
        pending = session.execute(
            select(col(ApprovalRequest.id)).where(
                col(ApprovalRequest.case_id) == head.case_id,
                col(ApprovalRequest.step) == step.kind,
                col(ApprovalRequest.status) == "pending",
            )
        ).first()
        if pending is not None:
            return 0
        session.add(
            ApprovalRequest(case_id=head.case_id, step=step.kind, requested_on=as_of, reason=reason)
        )
        _event(
            session,
            head.case_id,
            "approval_requested",
            as_of,
            step.kind,
            f"{step.label} ({step.title}) awaits a supervisor's approval: {reason}",
        )
        return 1

    def _break_promise(self, session: Session, head: CaseHead, as_of: date, reason: str) -> None:
        for promise in session.execute(
            select(PromiseToPay).where(
                col(PromiseToPay.case_id) == head.case_id, col(PromiseToPay.status) == "open"
            )
        ).scalars():
            promise.status = "broken"
            session.add(promise)
        case = session.get(Case, head.case_id)
        assert case is not None
        transition(
            session,
            case,
            CaseStatus.OPEN,
            on_date=as_of,
            actor=ACTOR,
            reason=f"promise broken, escalation resumes: {reason}",
        )

    def _defer(self, session: Session, head: CaseHead, as_of: date, reason: str) -> int:
        seen = session.execute(
            select(col(CaseEvent.id)).where(
                col(CaseEvent.case_id) == head.case_id,
                col(CaseEvent.kind) == "step_deferred",
                col(CaseEvent.on_date) == as_of,
            )
        ).first()
        if seen is not None:
            return 0
        _event(session, head.case_id, "step_deferred", as_of, None, reason)
        return 1

    # ------------------------------------------------------------------- sending

    def send(self, summary: NightSummary, district: str | None = None) -> None:
        with self.sessions() as session:
            query = (
                select(col(Notice.id))
                .where(
                    col(Notice.channel).in_(["sms", "voice"]),
                    col(Notice.status).in_(["planned", "sending", "unknown"]),
                )
                .order_by(col(Notice.id))
            )
            ids = list(session.execute(_in_district(query, district)).scalars())
        for notice_id in ids:
            try:
                summary.sent[self._send_one(notice_id)] += 1
            except Exception as exc:  # recorded; the night goes on with the next message
                summary.failures.append(f"notice {notice_id}: {type(exc).__name__}")

    def _send_one(self, notice_id: int) -> str:
        with self.sessions() as session:
            notice = session.get(Notice, notice_id, with_for_update=True)
            assert notice is not None
            if notice.status not in {"planned", "sending", "unknown"}:
                return notice.status  # another worker finished it meanwhile
            if notice.status in {"sending", "unknown"}:
                if notice.channel == "voice":
                    # The provider's call log is not searched here: calling again could ring
                    # the employer twice, so an officer checks the call log first.
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
            if notice.channel == "sms" and _opted_out(session, notice):
                # STOP arrived between planning and sending: the letter goes instead.
                notice.status = "canceled"
                notice.error = "the number opted out of SMS before it was sent"
                session.add(notice)
                plan_fallback(
                    session, notice, on_date=notice.issued_on, actor=ACTOR, why=notice.error
                )
                return notice.status
            notice.status = "sending"
            notice.attempts += 1
            notice.sent_at = utcnow()
            session.add(notice)
        # Committed: from here a crash leaves "sending", which the next run reconciles.
        if notice.channel == "sms":
            result = self.transport.send_sms(
                OutboundSms(
                    notice_id,
                    notice.business_key,
                    notice.recipient,
                    notice.body or "",
                    self.status_callback,
                )
            )
        else:
            result = self.transport.send_call(
                OutboundCall(
                    notice_id,
                    notice.business_key,
                    notice.recipient,
                    twiml_say(notice.body or ""),
                    self.status_callback,
                )
            )
        with self.sessions() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            retry = (
                result.status == "failed"
                and not result.permanent
                and notice.attempts < self.max_attempts
            )
            notice.status = "planned" if retry else result.status
            notice.provider_id = result.provider_id
            notice.error_code = result.error_code
            notice.error = result.error
            notice.updated_at = utcnow()
            session.add(notice)
            what = {"outbox": "kept in the outbox", "unknown": "outcome unknown"}.get(
                result.status, result.status
            )
            _event(
                session,
                notice.case_id,
                "notice_sent" if result.status != "failed" else "notice_failed",
                notice.issued_on,
                notice.step,
                f"{notice.channel} to {notice.recipient}: {what}"
                + (f" ({result.error})" if result.error else ""),
                {
                    "provider_id": result.provider_id,
                    "error_code": result.error_code,
                    "attempts": result.attempts,
                },
            )
            if result.error_code == OPT_OUT_ERROR and notice.recipient:
                set_opt_out(
                    session,
                    number=notice.recipient,
                    opted_out=True,
                    on_date=notice.issued_on,
                    actor=ACTOR,
                    why=f"the provider refused: error {OPT_OUT_ERROR}",
                )
            if result.status == "failed" and notice.channel == "sms" and not retry:
                plan_fallback(
                    session,
                    notice,
                    on_date=notice.issued_on,
                    actor=ACTOR,
                    why=result.error or "refused",
                )
            return notice.status

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
        _event(
            session,
            notice.case_id,
            "notice_reconciled",
            notice.issued_on,
            notice.step,
            f"{notice.channel} to {notice.recipient} had reached the provider "
            f"({message.provider_id}); not sent again",
        )
        return True

    # ------------------------------------------------------------------ printing

    def print_letters(self, summary: NightSummary, district: str | None = None) -> None:
        with self.sessions() as session:
            ids = letters_to_print(session)
            if district is not None:
                ids = list(
                    session.execute(
                        _in_district(
                            select(col(Notice.id)).where(col(Notice.id).in_(ids)), district
                        )
                    ).scalars()
                )
        for notice_id in ids:
            try:
                with self.sessions() as session:
                    notice = session.get(Notice, notice_id)
                    assert notice is not None
                    self.desk(session).print_notice(notice, actor=ACTOR)
                summary.letters_printed += 1
            except Exception as exc:  # recorded; the other letters still print
                summary.failures.append(f"letter {notice_id}: {type(exc).__name__}: {exc}")


def head_mobile(session: Session, head: CaseHead) -> str | None:
    from cases.models import Employer

    mobile: str | None = session.execute(
        select(col(Employer.mobile)).where(col(Employer.id) == head.employer_id)
    ).scalar_one_or_none()
    return mobile


def _in_district(query: Any, district: str | None) -> Any:
    if district is None:
        return query
    from cases.models import Employer

    return (
        query.join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Employer.district) == district)
    )


def _opted_out(session: Session, notice: Notice) -> bool:
    from cases.models import Employer

    row = session.execute(
        select(col(Employer.sms_opted_out))
        .join(Case, col(Case.employer_id) == col(Employer.id))
        .where(col(Case.id) == notice.case_id)
    ).scalar_one_or_none()
    return bool(row)


def _exists(session: Session, key: str) -> bool:
    return (
        session.execute(select(col(Notice.id)).where(col(Notice.business_key) == key)).first()
        is not None
    )


def _event(
    session: Session,
    case_id: int,
    kind: str,
    on_date: date,
    step: str | None,
    message: str,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case_id,
            on_date=on_date,
            kind=kind,
            actor=ACTOR,
            step=step,
            message=message,
            data=data or {},
        )
    )
