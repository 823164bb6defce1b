"""The nightly decision for one case: ``decide(facts, as_of, policy)``, pure.

The caller builds ``CaseFacts`` from storage; ``decide`` reads nothing else and never the clock.
Each rung is judged only once its time has come, on that night's facts, so a skip is never
remembered: tomorrow's facts may let a rung apply that was passed over today, until a higher
rung is taken.

On top of the policy's own timing, the law sets a floor no policy file can lower: rungs 7–10 only
after the order to pay was served and its limit ran out (Social Insurance Law art. 63), forced
transfer, collateral and court only after the written demand's deadline (Administrative
Compulsion Law art. 35/37), and court only 10 days after the demand was served (art. 54).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from cases.policy import Anchor, Guard, Policy, Step
from cases.preconditions import missing as missing_preconditions
from cases.preconditions import served_on as _served_on
from cases.preconditions import step_deadline
from cases.workdays import UnknownCalendarYear

Action = Literal[
    "take_step", "request_approval", "promise_broken", "wait", "hold", "defer", "closed"
]
STATUSES = ("open", "promised", "disputed", "on_hold", "closed_paid", "written_off")

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class StepRecord:
    kind: str
    level: int
    taken_on: date
    # Date of service (送达) for letters; SMS, voice and officer-task steps count as served on
    # taken_on, and None there is read that way.
    served_on: date | None


@dataclass(frozen=True)
class PromiseFact:
    amount: int  # fen
    due_on: date
    made_on: date
    paid_since: int  # fen paid since the promise was made


@dataclass(frozen=True)
class StatementFact:
    """The employer's statement and defence after the demand (cases.statements)."""

    kind: str  # "statement" | "none_made"
    received_on: date
    reviewed_on: date | None  # a "none_made" record needs no review


@dataclass(frozen=True)
class ChallengeFact:
    """An open administrative reconsideration or lawsuit (cases.holds)."""

    kind: str  # "reconsideration" | "lawsuit"
    filed_on: date
    reference: str


@dataclass(frozen=True)
class DeferralFact:
    """A force-majeure deferral in force that night, or the next one ahead (cases.holds)."""

    starts_on: date
    ends_on: date
    approval_reference: str


@dataclass(frozen=True)
class AgreementFact:
    """The case's latest deferred-payment agreement as it stands that night
    (``cases.agreement_nights``)."""

    agreement_id: int
    signed_on: date
    status: str  # "active" | "completed" | "breached" | "cancelled"
    next_due_on: date | None  # the first instalment not yet paid in full
    missed_on: date | None  # breached: the due date of the first instalment missed


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    status: str  # one of STATUSES
    first_overdue_on: date
    principal_outstanding: int  # fen
    total_due: int  # fen: principal + late fee outstanding
    has_mobile: bool
    opted_out: bool
    uncooperative: bool
    malicious: bool
    steps: tuple[StepRecord, ...]
    last_response_on: date | None  # call reached, promise, payment, interview attended
    last_payment_on: date | None
    promise: PromiseFact | None
    bank_balance: int | None  # fen, latest bank-balance inquiry
    collateral_provided: bool
    approvals: Mapping[str, str]  # step kind -> "pending" | "approved" | "rejected"
    # The earliest date after ``as_of`` on which a dated fact already on record takes effect
    # (a payment, a service date, a response entered ahead): the decision may change that day.
    upcoming_on: date | None = None
    # The enforcement track.
    statement: StatementFact | None = None  # the latest statement record
    challenge: ChallengeFact | None = None  # the earliest open challenge
    deferral: DeferralFact | None = None
    agreement: AgreementFact | None = None


@dataclass(frozen=True)
class Decision:
    case_id: int
    action: Action
    step: Step | None
    reason: str
    due_on: date | None = None  # when the step is/was due, or when to look at the case again
    deadline_on: date | None = None  # the employer's deadline for the step taken, if known now
    missing_calendar_year: int | None = None
    skipped: tuple[tuple[Step, str], ...] = ()
    channel: str | None = None  # the step's own channel, or its fallback when a guard sent it there
    # When to decide the case again if nothing about it changes: ``as_of`` itself for a decision
    # that acts tonight, the date a wait ends, the day after for rules that read the clock (late
    # fees against a bank balance), None when only a new fact (service, payment, approval, an
    # officer's action) can move it. See ``review_date``.
    review_on: date | None = None


def decide(facts: CaseFacts, as_of: date, policy: Policy) -> Decision:
    decision, clock = _decide(facts, as_of, policy)
    return replace(decision, review_on=review_date(decision, facts, as_of, clock=clock))


ACTING = frozenset({"take_step", "request_approval", "promise_broken", "defer"})


def review_date(
    decision: Decision, facts: CaseFacts, as_of: date, *, clock: bool = False
) -> date | None:
    """The first night on which ``decide`` may answer differently, facts unchanged.

    ``clock``: the decision read a rule that changes by itself from day to day. A wait's own end
    (``due_on``) and the earliest dated fact still ahead bound it; a case waiting only for a new
    fact gets None and is looked at again when that fact is recorded.
    """
    if decision.action in ACTING:
        return as_of
    dates = [facts.upcoming_on] if facts.upcoming_on and facts.upcoming_on > as_of else []
    if decision.action in ("wait", "hold") and decision.due_on and decision.due_on > as_of:
        dates.append(decision.due_on)
    if clock and decision.action == "wait":
        dates.append(as_of + _ONE_DAY)
    return min(dates, default=None)


def review_after_step(facts: CaseFacts, step: Step, as_of: date, policy: Policy) -> date | None:
    """The review date of a case that takes ``step`` on ``as_of``: tomorrow's decision, read now.

    The step is added to the facts as its notice will show it (issued ``as_of``, not yet served),
    so a rung that waits a month after it is not looked at again until then.
    """
    tomorrow = as_of + _ONE_DAY
    if facts.upcoming_on is not None and facts.upcoming_on <= tomorrow:
        return tomorrow  # a fact dated tomorrow is not in these facts yet
    taken = replace(facts, steps=(*facts.steps, StepRecord(step.kind, step.level, as_of, None)))
    return decide(taken, tomorrow, policy).review_on


def _decide(facts: CaseFacts, as_of: date, policy: Policy) -> tuple[Decision, bool]:
    """The decision, and whether it read a rule that changes with the date alone."""

    def settle(action: Action, reason: str, due_on: date | None = None) -> tuple[Decision, bool]:
        decision = Decision(facts.case_id, action, None, f"{policy.label}: {reason}", due_on)
        return decision, False

    status = facts.status
    if status in ("closed_paid", "written_off"):
        return settle("closed", f"case is {status}")
    if status == "disputed":
        return settle("hold", "case disputed: escalation paused until a supervisor resolves it")
    if status == "on_hold":
        return settle("hold", "case on hold: escalation paused until an officer resumes it")
    if status == "promised":
        promise = facts.promise
        if promise is None:
            return settle("hold", "case marked promised but no promise recorded")
        terms = f"promise of {_yuan(promise.amount)} by {promise.due_on}"
        paid = f"{_yuan(promise.paid_since)} paid since {promise.made_on}"
        if promise.paid_since >= promise.amount:
            return settle("hold", f"{terms} kept: {paid}")
        if as_of > promise.due_on:
            return settle("promise_broken", f"{terms} broken: only {paid}")
        return settle("hold", f"{terms}; {paid}", promise.due_on + _ONE_DAY)
    if status != "open":
        raise ValueError(f"case {facts.case_id}: unknown status {status!r}")
    if facts.total_due <= 0:
        return settle("hold", "nothing outstanding; the case awaits closing")
    deferral = facts.deferral
    if deferral is not None and deferral.starts_on <= as_of <= deferral.ends_on:
        why = (
            f"force-majeure deferral {deferral.approval_reference} from {deferral.starts_on} "
            f"to {deferral.ends_on}: escalation paused, no late fee accrues"
        )
        return settle("hold", why, deferral.ends_on + _ONE_DAY)
    agreement = facts.agreement
    if agreement is not None and agreement.status == "active":
        signed = f"deferred-payment agreement signed {agreement.signed_on}"
        if agreement.next_due_on is None:
            return settle("hold", f"{signed}: every instalment paid")
        why = f"{signed} in force: next instalment due {agreement.next_due_on}"
        return settle("hold", why, agreement.next_due_on + _ONE_DAY)
    ladder = _Ladder(facts, as_of, policy)
    return ladder.climb(), ladder.clock


def judge(facts: CaseFacts, as_of: date, policy: Policy, kind: str) -> Decision:
    """One named rung judged on its own: due, waiting (and for what), or skipped and why.

    ``decide`` answers "what next"; this answers "why not this one", which is what an officer
    asking for a particular step needs to hear.
    """
    step = policy.step(kind)
    ladder = _Ladder(facts, as_of, policy)
    taken = ladder.latest.get(kind)
    if taken is not None:
        return ladder._decide("wait", step, f"already taken on {taken.taken_on}")
    try:
        decision = ladder._consider(step)
    except UnknownCalendarYear as exc:
        return ladder._decide("defer", step, f"deferred: {exc}", missing_year=exc.year)
    if decision is None:
        why = "; ".join(reason for skipped, reason in ladder.skipped if skipped == step)
        return ladder._decide("wait", step, f"does not apply: {why}")
    return decision


def evaluate_guard(guard: Guard, facts: CaseFacts, as_of: date, policy: Policy) -> tuple[bool, str]:
    """Whether ``guard`` holds for the case tonight, and a phrase stating the facts it read.

    May raise ``UnknownCalendarYear`` (``refusing`` counts the demand's deadline).
    """
    return _Ladder(facts, as_of, policy).check(guard)


def _yuan(fen: int) -> str:
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d} yuan"


# A gate is a date from which a rung may be taken, or None with the event still missing.
_Gate = tuple[date | None, str]


class _Ladder:
    def __init__(self, facts: CaseFacts, as_of: date, policy: Policy) -> None:
        self.facts, self.as_of, self.policy = facts, as_of, policy
        self.latest: dict[str, StepRecord] = {}
        for record in sorted(facts.steps, key=lambda r: r.taken_on):
            self.latest[record.kind] = record
        # A kind the policy knows is placed by the policy's level, so a renumbered policy version
        # cannot make the case re-climb rungs it already took.
        levels = [self._level(r) for r in facts.steps]
        self.top = max(levels, default=0)
        self.last_taken = max((r.taken_on for r in facts.steps), default=None)
        self.skipped: list[tuple[Step, str]] = []
        self.history = _history(sorted(set(levels)))
        self.clock = False  # a guard read something that changes with the date alone

    def _level(self, record: StepRecord) -> int:
        step = self.policy.find(record.kind)
        return step.level if step is not None else record.level

    def climb(self) -> Decision:
        for step in self.policy.steps:
            if step.level <= self.top:
                continue
            try:
                decision = self._consider(step)
            except UnknownCalendarYear as exc:
                return self._decide("defer", step, f"deferred: {exc}", missing_year=exc.year)
            if decision is not None:
                return decision
        return self._decide("wait", None, "no rung left to take; an officer reviews the case")

    def _consider(self, step: Step) -> Decision | None:
        gates = [self._gate(anchor) for anchor in step.after]
        if step.day is not None:
            first = self.facts.first_overdue_on
            why = f"day {step.day} since first overdue {first}"
            gates.append((first + timedelta(days=step.day - 1), why))  # day 1 is `first` itself
        if not gates:  # only a hand-built policy can have an untimed rung
            gates.append((self.facts.first_overdue_on, "untimed rung"))
        missing = [why for gate_due, why in gates if gate_due is None]
        if missing:
            return self._decide("wait", step, f"waits: {missing[0]}")
        # The law's preconditions (cases.preconditions): one whose day has not come is a gate
        # like the policy's; one waiting for a fact, or that can never hold again, blocks.
        for lacking in missing_preconditions(self.facts, self.as_of, self.policy, step.kind):
            if lacking.verdict.from_day is None:
                return self._decide("wait", step, f"blocked: {lacking.reason()}")
            gates.append((lacking.verdict.from_day, lacking.reason()))
        due, why = max(((d, w) for d, w in gates if d is not None), key=lambda g: g[0])
        if self.as_of < due:
            return self._decide("wait", step, f"waits until {due}: {why}", due_on=due)
        due_text = f"{why}, due {due}"

        channel = step.channel
        for guard in step.guards:
            holds, state = self.check(guard)
            if holds:
                continue
            if guard.on_fail == "fallback" and step.fallback_channel:
                if channel == step.channel:  # the first failing guard says why
                    channel = step.fallback_channel
                    due_text += f"; by {channel}: '{guard.text}' fails: {state}"
                continue
            if guard.on_fail == "skip":
                self.skipped.append((step, f"'{guard.text}' fails: {state}"))
                return None
            return self._decide("wait", step, f"waits: '{guard.text}' fails: {state}")

        if step.requires_approval:
            approval = self.facts.approvals.get(step.kind)
            if approval is None:
                return self._decide(
                    "request_approval", step, f"{due_text}; needs supervisor approval", due_on=due
                )
            if approval == "pending":
                return self._decide("wait", step, f"{due_text}; awaiting supervisor approval")
            if approval == "rejected":
                why = f"{due_text}; supervisor rejected it: an officer reviews the case first"
                return self._decide("wait", step, why)
            if approval != "approved":
                raise ValueError(f"case {self.facts.case_id}: {step.kind} approval {approval!r}")

        if self.last_taken is not None:
            ready = self.last_taken + timedelta(days=self.policy.min_days_between_steps)
            if self.as_of < ready:
                why = f"{due_text}; waits until {ready}: one rung a night, last {self.last_taken}"
                return self._decide("wait", step, why, due_on=ready)
        deadline_on = None
        if step.deadline_days is not None and not step.requires_service:
            deadline_on = self.policy.deadline(self.as_of, step.deadline_days)
        return self._decide(
            "take_step", step, due_text, due_on=due, deadline_on=deadline_on, channel=channel
        )

    def _gate(self, anchor: Anchor) -> _Gate:
        target = self.policy.find(anchor.step)
        record = self.latest.get(anchor.step)
        if target is None:
            return None, f"{self.policy.label} has no {anchor.step} step"
        if record is None:
            return None, f"{anchor.step} not yet issued"
        served = _served_on(record, target)
        if served is None:
            return None, f"{anchor.step} issued {record.taken_on} not yet served"
        if anchor.on == "served":
            if not anchor.days:
                return served, f"{anchor.step} served {served}"
            end = self.policy.deadline(served, anchor.days)
            return end + _ONE_DAY, f"{anchor.step} served {served}, {anchor.days} days run to {end}"
        deadline = step_deadline(record, target, self.policy)
        if deadline is None:
            return None, f"{anchor.step} has no deadline"
        why = f"{anchor.step} served {served} with deadline {deadline}"
        if not anchor.days:
            return deadline + _ONE_DAY, why
        end = self.policy.deadline(deadline, anchor.days)
        return end + _ONE_DAY, f"{why}, {anchor.days} days more run to {end}"

    def check(self, guard: Guard) -> tuple[bool, str]:
        states = []
        for term in guard.terms:
            self.clock = self.clock or term.name in CLOCK_TERMS
            value, state = _TRUTHS[term.name](self)
            if value != term.negated:
                return True, state
            states.append(state)
        return False, " and ".join(states)

    def _no_response(self) -> tuple[bool, str]:
        since = min((r.taken_on for r in self.facts.steps), default=self.facts.first_overdue_on)
        last = self.facts.last_response_on
        if last is None or last < since:
            return True, f"no response since {since}"
        return False, f"employer responded on {last}"

    def _refusing(self) -> tuple[bool, str]:
        record, step = self.latest.get("enforcement_demand"), self.policy.find("enforcement_demand")
        end = step_deadline(record, step, self.policy) if record and step else None
        if end is None or self.as_of <= end:
            return False, "not refusing: no enforcement demand deadline has passed"
        if self.facts.total_due <= 0:
            return False, "not refusing: paid in full"
        return True, f"refusing: {_yuan(self.facts.total_due)} unpaid after demand deadline {end}"

    def _balance_known(self) -> tuple[bool, str]:
        if self.facts.bank_balance is None:
            return False, "needs a bank-balance inquiry (none on file)"
        return True, f"bank balance {_yuan(self.facts.bank_balance)}"

    def _balance(self, *, covers: bool) -> tuple[bool, str]:
        balance, due = self.facts.bank_balance, self.facts.total_due
        if balance is None:
            return False, "bank balance unknown"
        relation = ">=" if balance >= due else "<"
        state = f"bank balance {_yuan(balance)} {relation} total due {_yuan(due)}"
        return (balance >= due) == covers, state

    def _no_payment_since_demand(self) -> tuple[bool, str]:
        demand = self.latest.get("enforcement_demand")
        paid = self.facts.last_payment_on
        agreement = self.facts.agreement
        if agreement is not None and agreement.status == "breached" and agreement.missed_on:
            # Instalments paid under a deferred-payment agreement do not count once it is
            # broken: what matters is money since the instalment was missed.
            if paid is None or paid <= agreement.missed_on:
                return True, f"no payment since the instalment due {agreement.missed_on} was missed"
            return False, f"payment received {paid} since the agreement was broken"
        if paid is None or (demand is not None and paid < demand.taken_on):
            return True, "no payment since the enforcement demand"
        return False, f"payment received {paid} since the enforcement demand"

    def _decide(
        self,
        action: Action,
        step: Step | None,
        why: str,
        *,
        due_on: date | None = None,
        deadline_on: date | None = None,
        missing_year: int | None = None,
        channel: str | None = None,
    ) -> Decision:
        parts = [f"{self.policy.label}" + (f" {step.label}" if step else "") + f": {why}"]
        parts.append(self.history)
        parts += [f"skipped {s.label} ({why})" for s, why in self.skipped]
        return Decision(
            case_id=self.facts.case_id,
            action=action,
            step=step,
            reason="; ".join(parts),
            due_on=due_on,
            deadline_on=deadline_on,
            missing_calendar_year=missing_year,
            channel=channel or (step.channel if step else None),
            skipped=tuple(self.skipped),
        )


# Guard vocabulary (documented in cases.policy.GUARD_TERMS): each returns its truth and a phrase
# saying what the facts are, for the reason text.
_TRUTHS: dict[str, Callable[[_Ladder], tuple[bool, str]]] = {
    "has_mobile": lambda c: _flag(c.facts.has_mobile, "has a mobile number", "no mobile number"),
    "opted_out": lambda c: _flag(c.facts.opted_out, "opted out of SMS", "not opted out"),
    "uncooperative": lambda c: _flag(
        c.facts.uncooperative, "marked uncooperative", "not marked uncooperative"
    ),
    "malicious": lambda c: _flag(c.facts.malicious, "marked malicious", "not marked malicious"),
    "no_response": _Ladder._no_response,
    "refusing": _Ladder._refusing,
    "balance_known": _Ladder._balance_known,
    "balance_covers_debt": lambda c: c._balance(covers=True),
    "balance_short": lambda c: c._balance(covers=False),
    "collateral_provided": lambda c: _flag(
        c.facts.collateral_provided, "collateral provided", "no collateral provided"
    ),
    "no_payment_since_demand": _Ladder._no_payment_since_demand,
}


# Terms whose truth can change from one night to the next with no new fact: a deadline running
# out, late fees growing past a bank balance.
CLOCK_TERMS = frozenset({"refusing", "balance_covers_debt", "balance_short"})


def _flag(value: bool, if_true: str, if_false: str) -> tuple[bool, str]:
    return value, if_true if value else if_false


def _history(levels: list[int]) -> str:
    """``[1, 2, 3, 6]`` -> ``"rungs 1–3, 6 taken"``."""
    if not levels:
        return "no rung taken yet"
    runs: list[list[int]] = []
    for level in levels:
        if runs and level == runs[-1][-1] + 1:
            runs[-1].append(level)
        else:
            runs.append([level])
    text = ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"rung{'s' if len(levels) > 1 else ''} {text} taken"
