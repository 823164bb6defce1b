"""Each legal precondition of the enforcement track: the step refused with the precise reason,
and allowed once the precondition holds.

The timeline is test_decide's: order to pay served Mon 28 Sep 2026 (deadline 16 Oct, 10 working
days across National Day), demand issued 19 Oct and served 20 Oct (deadline 3 Nov).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from cases.decide import ChallengeFact, DeferralFact, StatementFact, decide
from cases.policy import Policy
from cases.preconditions import PRECONDITIONS, missing, preconditions_of
from tests.unit.test_decide import (
    AFTER_DEMAND,
    COURT_OPENS,
    DEMAND_DEADLINE,
    DEMAND_SERVED,
    DEMAND_TAKEN,
    ORDER_DEADLINE,
    facts,
    history,
    kind,
    policy,
    rec,
)

__all__ = ["policy"]  # the fixture, shared with test_decide

READY = {"forced_transfer": "approved", "collateral_demand": "approved"}
TRANSFER = {"malicious": True, "bank_balance": 10_000_000, "approvals": READY}


def keys(found: list) -> list[str]:
    return [m.key for m in found]


def test_every_enforcement_step_names_its_preconditions() -> None:
    assert [p.key for p in preconditions_of("enforcement_demand")] == [
        "order_served",
        "order_deadline_passed",
        "no_open_challenge",
        "no_deferral",
    ]
    assert [p.key for p in preconditions_of("forced_transfer")] == [
        "order_served",
        "order_deadline_passed",
        "demand_served",
        "demand_deadline_passed",
        "statement_heard",
        "no_open_challenge",
        "no_deferral",
    ]
    assert [p.key for p in preconditions_of("court_application")] == [p.key for p in PRECONDITIONS]
    assert preconditions_of("sms_reminder") == ()


# --- the order to pay (Social Insurance Law art. 63)


def test_demand_refused_until_the_order_is_served(policy: Policy) -> None:
    unserved = history(6, order_to_pay=rec("order_to_pay", date(2026, 8, 29)))
    unserved = (*unserved[:-1], replace(unserved[-1], served_on=None))
    case = facts(steps=unserved)
    found = missing(case, date(2026, 10, 30), policy, "enforcement_demand")
    assert keys(found)[:2] == ["order_served", "order_deadline_passed"]
    assert found[0].reason() == (
        "precondition 'order_served' not met (Social Insurance Law art. 63): the order to pay "
        "(限期缴纳通知书) was served on the employer; "
        "order_to_pay issued 2026-08-29, not yet served"
    )
    assert (
        missing(
            facts(steps=history(6)), ORDER_DEADLINE + timedelta(1), policy, "enforcement_demand"
        )
        == []
    )


def test_demand_waits_for_the_orders_deadline_and_says_until_when(policy: Policy) -> None:
    case = facts(steps=history(6))
    (found,) = missing(case, ORDER_DEADLINE, policy, "enforcement_demand")
    assert found.key == "order_deadline_passed"
    assert found.verdict.from_day == ORDER_DEADLINE + timedelta(1)
    assert "deadline 2026-10-16 has not passed" in found.reason()
    decision = decide(case, ORDER_DEADLINE, policy)
    assert (decision.action, kind(decision), decision.due_on) == (
        "wait",
        "enforcement_demand",
        ORDER_DEADLINE + timedelta(1),
    )
    assert decide(case, ORDER_DEADLINE + timedelta(1), policy).action == "take_step"


# --- the written demand (Administrative Compulsion Law arts. 35, 37)


def test_transfer_refused_until_the_demand_is_served(policy: Policy) -> None:
    steps = history(7, enforcement_demand=rec("enforcement_demand", DEMAND_TAKEN))
    steps = (*steps[:-1], replace(steps[-1], served_on=None))
    case = facts(steps=steps, **TRANSFER)
    found = missing(case, AFTER_DEMAND, policy, "forced_transfer")
    assert keys(found)[0] == "demand_served"
    assert "stating the right to state a case and defend, was served" in found[0].reason()
    assert "enforcement_demand issued 2026-10-19, not yet served" in found[0].reason()
    decision = decide(case, AFTER_DEMAND, policy)
    assert (decision.action, kind(decision)) == ("wait", "forced_transfer")


def test_transfer_refused_before_the_demands_deadline_then_taken(policy: Policy) -> None:
    case = facts(steps=history(7), **TRANSFER)
    found = missing(case, DEMAND_DEADLINE, policy, "forced_transfer")
    assert keys(found) == ["demand_deadline_passed"]
    assert "enforcement_demand served 2026-10-20, its deadline 2026-11-03 has not passed" in (
        found[0].reason()
    )
    assert decide(case, DEMAND_DEADLINE, policy).action == "wait"
    taken = decide(case, AFTER_DEMAND, policy)
    assert (taken.action, kind(taken)) == ("take_step", "forced_transfer")


# --- the employer heard (Administrative Compulsion Law art. 36)


def test_transfer_blocked_until_the_statement_is_recorded(policy: Policy) -> None:
    case = facts(steps=history(7), statement=None, **TRANSFER)
    decision = decide(case, AFTER_DEMAND, policy)
    assert (decision.action, kind(decision), decision.due_on) == ("wait", "forced_transfer", None)
    assert "blocked: precondition 'statement_heard' not met" in decision.reason
    assert "nothing recorded since the demand of 2026-10-19" in decision.reason
    heard = replace(case, statement=StatementFact("none_made", AFTER_DEMAND, None))
    assert decide(heard, AFTER_DEMAND, policy).action == "take_step"


def test_a_statement_must_be_reviewed_before_the_decision(policy: Policy) -> None:
    made = StatementFact("statement", date(2026, 10, 28), None)
    case = facts(steps=history(7), statement=made, **TRANSFER)
    (found,) = missing(case, AFTER_DEMAND, policy, "forced_transfer")
    assert found.key == "statement_heard"
    assert found.verdict.detail == "statement of 2026-10-28 not yet reviewed"
    reviewed = replace(case, statement=replace(made, reviewed_on=date(2026, 11, 2)))
    assert missing(reviewed, AFTER_DEMAND, policy, "forced_transfer") == []


def test_a_statement_from_before_the_demand_does_not_count(policy: Policy) -> None:
    old = StatementFact("statement", DEMAND_TAKEN - timedelta(5), DEMAND_TAKEN - timedelta(2))
    case = facts(steps=history(7), statement=old, **TRANSFER)
    assert keys(missing(case, AFTER_DEMAND, policy, "forced_transfer")) == ["statement_heard"]


# --- the court (Administrative Compulsion Law arts. 53, 54)


def test_court_refused_within_ten_days_of_the_demands_service(policy: Policy) -> None:
    demand = rec("enforcement_demand", date(2027, 3, 24), date(2027, 3, 25))
    case = facts(
        steps=history(9, enforcement_demand=demand),
        statement=StatementFact("none_made", date(2027, 4, 7), None),
    )
    # A demand giving only 3 working days (to 30 Mar) still leaves art. 54's 10 (to 8 Apr).
    short = replace(
        policy,
        steps=tuple(
            replace(s, deadline_days=3) if s.kind == "enforcement_demand" else s
            for s in policy.steps
        ),
    )
    found = missing(case, date(2027, 4, 8), short, "court_application")
    assert keys(found) == ["demand_ten_days"]
    assert (
        found[0]
        .reason()
        .startswith(
            "precondition 'demand_ten_days' not met (Administrative Compulsion Law art. 54)"
        )
    )
    assert missing(case, date(2027, 4, 9), short, "court_application") == []


def test_court_refused_while_the_employer_may_still_appeal(policy: Policy) -> None:
    case = facts(steps=history(9))
    found = missing(case, COURT_OPENS - timedelta(1), policy, "court_application")
    assert keys(found) == ["appeal_periods_closed"]
    assert found[0].verdict.from_day == COURT_OPENS
    assert missing(case, COURT_OPENS, policy, "court_application") == []


def test_court_refused_for_good_once_its_window_closed(policy: Policy) -> None:
    case = facts(steps=history(9))
    found = missing(case, date(2027, 6, 30), policy, "court_application")
    assert keys(found) == ["court_window_open"]
    assert found[0].verdict.final and found[0].verdict.from_day is None
    assert found[0].verdict.detail == "the window to apply closed on 2027-06-29"


# --- holds


def test_a_pending_lawsuit_freezes_every_enforcement_step(policy: Policy) -> None:
    lawsuit = ChallengeFact("lawsuit", date(2026, 10, 12), "(2026)津0101行初123号")
    for upto, step in ((6, "enforcement_demand"), (7, "forced_transfer")):
        case = facts(steps=history(upto), challenge=lawsuit, **TRANSFER)
        decision = decide(case, AFTER_DEMAND, policy)
        assert (decision.action, kind(decision)) == ("wait", step)
        assert "precondition 'no_open_challenge' not met" in decision.reason
        assert (
            "lawsuit (2026)津0101行初123号 filed 2026-10-12 awaits its outcome" in decision.reason
        )
    unfrozen = facts(steps=history(7), challenge=None, **TRANSFER)
    assert decide(unfrozen, AFTER_DEMAND, policy).action == "take_step"


def test_a_deferral_in_force_stops_enforcement_until_it_ends(policy: Policy) -> None:
    deferral = DeferralFact(date(2026, 11, 1), date(2026, 12, 31), "津人社缓字〔2026〕3号")
    case = facts(steps=history(7), deferral=deferral, **TRANSFER)
    (found,) = missing(case, AFTER_DEMAND, policy, "forced_transfer")
    assert found.key == "no_deferral"
    assert found.verdict.from_day == date(2027, 1, 1)
    assert missing(case, date(2027, 1, 1), policy, "forced_transfer") == []


def test_other_steps_have_no_legal_preconditions(policy: Policy) -> None:
    lawsuit = ChallengeFact("reconsideration", date(2026, 7, 2), "津复〔2026〕1号")
    assert missing(facts(challenge=lawsuit), DEMAND_SERVED, policy, "reminder_letter") == []


# --- working days across the long holidays (Administrative Compulsion Law art. 69)


def test_the_demands_deadline_counts_working_days_across_spring_festival(policy: Policy) -> None:
    # Demand served Thu 12 Feb 2026: Spring Festival runs 15–23 Feb with Sat 14 and Sat 28 Feb
    # made workdays; 13, 14 (2); 24–27 (6); 28 (7); 2, 3, 4 Mar (10): the deadline is Wed 4 Mar.
    order = rec("order_to_pay", date(2026, 1, 5), date(2026, 1, 6))
    demand = rec("enforcement_demand", date(2026, 2, 11), date(2026, 2, 12))
    case = facts(
        steps=history(7, order_to_pay=order, enforcement_demand=demand),
        statement=StatementFact("none_made", date(2026, 3, 5), None),
        **TRANSFER,
    )
    (found,) = missing(case, date(2026, 3, 4), policy, "forced_transfer")
    assert found.key == "demand_deadline_passed"
    assert found.verdict.from_day == date(2026, 3, 5)
    assert missing(case, date(2026, 3, 5), policy, "forced_transfer") == []


def test_the_orders_limit_counts_working_days_across_national_day(policy: Policy) -> None:
    # Order served Mon 28 Sep 2026; 1–7 Oct off, Sat 10 Oct a workday: the limit ends Fri 16 Oct.
    case = facts(steps=history(6))
    (found,) = missing(case, date(2026, 10, 16), policy, "enforcement_demand")
    assert (found.key, found.verdict.from_day) == ("order_deadline_passed", date(2026, 10, 17))
