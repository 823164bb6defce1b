"""What the law requires to have happened before each enforcement step: data, checked twice.

Each ``Precondition`` names the steps it binds, says in one sentence what must have happened
first, and checks it against a case's facts on a date. The same table is read

* by the nightly decision (``cases.decide``): a step whose preconditions do not all hold waits,
  and the reason names the first one missing and what the facts are;
* at the moment of action (``cases.enforcement.require_step``): when an officer asks for a
  step, when a supervisor approves it, and when the nightly run writes its notice, each against
  the case as it stands then.

A precondition whose time has not yet come (a deadline still running) says from which day it
holds, so the decision knows when to look again; one that waits for a fact (service, the
employer's statement, a challenge's outcome) says what is missing.

Legal basis (``../shared/DOMAIN.md``): Social Insurance Law art. 63 (enforcement only after the
order to pay's limit); Administrative Compulsion Law art. 35 (a written demand stating the right
to state a case and defend), art. 36 (the statement recorded and reviewed), art. 37 (a decision
only after the demand's deadline), art. 53 (a court application within 3 months after the appeal
periods closed), art. 54 (the demand served at least 10 days before a court application), and the
freeze of enforcement while a reconsideration or lawsuit is pending or a force-majeure deferral
runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from cases.deadlines import (
    COURT_APPLICATION_MONTHS,
    LAWSUIT_MONTHS,
    add_months,
    appeal_closes_on,
    court_window,
)
from cases.policy import AFTER_DEMAND_KINDS, ENFORCEMENT_KINDS

if TYPE_CHECKING:
    from cases.decide import CaseFacts, StepRecord
    from cases.policy import Policy, Step

_ONE_DAY = timedelta(days=1)
COURT_NOTICE_DAYS = 10  # Administrative Compulsion Law art. 54

ORDER = "order_to_pay"
DEMAND = "enforcement_demand"
# Every rung of enforcement, the demand included, follows the order to pay's limit (art. 63);
# the decisions to enforce follow the demand (arts. 35–37).
ENFORCEMENT = ENFORCEMENT_KINDS
DECISIONS = AFTER_DEMAND_KINDS
COURT = frozenset({"court_application"})


def served_on(record: StepRecord, step: Step) -> date | None:
    """When ``record`` was served: a letter's recorded service date; SMS, voice and officer
    tasks count as served when taken."""
    if record.served_on is not None or step.requires_service:
        return record.served_on
    return record.taken_on


def step_deadline(record: StepRecord, step: Step, policy: Policy) -> date | None:
    """The employer's deadline under ``record``, counted from service; None until served.

    May raise ``cases.workdays.UnknownCalendarYear``.
    """
    served = served_on(record, step)
    if step.deadline_days is None or served is None:
        return None
    return policy.deadline(served, step.deadline_days)


@dataclass(frozen=True)
class Situation:
    """A case's facts on one date, as the checks read them."""

    facts: CaseFacts
    as_of: date
    policy: Policy

    def latest(self, kind: str) -> StepRecord | None:
        found = None
        for record in self.facts.steps:
            if record.kind == kind and (found is None or record.taken_on >= found.taken_on):
                found = record
        return found


@dataclass(frozen=True)
class Verdict:
    holds: bool
    detail: str  # what the facts are, for the reason text
    # Not yet holding, but will from this day if nothing changes (a deadline running out);
    # None while it waits for a new fact, or when it can no longer hold.
    from_day: date | None = None
    final: bool = False  # can never hold again on this case (a window that closed)


@dataclass(frozen=True)
class Precondition:
    key: str
    text: str  # what must have happened first, as an officer reads it
    basis: str  # the article of law
    steps: frozenset[str]
    check: Callable[[Situation], Verdict]


@dataclass(frozen=True)
class Missing:
    """A precondition that does not hold for a step on a date."""

    precondition: Precondition
    verdict: Verdict

    @property
    def key(self) -> str:
        return self.precondition.key

    def reason(self) -> str:
        p = self.precondition
        return f"precondition '{p.key}' not met ({p.basis}): {p.text}; {self.verdict.detail}"


@dataclass(frozen=True)
class _Served:
    record: StepRecord
    step: Step
    on: date  # the day of service


def _service(situation: Situation, kind: str) -> _Served | Verdict:
    """The latest ``kind`` notice of the case and when it was served, or why there is none."""
    step = situation.policy.find(kind)
    record = situation.latest(kind)
    if step is None:
        return Verdict(False, f"{situation.policy.label} has no {kind} step")
    if record is None:
        return Verdict(False, f"no {kind} issued yet")
    served = served_on(record, step)
    if served is None:
        return Verdict(False, f"{kind} issued {record.taken_on}, not yet served")
    return _Served(record, step, served)


def _served(kind: str) -> Callable[[Situation], Verdict]:
    def check(situation: Situation) -> Verdict:
        found = _service(situation, kind)
        if isinstance(found, Verdict):
            return found
        if found.on > situation.as_of:  # a service date entered ahead
            return Verdict(False, f"{kind} to be served {found.on}", from_day=found.on)
        return Verdict(True, f"{kind} served {found.on}")

    return check


def _deadline_passed(kind: str) -> Callable[[Situation], Verdict]:
    def check(situation: Situation) -> Verdict:
        found = _service(situation, kind)
        if isinstance(found, Verdict):
            return found
        deadline = step_deadline(found.record, found.step, situation.policy)
        if deadline is None:
            return Verdict(False, f"{kind} served {found.on} gives no deadline")
        if situation.as_of <= deadline:
            detail = f"{kind} served {found.on}, its deadline {deadline} has not passed"
            return Verdict(False, detail, from_day=deadline + _ONE_DAY)
        return Verdict(True, f"{kind} served {found.on}, deadline {deadline} passed")

    return check


def _statement_heard(situation: Situation) -> Verdict:
    demand = situation.latest(DEMAND)
    statement = situation.facts.statement
    if demand is None:
        return Verdict(False, "no enforcement_demand issued yet")
    if statement is None or statement.received_on < demand.taken_on:
        return Verdict(False, f"nothing recorded since the demand of {demand.taken_on}")
    if statement.kind == "none_made":
        return Verdict(True, f"no statement made; recorded {statement.received_on}")
    if statement.reviewed_on is None or statement.reviewed_on > situation.as_of:
        return Verdict(False, f"statement of {statement.received_on} not yet reviewed")
    return Verdict(True, f"statement of {statement.received_on} reviewed {statement.reviewed_on}")


def _ten_days_after_demand(situation: Situation) -> Verdict:
    found = _service(situation, DEMAND)
    if isinstance(found, Verdict):
        return found
    end = situation.policy.deadline(found.on, COURT_NOTICE_DAYS)
    if situation.as_of <= end:
        detail = f"{DEMAND} served {found.on}; its {COURT_NOTICE_DAYS} days run to {end}"
        return Verdict(False, detail, from_day=end + _ONE_DAY)
    return Verdict(True, f"{DEMAND} served {found.on}, {COURT_NOTICE_DAYS} days ran to {end}")


def _appeal_periods_closed(situation: Situation) -> Verdict:
    found = _service(situation, ORDER)
    if isinstance(found, Verdict):
        return found
    opens = appeal_closes_on(found.on, situation.policy.calendar) + _ONE_DAY
    if situation.as_of < opens:
        detail = f"the employer may still appeal the order to pay until {opens - _ONE_DAY}"
        return Verdict(False, detail, from_day=opens)
    return Verdict(True, f"appeal periods against the order to pay closed {opens - _ONE_DAY}")


def _court_window_open(situation: Situation) -> Verdict:
    found = _service(situation, ORDER)
    if isinstance(found, Verdict):
        return found
    # The window's last day is at least this day; only a later night needs the calendar of the
    # year the window ends in to know whether a holiday moves it.
    earliest_close = add_months(add_months(found.on, LAWSUIT_MONTHS), COURT_APPLICATION_MONTHS)
    if situation.as_of <= earliest_close:
        return Verdict(True, f"the window to apply runs at least to {earliest_close}")
    opens, closes = court_window(found.on, situation.policy.calendar)
    if situation.as_of > closes:
        return Verdict(False, f"the window to apply closed on {closes}", final=True)
    return Verdict(True, f"the window to apply runs {opens} to {closes}")


def _no_open_challenge(situation: Situation) -> Verdict:
    challenge = situation.facts.challenge
    if challenge is None or challenge.filed_on > situation.as_of:
        return Verdict(True, "no reconsideration or lawsuit pending")
    kind = "administrative reconsideration" if challenge.kind == "reconsideration" else "lawsuit"
    return Verdict(
        False, f"{kind} {challenge.reference} filed {challenge.filed_on} awaits its outcome"
    )


def _no_deferral(situation: Situation) -> Verdict:
    deferral = situation.facts.deferral
    if deferral is None or not deferral.starts_on <= situation.as_of <= deferral.ends_on:
        return Verdict(True, "no force-majeure deferral in force")
    detail = (
        f"force-majeure deferral {deferral.approval_reference} runs "
        f"{deferral.starts_on} to {deferral.ends_on}"
    )
    return Verdict(False, detail, from_day=deferral.ends_on + _ONE_DAY)


PRECONDITIONS: tuple[Precondition, ...] = (
    Precondition(
        "order_served",
        "the order to pay (限期缴纳通知书) was served on the employer",
        "Social Insurance Law art. 63",
        ENFORCEMENT,
        _served(ORDER),
    ),
    Precondition(
        "order_deadline_passed",
        "the time limit of the order to pay has run out",
        "Social Insurance Law art. 63",
        ENFORCEMENT,
        _deadline_passed(ORDER),
    ),
    Precondition(
        "demand_served",
        "the written demand (催告书), stating the right to state a case and defend, was served",
        "Administrative Compulsion Law art. 35",
        DECISIONS,
        _served(DEMAND),
    ),
    Precondition(
        "demand_deadline_passed",
        "the deadline of the written demand has passed",
        "Administrative Compulsion Law art. 37",
        DECISIONS,
        _deadline_passed(DEMAND),
    ),
    Precondition(
        "statement_heard",
        "the employer's statement and defence (陈述、申辩) were recorded and reviewed, or it was "
        "recorded that none was made",
        "Administrative Compulsion Law art. 36",
        DECISIONS,
        _statement_heard,
    ),
    Precondition(
        "demand_ten_days",
        "the written demand was served at least 10 days before",
        "Administrative Compulsion Law art. 54",
        COURT,
        _ten_days_after_demand,
    ),
    Precondition(
        "appeal_periods_closed",
        "the employer's periods to appeal the order to pay (reconsideration 60 days, lawsuit "
        "6 months from service) have closed",
        "Administrative Compulsion Law art. 53",
        COURT,
        _appeal_periods_closed,
    ),
    Precondition(
        "court_window_open",
        "the 3 months to apply to the court after the appeal periods closed have not run out",
        "Administrative Compulsion Law art. 53",
        COURT,
        _court_window_open,
    ),
    Precondition(
        "no_open_challenge",
        "no administrative reconsideration or lawsuit against the agency is pending",
        "Administrative Compulsion Law art. 53; the agency's rule: enforcement waits for the "
        "outcome",
        ENFORCEMENT,
        _no_open_challenge,
    ),
    Precondition(
        "no_deferral",
        "no force-majeure deferral is in force",
        "force-majeure deferral with provincial approval, up to 1 year",
        ENFORCEMENT,
        _no_deferral,
    ),
)


def preconditions_of(kind: str) -> tuple[Precondition, ...]:
    return tuple(p for p in PRECONDITIONS if kind in p.steps)


def missing(facts: CaseFacts, as_of: date, policy: Policy, kind: str) -> list[Missing]:
    """The preconditions of step ``kind`` that do not hold for the case on ``as_of``, in the
    table's order. May raise ``cases.workdays.UnknownCalendarYear``."""
    situation = Situation(facts, as_of, policy)
    found = []
    for precondition in preconditions_of(kind):
        verdict = precondition.check(situation)
        if not verdict.holds:
            found.append(Missing(precondition, verdict))
    return found
