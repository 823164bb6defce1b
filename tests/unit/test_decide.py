"""decide() on the shipped tianjin-2016 ladder.

The case's first overdue date is Wed 2026-07-01, so the day-timed rungs fall due on
day 1 = 07-01, day 7 = 07-07, day 15 = 07-15, day 30 = 07-30, day 45 = 08-14, day 60 = 08-29.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from cases.decide import (
    CaseFacts,
    Decision,
    PromiseFact,
    StatementFact,
    StepRecord,
    decide,
    evaluate_guard,
    step_deadline,
)
from cases.policy import (
    STEP_KINDS,
    Anchor,
    Guard,
    Policy,
    default_policy_path,
    parse_guard,
)
from cases.policy_file import load_policy
from cases.workdays import WorkCalendar

FIRST = date(2026, 7, 1)
DAY = {1: date(2026, 7, 1), 7: date(2026, 7, 7), 15: date(2026, 7, 15), 30: date(2026, 7, 30)}
DAY |= {45: date(2026, 8, 14), 60: date(2026, 8, 29)}
ORDER_SERVED = date(2026, 9, 28)
# Order served Mon 28 Sep, 10 working days: 29, 30 Sep (2); 1–7 Oct National Day off;
# Thu 8, Fri 9 (4); Sat 10 Oct make-up workday (5); Sun 11 off; Mon 12 – Fri 16 (10).
ORDER_DEADLINE = date(2026, 10, 16)
DEMAND_TAKEN, DEMAND_SERVED = date(2026, 10, 19), date(2026, 10, 20)
# Demand served Tue 20 Oct: 21, 22, 23 (3); 26–30 (8); Mon 2 Nov (9); Tue 3 Nov (10).
DEMAND_DEADLINE = date(2026, 11, 3)
AFTER_DEMAND = date(2026, 11, 4)
# The employer made no statement by the demand's deadline, and an officer recorded so.
NO_STATEMENT = StatementFact("none_made", DEMAND_DEADLINE, None)
# The order served 28 Sep 2026 may be appealed by lawsuit for 6 months: to Sun 28 Mar 2027, so
# Mon 29 Mar; the court may be asked from Tue 30 Mar 2027 for 3 months (art. 53).
COURT_OPENS = date(2027, 3, 30)
# The chinese_calendar package and the shipped holiday file know no 2027 yet; these tests use a
# test calendar for 2027 with weekends only (not the State Council's schedule).
TEST_2027 = '[years.2027]\nsource = "test calendar: weekends only"\nholidays = []\nworkdays = []\n'


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    root = tmp_path_factory.mktemp("templates")
    data = tomllib.loads(default_policy_path().read_text(encoding="utf-8"))
    for step in data["steps"]:
        for name in step["templates"]:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).touch()
    holidays = root / "holidays.toml"
    holidays.write_text(TEST_2027, encoding="utf-8")
    return load_policy(default_policy_path(), templates_dir=root, calendar=WorkCalendar(holidays))


def facts(**changes: object) -> CaseFacts:
    base = CaseFacts(
        case_id=7,
        status="open",
        first_overdue_on=FIRST,
        principal_outstanding=1_000_000,
        total_due=1_045_000,
        has_mobile=True,
        opted_out=False,
        uncooperative=False,
        malicious=False,
        steps=(),
        last_response_on=None,
        last_payment_on=None,
        promise=None,
        bank_balance=None,
        collateral_provided=False,
        approvals={},
        statement=NO_STATEMENT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rec(kind: str, taken_on: date, served_on: date | None = None) -> StepRecord:
    return StepRecord(kind, STEP_KINDS.index(kind) + 1, taken_on, served_on or taken_on)


def history(upto: int, **override: StepRecord) -> tuple[StepRecord, ...]:
    """Rungs 1..upto as taken on time; letters served the next day unless overridden."""
    normal = {
        "sms_reminder": rec("sms_reminder", DAY[1]),
        "phone_reminder": rec("phone_reminder", DAY[7]),
        "reminder_letter": rec("reminder_letter", DAY[15], DAY[15] + timedelta(1)),
        "interview": rec("interview", DAY[30], DAY[30] + timedelta(1)),
        "inspection_referral": rec("inspection_referral", DAY[45]),
        "order_to_pay": rec("order_to_pay", DAY[60], ORDER_SERVED),
        "enforcement_demand": rec("enforcement_demand", DEMAND_TAKEN, DEMAND_SERVED),
        "forced_transfer": rec("forced_transfer", AFTER_DEMAND),
        "collateral_demand": rec("collateral_demand", AFTER_DEMAND + timedelta(1)),
    }
    normal |= override
    return tuple(normal[k] for k in STEP_KINDS[:upto])


def kind(decision: Decision) -> str | None:
    return decision.step.kind if decision.step else None


# -- statuses


@pytest.mark.parametrize("status", ["closed_paid", "written_off"])
def test_closed_cases(policy: Policy, status: str) -> None:
    decision = decide(facts(status=status), DAY[60], policy)
    assert (decision.action, decision.step) == ("closed", None)


@pytest.mark.parametrize(("status", "word"), [("disputed", "supervisor"), ("on_hold", "officer")])
def test_paused_cases_hold(policy: Policy, status: str, word: str) -> None:
    decision = decide(facts(status=status), DAY[60], policy)
    assert decision.action == "hold"
    assert word in decision.reason


def test_promise_holds_until_its_date(policy: Policy) -> None:
    promise = PromiseFact(amount=500_000, due_on=date(2026, 7, 20), made_on=DAY[7], paid_since=0)
    decision = decide(facts(status="promised", promise=promise), date(2026, 7, 20), policy)
    assert decision.action == "hold"
    assert decision.due_on == date(2026, 7, 21)
    assert "promise of 5000.00 yuan by 2026-07-20" in decision.reason


def test_broken_promise(policy: Policy) -> None:
    promise = PromiseFact(500_000, date(2026, 7, 20), DAY[7], paid_since=200_000)
    decision = decide(facts(status="promised", promise=promise), date(2026, 7, 21), policy)
    assert decision.action == "promise_broken"
    assert "only 2000.00 yuan paid" in decision.reason


def test_kept_promise_holds(policy: Policy) -> None:
    promise = PromiseFact(500_000, date(2026, 7, 20), DAY[7], paid_since=500_000)
    decision = decide(facts(status="promised", promise=promise), date(2026, 8, 1), policy)
    assert decision.action == "hold"
    assert "kept" in decision.reason


def test_nothing_outstanding_holds(policy: Policy) -> None:
    assert decide(facts(total_due=0), DAY[60], policy).action == "hold"


def test_unknown_status_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="frozen"):
        decide(facts(status="frozen"), DAY[60], policy)


# -- rungs 1–6, timed from the first overdue date


@pytest.mark.parametrize(
    ("level", "step_kind", "due"),
    [
        (1, "sms_reminder", DAY[1]),
        (2, "phone_reminder", DAY[7]),
        (3, "reminder_letter", DAY[15]),
        (4, "interview", DAY[30]),
        (5, "inspection_referral", DAY[45]),
        (6, "order_to_pay", DAY[60]),
    ],
)
def test_day_rungs_wait_then_are_taken(
    policy: Policy, level: int, step_kind: str, due: date
) -> None:
    case = facts(steps=history(level - 1), uncooperative=True)
    before = decide(case, due - timedelta(1), policy)
    assert (before.action, kind(before), before.due_on) == ("wait", step_kind, due)
    taken = decide(case, due, policy)
    assert (taken.action, kind(taken), taken.due_on) == ("take_step", step_kind, due)
    assert taken.skipped == ()


def test_reason_names_policy_rule_and_facts(policy: Policy) -> None:
    decision = decide(facts(steps=history(2)), DAY[15], policy)
    assert decision.reason == (
        "tianjin-2016 v2016.2 rung 3 reminder_letter: day 15 since first overdue 2026-07-01, "
        "due 2026-07-15; rungs 1–2 taken"
    )


def test_letter_deadline_waits_for_service(policy: Policy) -> None:
    decision = decide(facts(steps=history(2)), DAY[15], policy)
    assert decision.deadline_on is None


def test_deadline_on_for_a_step_whose_clock_starts_tonight(policy: Policy) -> None:
    steps = tuple(replace(s, deadline_days=3) if s.level == 2 else s for s in policy.steps)
    decision = decide(facts(steps=history(1)), DAY[7], replace(policy, steps=steps))
    # Tue 7 Jul + 3 working days.
    assert decision.deadline_on == date(2026, 7, 10)


def test_sms_rung_goes_by_letter_without_mobile(policy: Policy) -> None:
    decision = decide(facts(has_mobile=False), DAY[1], policy)
    assert (decision.action, kind(decision), decision.channel) == (
        "take_step",
        "sms_reminder",
        "letter",
    )
    assert decision.skipped == ()
    assert "by letter: 'has_mobile' fails: no mobile number" in decision.reason


def test_sms_rung_goes_by_letter_when_opted_out(policy: Policy) -> None:
    decision = decide(facts(opted_out=True), DAY[1], policy)
    assert (decision.action, kind(decision), decision.channel) == (
        "take_step",
        "sms_reminder",
        "letter",
    )
    assert "'not opted_out' fails: opted out of SMS" in decision.reason


def test_sms_rung_goes_by_sms_when_it_can(policy: Policy) -> None:
    decision = decide(facts(), DAY[1], policy)
    assert (kind(decision), decision.channel) == ("sms_reminder", "sms")


def test_interview_when_no_response(policy: Policy) -> None:
    decision = decide(facts(steps=history(3)), DAY[30], policy)
    assert (decision.action, kind(decision)) == ("take_step", "interview")


def test_interview_skipped_for_a_responsive_cooperative_employer(policy: Policy) -> None:
    case = facts(steps=history(3), last_response_on=DAY[7])
    decision = decide(case, DAY[30], policy)
    # Rung 5 is not judged before its own day 45.
    assert (decision.action, kind(decision), decision.due_on) == (
        "wait",
        "inspection_referral",
        DAY[45],
    )
    [(skipped, why)] = decision.skipped
    assert skipped.kind == "interview"
    assert "employer responded on 2026-07-07" in why


def test_interview_when_uncooperative_despite_response(policy: Policy) -> None:
    case = facts(steps=history(3), last_response_on=DAY[7], uncooperative=True)
    assert kind(decide(case, DAY[30], policy)) == "interview"


def test_response_before_the_first_step_does_not_count(policy: Policy) -> None:
    case = facts(steps=history(3), last_response_on=DAY[1] - timedelta(1))
    assert kind(decide(case, DAY[30], policy)) == "interview"


def test_inspection_skipped_for_cooperative_employer(policy: Policy) -> None:
    decision = decide(facts(steps=history(4)), DAY[45], policy)
    assert (decision.action, kind(decision), decision.due_on) == ("wait", "order_to_pay", DAY[60])
    assert [s.kind for s, _ in decision.skipped] == ["inspection_referral"]


def test_skipped_rungs_are_passed_and_the_next_due_one_taken(policy: Policy) -> None:
    decision = decide(facts(steps=history(3), last_response_on=DAY[7]), DAY[60], policy)
    assert (decision.action, kind(decision)) == ("take_step", "order_to_pay")
    assert [s.kind for s, _ in decision.skipped] == ["interview", "inspection_referral"]


# -- one rung a night


def test_imported_case_climbs_one_rung_a_night(policy: Policy) -> None:
    night = FIRST + timedelta(days=40)
    steps: tuple[StepRecord, ...] = ()
    climbed = []
    for _ in range(6):
        decision = decide(facts(steps=steps), night, policy)
        if decision.action != "take_step":
            break
        assert decision.step is not None
        climbed.append((decision.step.kind, night))
        steps += (rec(decision.step.kind, night),)
        again = decide(facts(steps=steps), night, policy)
        assert (again.action, again.due_on) == ("wait", night + timedelta(1))
        night += timedelta(1)
    start = FIRST + timedelta(days=40)
    assert climbed == [
        ("sms_reminder", start),
        ("phone_reminder", start + timedelta(1)),
        ("reminder_letter", start + timedelta(2)),
        ("interview", start + timedelta(3)),
    ]
    # Cooperative, so inspection is passed over; the order to pay waits for day 60.
    assert (decision.action, kind(decision), decision.due_on) == ("wait", "order_to_pay", DAY[60])


# -- rung 7: the enforcement demand runs from the served order's deadline


def test_enforcement_refused_before_the_order_is_served(policy: Policy) -> None:
    steps = history(6, order_to_pay=StepRecord("order_to_pay", 6, DAY[60], None))
    decision = decide(facts(steps=steps), date(2026, 12, 1), policy)
    assert (decision.action, kind(decision), decision.due_on) == (
        "wait",
        "enforcement_demand",
        None,
    )
    assert "order_to_pay issued 2026-08-29 not yet served" in decision.reason


def test_legal_floor_holds_even_if_the_policy_forgets_the_order(policy: Policy) -> None:
    loose = tuple(
        replace(s, after=(), day=61) if s.kind == "enforcement_demand" else s for s in policy.steps
    )
    steps = history(6, order_to_pay=StepRecord("order_to_pay", 6, DAY[60], None))
    decision = decide(facts(steps=steps), date(2026, 12, 1), replace(policy, steps=loose))
    assert decision.action == "wait"
    assert "not yet served" in decision.reason


def test_order_deadline_spans_national_day_2026(policy: Policy) -> None:
    order = policy.step("order_to_pay")
    assert step_deadline(history(6)[-1], order, policy) == ORDER_DEADLINE
    before = decide(facts(steps=history(6)), ORDER_DEADLINE, policy)
    assert (before.action, kind(before), before.due_on) == (
        "wait",
        "enforcement_demand",
        ORDER_DEADLINE + timedelta(1),
    )
    assert "order_to_pay served 2026-09-28 with deadline 2026-10-16" in before.reason
    taken = decide(facts(steps=history(6)), ORDER_DEADLINE + timedelta(1), policy)
    assert (taken.action, kind(taken)) == ("take_step", "enforcement_demand")


def test_deadline_into_an_unknown_year_defers(policy: Policy) -> None:
    # 10 working days from Tue 22 Dec 2026 reach into January 2027, which nobody knows yet.
    served = date(2026, 12, 22)
    steps = history(6, order_to_pay=rec("order_to_pay", date(2026, 12, 18), served))
    shipped = replace(policy, calendar=WorkCalendar())
    decision = decide(facts(steps=steps), date(2026, 12, 31), shipped)
    assert (decision.action, kind(decision)) == ("defer", "enforcement_demand")
    assert decision.missing_calendar_year == 2027
    assert "[years.2027]" in decision.reason
    assert "holidays.toml" in decision.reason


def test_agency_calendar_lifts_the_deferral(policy: Policy, tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.toml"
    holidays.write_text("[years.2027]\nholidays = [2027-01-01]\n", encoding="utf-8")
    known = replace(policy, calendar=WorkCalendar(holidays))
    steps = history(6, order_to_pay=rec("order_to_pay", date(2026, 12, 18), date(2026, 12, 22)))
    # 23, 24, 25, 28, 29, 30, 31 Dec (7); 1 Jan off; 2–3 Jan weekend; 4, 5, 6 Jan (10).
    decision = decide(facts(steps=steps), date(2027, 1, 6), known)
    assert (decision.action, decision.due_on) == ("wait", date(2027, 1, 7))
    assert kind(decide(facts(steps=steps), date(2027, 1, 7), known)) == "enforcement_demand"


# -- rungs 8 and 9: forced transfer or collateral after the demand's deadline


def test_forced_transfer_waits_for_the_demand_deadline(policy: Policy) -> None:
    case = facts(steps=history(7), bank_balance=2_000_000)
    decision = decide(case, DEMAND_DEADLINE, policy)
    assert (decision.action, kind(decision), decision.due_on) == (
        "wait",
        "forced_transfer",
        AFTER_DEMAND,
    )


def test_forced_transfer_waits_for_demand_service(policy: Policy) -> None:
    steps = history(7, enforcement_demand=StepRecord("enforcement_demand", 7, DEMAND_TAKEN, None))
    decision = decide(facts(steps=steps, bank_balance=2_000_000), date(2026, 12, 1), policy)
    assert (decision.action, kind(decision)) == ("wait", "forced_transfer")
    assert "enforcement_demand issued 2026-10-19 not yet served" in decision.reason


def test_unknown_balance_needs_an_inquiry(policy: Policy) -> None:
    decision = decide(facts(steps=history(7)), AFTER_DEMAND, policy)
    assert (decision.action, kind(decision), decision.due_on) == ("wait", "forced_transfer", None)
    assert "needs a bank-balance inquiry" in decision.reason


def test_forced_transfer_requests_approval(policy: Policy) -> None:
    decision = decide(facts(steps=history(7), bank_balance=1_045_000), AFTER_DEMAND, policy)
    assert (decision.action, kind(decision), decision.due_on) == (
        "request_approval",
        "forced_transfer",
        AFTER_DEMAND,
    )
    assert decision.skipped == ()


@pytest.mark.parametrize(
    ("approval", "action", "words"),
    [
        ("pending", "wait", "awaiting supervisor approval"),
        ("rejected", "wait", "supervisor rejected"),
        ("approved", "take_step", "due 2026-11-04"),
    ],
)
def test_approval_states(policy: Policy, approval: str, action: str, words: str) -> None:
    case = facts(steps=history(7), bank_balance=2_000_000, approvals={"forced_transfer": approval})
    decision = decide(case, AFTER_DEMAND + timedelta(3), policy)
    assert (decision.action, kind(decision)) == (action, "forced_transfer")
    assert words in decision.reason


def test_short_balance_skips_transfer_for_collateral(policy: Policy) -> None:
    decision = decide(facts(steps=history(7), bank_balance=100_000), AFTER_DEMAND, policy)
    assert (decision.action, kind(decision)) == ("request_approval", "collateral_demand")
    [(skipped, why)] = decision.skipped
    assert skipped.kind == "forced_transfer"
    assert "bank balance 1000.00 yuan < total due 10450.00 yuan" in why


def test_collateral_taken_once_approved(policy: Policy) -> None:
    case = facts(
        steps=history(7), bank_balance=100_000, approvals={"collateral_demand": "approved"}
    )
    assert decide(case, AFTER_DEMAND, policy).action == "take_step"


def test_collateral_after_a_transfer_that_fell_short(policy: Policy) -> None:
    decision = decide(facts(steps=history(8), bank_balance=0), AFTER_DEMAND + timedelta(2), policy)
    assert (decision.action, kind(decision)) == ("request_approval", "collateral_demand")


def test_transfer_only_for_malicious_or_refusing(policy: Policy) -> None:
    # Make "refusing" unavailable by guarding on malice alone.
    steps = tuple(
        replace(s, guards=(Guard("malicious", parse_guard("malicious"), "skip"),))
        if s.kind == "forced_transfer"
        else s
        for s in policy.steps
    )
    strict = replace(policy, steps=steps)
    case = facts(steps=history(7), bank_balance=2_000_000)
    decision = decide(case, AFTER_DEMAND, strict)
    assert decision.skipped[0][0].kind == "forced_transfer"
    assert "not marked malicious" in decision.skipped[0][1]
    malicious = decide(replace(case, malicious=True), AFTER_DEMAND, strict)
    assert (malicious.action, kind(malicious)) == ("request_approval", "forced_transfer")


# -- rung 10: court application


def test_court_application_waits_for_the_appeal_periods(policy: Policy) -> None:
    early = decide(facts(steps=history(9), bank_balance=0), date(2026, 11, 10), policy)
    assert (early.action, kind(early), early.due_on) == ("wait", "court_application", COURT_OPENS)
    assert "precondition 'appeal_periods_closed'" in early.reason
    assert "may still appeal the order to pay until 2027-03-29" in early.reason


def test_court_application_requested_once_the_appeal_periods_closed(policy: Policy) -> None:
    decision = decide(facts(steps=history(9), bank_balance=0), COURT_OPENS, policy)
    assert (decision.action, kind(decision)) == ("request_approval", "court_application")


def test_court_application_taken_once_approved(policy: Policy) -> None:
    case = facts(steps=history(9), approvals={"court_application": "approved"})
    decision = decide(case, COURT_OPENS, policy)
    assert (decision.action, kind(decision)) == ("take_step", "court_application")


def test_court_application_blocked_for_good_once_its_window_closed(policy: Policy) -> None:
    # Opens 30 Mar 2027; 3 months from the appeal period's last day (29 Mar) run to 29 Jun.
    case = facts(steps=history(9), approvals={"court_application": "approved"})
    assert decide(case, date(2027, 6, 29), policy).action == "take_step"
    late = decide(case, date(2027, 6, 30), policy)
    assert (late.action, kind(late), late.due_on) == ("wait", "court_application", None)
    assert "precondition 'court_window_open'" in late.reason
    assert "closed on 2027-06-29" in late.reason


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"last_payment_on": date(2026, 10, 25)}, "payment received 2026-10-25"),
        ({"collateral_provided": True}, "collateral provided"),
    ],
)
def test_court_waits_on_payment_or_collateral(
    policy: Policy, change: dict[str, object], words: str
) -> None:
    decision = decide(facts(steps=history(9), **change), COURT_OPENS, policy)
    assert (decision.action, kind(decision), decision.due_on) == ("wait", "court_application", None)
    assert words in decision.reason


def test_payment_before_the_demand_does_not_stop_court(policy: Policy) -> None:
    case = facts(steps=history(9), last_payment_on=DEMAND_TAKEN - timedelta(1))
    assert decide(case, COURT_OPENS, policy).action == "request_approval"


def test_court_not_before_ten_days_after_demand_service(policy: Policy) -> None:
    # A policy giving the demand only 3 days and timing court on that deadline alone still may
    # not apply before art. 54's 10 days from service. The demand here was served late, on Thu
    # 25 Mar 2027: 26 (1); 29, 30, 31 Mar, 1, 2 Apr (6); 5–8 Apr (10) in the test calendar.
    steps = []
    for s in policy.steps:
        if s.kind == "enforcement_demand":
            s = replace(s, deadline_days=3)
        if s.kind == "court_application":
            s = replace(s, after=(Anchor("enforcement_demand", "deadline"),))
        steps.append(s)
    short = replace(policy, steps=tuple(steps))
    demand = rec("enforcement_demand", date(2027, 3, 24), date(2027, 3, 25))
    case = facts(
        steps=history(9, enforcement_demand=demand),
        statement=StatementFact("none_made", date(2027, 3, 31), None),
    )
    early = decide(case, date(2027, 4, 2), short)
    assert (early.action, kind(early), early.due_on) == (
        "wait",
        "court_application",
        date(2027, 4, 9),
    )
    assert "precondition 'demand_ten_days'" in early.reason
    assert "10 days run to 2027-04-08" in early.reason
    assert decide(case, date(2027, 4, 9), short).action == "request_approval"


def test_ladder_exhausted(policy: Policy) -> None:
    steps = (*history(9), rec("court_application", date(2026, 11, 20)))
    decision = decide(facts(steps=steps), date(2026, 12, 1), policy)
    assert (decision.action, decision.step, decision.due_on) == ("wait", None, None)
    assert "rungs 1–10 taken" in decision.reason


# -- the guard vocabulary, one by one


def holds(policy: Policy, text: str, case: CaseFacts, as_of: date = AFTER_DEMAND) -> bool:
    return evaluate_guard(Guard(text, parse_guard(text), "skip"), case, as_of, policy)[0]


@pytest.mark.parametrize(
    ("text", "change", "expected"),
    [
        ("has_mobile", {}, True),
        ("has_mobile", {"has_mobile": False}, False),
        ("opted_out", {"opted_out": True}, True),
        ("not opted_out", {"opted_out": True}, False),
        ("uncooperative", {}, False),
        ("uncooperative", {"uncooperative": True}, True),
        ("malicious", {"malicious": True}, True),
        ("malicious", {}, False),
        ("no_response", {}, True),
        ("no_response", {"last_response_on": DAY[1]}, False),  # same day as the first step
        ("balance_known", {}, False),
        ("balance_known", {"bank_balance": 0}, True),
        ("balance_covers_debt", {"bank_balance": 1_045_000}, True),
        ("balance_covers_debt", {"bank_balance": 1_044_999}, False),
        ("balance_covers_debt", {}, False),
        ("balance_short", {"bank_balance": 1_044_999}, True),
        ("balance_short", {}, False),
        ("collateral_provided", {"collateral_provided": True}, True),
        ("no_payment_since_demand", {}, True),
        ("no_payment_since_demand", {"last_payment_on": DEMAND_TAKEN}, False),
        ("no_payment_since_demand", {"last_payment_on": DEMAND_TAKEN - timedelta(1)}, True),
        ("malicious or uncooperative", {"uncooperative": True}, True),
        ("malicious or uncooperative", {}, False),
    ],
)
def test_guard_terms(policy: Policy, text: str, change: dict[str, object], expected: bool) -> None:
    assert holds(policy, text, facts(steps=history(7), **change)) is expected


def test_refusing_needs_the_demand_deadline_to_pass(policy: Policy) -> None:
    case = facts(steps=history(7))
    assert not holds(policy, "refusing", case, DEMAND_DEADLINE)
    assert holds(policy, "refusing", case, AFTER_DEMAND)
    assert not holds(policy, "refusing", replace(case, total_due=0), AFTER_DEMAND)
    assert not holds(policy, "refusing", facts(steps=history(6)), date(2026, 12, 1))
