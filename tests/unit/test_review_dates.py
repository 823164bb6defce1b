"""Review dates: a case is decided again no later than the first night its decision can change.

A night decides only the cases whose review date has come, so a review date that is too late
skips a due step. The property test below holds every decision's facts still and walks the
nights up to its review date: the decision must not change before it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.decide import ACTING, Decision, PromiseFact, StepRecord, decide, review_after_step
from cases.policy import STEP_KINDS, Policy
from tests.unit.test_decide import (
    AFTER_DEMAND,
    DAY,
    DEMAND_SERVED,
    DEMAND_TAKEN,
    ORDER_SERVED,
    facts,
    history,
    policy,
    rec,
)

__all__ = ["policy"]  # the module-scoped fixture, shared with test_decide

HORIZON = 150  # nights walked when a decision has no review date of its own


def outcome(decision: Decision) -> tuple[str, str | None, str | None]:
    return decision.action, decision.step.kind if decision.step else None, decision.channel


def walk(case_facts: object, as_of: date, policy: Policy) -> None:
    """The decision stays what it is until its review date (facts unchanged)."""
    first = decide(case_facts, as_of, policy)  # type: ignore[arg-type]
    if first.action in ACTING:
        assert first.review_on == as_of
        return
    until = first.review_on or as_of + timedelta(days=HORIZON)
    assert until > as_of
    day = as_of + timedelta(days=1)
    while day < until:
        later = decide(case_facts, day, policy)  # type: ignore[arg-type]
        assert outcome(later) == outcome(first), (
            f"decided {outcome(first)} on {as_of} with review on {first.review_on}, "
            f"but {outcome(later)} on {day}: {later.reason}"
        )
        day += timedelta(days=1)


def test_a_wait_for_the_next_rung_is_reviewed_on_its_day(policy: Policy) -> None:
    decision = decide(facts(steps=history(1)), DAY[1] + timedelta(days=2), policy)
    assert decision.action == "wait" and decision.review_on == DAY[7]


def test_a_wait_for_service_has_no_date_a_new_fact_clears_it(policy: Policy) -> None:
    unserved = tuple(
        r if r.kind != "order_to_pay" else replace(r, served_on=None) for r in history(6)
    )
    decision = decide(facts(steps=unserved), DAY[60] + timedelta(days=40), policy)
    assert decision.action == "wait" and "not yet served" in decision.reason
    assert decision.review_on is None


def test_a_promise_is_reviewed_the_day_after_it_falls_due(policy: Policy) -> None:
    promise = PromiseFact(amount=500_000, due_on=date(2026, 8, 1), made_on=DAY[7], paid_since=0)
    decision = decide(facts(status="promised", promise=promise), DAY[15], policy)
    assert decision.action == "hold" and decision.review_on == date(2026, 8, 2)


def test_a_fact_dated_ahead_brings_the_review_forward(policy: Policy) -> None:
    ahead = date(2026, 7, 3)
    decision = decide(facts(steps=history(1), upcoming_on=ahead), DAY[1], policy)
    assert decision.review_on == ahead


def test_a_step_taken_tonight_is_reviewed_when_the_next_rung_falls_due(policy: Policy) -> None:
    tonight = DAY[1]
    case = facts()
    decision = decide(case, tonight, policy)
    assert decision.action == "take_step" and decision.step is not None
    assert decision.step.kind == "sms_reminder"
    assert review_after_step(case, decision.step, tonight, policy) == DAY[7]


def test_a_letter_taken_tonight_waits_for_its_service(policy: Policy) -> None:
    case = facts(steps=history(5))
    decision = decide(case, DAY[60], policy)
    assert decision.step is not None and decision.step.kind == "order_to_pay"
    assert review_after_step(case, decision.step, DAY[60], policy) is None


def test_rules_that_read_the_clock_are_reviewed_every_night(policy: Policy) -> None:
    # The forced transfer's guard compares the bank balance with the debt, whose late fee grows
    # every day: a case waiting for approval there is decided again the next night.
    case = facts(
        steps=history(7),
        bank_balance=1_045_000,
        uncooperative=True,
        approvals={"forced_transfer": "pending"},
    )
    tonight = AFTER_DEMAND + timedelta(days=3)
    decision = decide(case, tonight, policy)
    assert decision.action == "wait" and "awaiting supervisor approval" in decision.reason
    assert decision.review_on == tonight + timedelta(days=1)


AS_OF = st.dates(min_value=DAY[1] - timedelta(days=5), max_value=date(2026, 11, 20))


@st.composite
def any_facts(draw: st.DrawFn) -> object:
    upto = draw(st.integers(0, 9))
    served_late = draw(st.integers(0, 20))
    steps = history(
        upto,
        order_to_pay=rec("order_to_pay", DAY[60], ORDER_SERVED + timedelta(days=served_late)),
        enforcement_demand=rec("enforcement_demand", DEMAND_TAKEN, DEMAND_SERVED),
    )
    if upto and draw(st.booleans()):  # the last letter not yet served
        last = steps[-1]
        steps = (*steps[:-1], replace(last, served_on=None))
    status = draw(st.sampled_from(["open", "open", "open", "promised", "disputed"]))
    promise = None
    if status == "promised":
        made = draw(AS_OF)
        promise = PromiseFact(
            amount=500_000,
            due_on=made + timedelta(days=draw(st.integers(1, 30))),
            made_on=made,
            paid_since=draw(st.sampled_from([0, 200_000, 500_000])),
        )
    return facts(
        status=status,
        steps=steps,
        uncooperative=draw(st.booleans()),
        malicious=draw(st.booleans()),
        has_mobile=draw(st.booleans()),
        opted_out=draw(st.booleans()),
        last_response_on=draw(st.none() | AS_OF),
        last_payment_on=draw(st.none() | AS_OF),
        promise=promise,
        bank_balance=draw(st.none() | st.sampled_from([0, 500_000, 1_045_000, 5_000_000])),
        collateral_provided=draw(st.booleans()),
        approvals=draw(
            st.dictionaries(
                st.sampled_from(STEP_KINDS[7:]),
                st.sampled_from(["pending", "approved", "rejected"]),
                max_size=2,
            )
        ),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=any_facts(), as_of=AS_OF)
def test_no_decision_changes_before_its_review_date(
    policy: Policy, case: object, as_of: date
) -> None:
    walk(case, as_of, policy)


@pytest.mark.parametrize("upto", range(0, 8))
def test_a_step_taken_is_not_due_again_before_its_review_date(policy: Policy, upto: int) -> None:
    """After tonight's step the facts include it; nothing is due before the date given."""
    approved = dict.fromkeys(STEP_KINDS[7:], "approved")
    case = facts(
        steps=history(upto), uncooperative=True, bank_balance=5_000_000, approvals=approved
    )
    checked = 0
    for offset in range(0, 150, 3):
        tonight = DAY[1] + timedelta(days=offset)
        decision = decide(case, tonight, policy)
        if decision.action != "take_step" or decision.step is None:
            continue
        step = decision.step
        review = review_after_step(case, step, tonight, policy)
        taken = replace(case, steps=(*case.steps, StepRecord(step.kind, step.level, tonight, None)))
        day = tonight + timedelta(days=1)
        stop = review or tonight + timedelta(days=HORIZON)
        assert stop >= day
        while day < stop:
            later = decide(taken, day, policy)
            assert later.action not in ACTING, f"{later.reason} on {day}, review {review}"
            day += timedelta(days=1)
        checked += 1
    assert checked  # the history leaves some rung to take
