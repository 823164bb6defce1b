"""Planning one night: decide the cases due for review and write what each decision needs.

Cases are taken a batch at a time (``cases.facts.BATCH``). Each batch is one transaction: the
notices of the steps taken (SMS and call texts rendered, letters left to print), the officers'
tasks, the ``step_taken`` events, the cases' new stages and every examined case's next review date
are written with one bulk statement per table, so a night of ten thousand steps costs a few dozen
statements, not tens of thousands. The rare decisions (a supervisor's approval to request, a
broken promise, a step deferred for want of a calendar) go through the ORM one by one.

A batch written is never planned again: tomorrow's facts include its notices. Business keys
(case, step, channel, date) are unique all the same, and a batch skips any key already on record,
so a rerun after a crash never plans a step twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from cases import review
from cases.agreement_nights import settle_instalments
from cases.bulk import among, insert_rows, table
from cases.casework import add_events, event_row
from cases.decide import CaseFacts, Decision, decide, review_after_step
from cases.enforcement import blocking
from cases.facts import BATCH, CaseHead, build_facts, open_case_heads
from cases.models import ApprovalRequest, Case, CaseEvent, Notice, OfficerTask, PromiseToPay, utcnow
from cases.money import format_grouped
from cases.notices import document_types, letter_key, message_key, notice_row, step_event_row
from cases.policy import ENFORCEMENT_KINDS, Policy, Step
from cases.states import CaseStatus, transition
from notifications.letter_context import chinese_date
from notifications.texts import agency_context, render_text

if TYPE_CHECKING:
    from notifications.escalation import NightSummary

ACTOR = "system:escalation"  # who the night's events name


@dataclass
class _Batch:
    """What one batch writes, gathered before anything is written."""

    notices: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    events: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    reviews: dict[int, date | None]


class NightPlan:
    def __init__(
        self,
        *,
        policy: Policy,
        agency: Any,
        env: Any,
        as_of: date,
        summary: NightSummary,
    ) -> None:
        self.policy, self.env, self.as_of, self.summary = policy, env, as_of, summary
        self.agency = agency_context(agency)

    def run(
        self,
        sessions: Callable[[], Any],
        district: str | None,
        *,
        full: bool,
        batch: int = BATCH,
    ) -> None:
        """Plan every case due for review (every open case when ``full``), batch by batch."""
        with sessions() as session:
            heads = open_case_heads(
                session, district=district, review_by=None if full else self.as_of
            )
        for start in range(0, len(heads), batch):
            with sessions() as session:
                self.plan_batch(session, heads[start : start + batch])

    def plan_batch(self, session: Session, heads: list[CaseHead]) -> None:
        # Deferred-payment agreements first: instalments paid or missed by tonight are written
        # (and a breach logged) before the cases are decided; the decision reads the same from
        # the schedule and the payments (cases.agreement_nights.load_agreement_facts).
        settled = settle_instalments(session, case_ids=[h.case_id for h in heads], as_of=self.as_of)
        self.summary.agreements_breached += settled.breached
        facts = build_facts(session, heads, as_of=self.as_of, rules=self.policy.fee_rules)
        batch = _Batch([], [], [], [], {})
        keys = self._planned_keys(session, [h.case_id for h in heads])
        for head, case_facts in zip(heads, facts, strict=True):
            decision = decide(case_facts, self.as_of, self.policy)
            self.summary.examined += 1
            batch.reviews[head.case_id] = decision.review_on
            self._act(session, batch, keys, head, case_facts, decision)
        session.flush()  # the one-by-one actions first: the review dates below are written last
        self._write(session, batch)

    # ------------------------------------------------------------------------- deciding

    def _act(
        self,
        session: Session,
        batch: _Batch,
        keys: set[str],
        head: CaseHead,
        facts: CaseFacts,
        decision: Decision,
    ) -> None:
        step, summary = decision.step, self.summary
        if decision.action == "take_step" and step is not None and step.kind in ENFORCEMENT_KINDS:
            # At the moment of writing the notice, the law's preconditions once more, against
            # the case as the store holds it now (cases.enforcement).
            lacking = blocking(
                session, head.case_id, step.kind, today=self.as_of, policy=self.policy
            )
            if lacking:
                summary.failures.append(
                    f"case {head.case_id}: {step.kind} not taken: {lacking[0].reason()}"
                )
                batch.reviews[head.case_id] = self.as_of + timedelta(days=1)  # look again
                return
        if decision.action == "take_step" and step is not None:
            channel = decision.channel or step.channel
            self._take(batch, keys, head, facts, step, channel, decision.reason)
            batch.reviews[head.case_id] = review_after_step(facts, step, self.as_of, self.policy)
            summary.steps[step.kind] += 1
            summary.channels[channel] += 1
        elif decision.action == "request_approval" and step is not None:
            summary.approvals_requested += self._request_approval(
                session, head, step, decision.reason
            )
        elif decision.action == "promise_broken":
            self._break_promise(session, head, decision.reason)
            summary.promises_broken += 1
        elif decision.action == "defer":
            summary.deferred += self._defer(session, head, decision)

    def _take(
        self,
        batch: _Batch,
        keys: set[str],
        head: CaseHead,
        facts: CaseFacts,
        step: Step,
        channel: str,
        reason: str,
    ) -> None:
        case_id, as_of = head.case_id, self.as_of
        if channel == "letter":
            for document_type in sorted(document_types(step, channel)):
                key = letter_key(case_id, step.kind, document_type, as_of)
                if key not in keys:
                    batch.notices.append(
                        notice_row(
                            case_id=case_id,
                            business_key=key,
                            step=step,
                            channel="letter",
                            issued_on=as_of,
                            document_type=document_type,
                        )
                    )
        elif channel in {"sms", "voice", "officer_task"}:
            key = message_key(case_id, step.kind, channel, as_of)
            if key in keys:
                return  # planned earlier the same night: a rerun plans nothing twice
            template = step.templates_for(channel)[0]
            text = render_text(self.env, template, self._text_context(head, facts))
            batch.notices.append(
                notice_row(
                    case_id=case_id,
                    business_key=key,
                    step=step,
                    channel=channel,
                    issued_on=as_of,
                    status="task_open" if channel == "officer_task" else "planned",
                    recipient=head.mobile,
                    body=text.body,
                    segments=text.segments if channel == "sms" else None,
                )
            )
        if channel == "officer_task" or step.officer_task:
            batch.tasks.append(
                {
                    "case_id": case_id,
                    "kind": step.kind,
                    "step": step.kind,
                    "due_on": as_of,
                    "assigned_to": head.officer_id,
                    "status": "open",
                    "outcome": None,
                    "created_at": utcnow(),
                    "completed_at": None,
                }
            )
        batch.events.append(
            step_event_row(
                case_id, step, on_date=as_of, actor=ACTOR, reason=reason, policy=self.policy
            )
        )
        if step.level > head.stage:
            batch.stages.append({"b_id": case_id, "b_stage": step.level, "b_step": step.kind})

    def _text_context(self, head: CaseHead, facts: CaseFacts) -> dict[str, Any]:
        return {
            "agency": self.agency,
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
            "late_fee_as_of": chinese_date(self.as_of),
        }

    # ------------------------------------------------------------------------- writing

    def _planned_keys(self, session: Session, case_ids: list[int]) -> set[str]:
        """Business keys of tonight's notices already on record for these cases."""
        return set(
            session.execute(
                select(col(Notice.business_key)).where(
                    among(col(Notice.case_id), case_ids), col(Notice.issued_on) == self.as_of
                )
            ).scalars()
        )

    def _write(self, session: Session, batch: _Batch) -> None:
        if batch.notices:
            insert_rows(session, Notice, batch.notices)
        if batch.tasks:
            insert_rows(session, OfficerTask, batch.tasks)
        if batch.events:
            add_events(session, batch.events)
        # One UPDATE per case: its new stage, if it climbed, with its review date.
        connection = session.connection()
        case = table(Case)
        climbed = {row["b_id"]: row for row in batch.stages}
        now = utcnow()
        stage_rows = [
            climbed[k] | {"b_review": review.stored(v)}
            for k, v in batch.reviews.items()
            if k in climbed
        ]
        if stage_rows:
            connection.execute(
                update(case)
                .where(case.c.id == bindparam("b_id"))
                .values(
                    stage=bindparam("b_stage"),
                    stage_step=bindparam("b_step"),
                    next_review_on=bindparam("b_review"),
                    updated_at=now,
                ),
                stage_rows,
            )
        review.keep_dates(session, {k: v for k, v in batch.reviews.items() if k not in climbed})

    # ---------------------------------------------------------------- one by one, rare

    def _request_approval(self, session: Session, head: CaseHead, step: Step, reason: str) -> int:
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
            ApprovalRequest(
                case_id=head.case_id,
                step=step.kind,
                requested_on=self.as_of,
                reason=reason,
                requested_by=ACTOR,
            )
        )
        _event(
            session,
            head.case_id,
            "approval_requested",
            self.as_of,
            step.kind,
            f"{step.label} ({step.title}) awaits a supervisor's approval: {reason}",
            {"step": step.kind, "level": step.level},
        )
        return 1

    def _break_promise(self, session: Session, head: CaseHead, reason: str) -> None:
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
            on_date=self.as_of,
            actor=ACTOR,
            reason=f"promise broken, escalation resumes: {reason}",
            data={"cause": "promise_broken"},
        )

    def _defer(self, session: Session, head: CaseHead, decision: Decision) -> int:
        seen = session.execute(
            select(col(CaseEvent.id)).where(
                col(CaseEvent.case_id) == head.case_id,
                col(CaseEvent.kind) == "step_deferred",
                col(CaseEvent.on_date) == self.as_of,
            )
        ).first()
        if seen is not None:
            return 0
        step = decision.step
        data = {
            "step": step.kind if step else None,
            "missing_calendar_year": decision.missing_calendar_year,
        }
        _event(session, head.case_id, "step_deferred", self.as_of, None, decision.reason, data)
        return 1


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
            **event_row(
                case_id=case_id,
                kind=kind,
                message=message,
                on_date=on_date,
                actor=ACTOR,
                step=step,
                data=data,
            )
        )
    )
