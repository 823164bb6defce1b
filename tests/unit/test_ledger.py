"""Late fees and payment allocation (cases/ledger.py).

Every expected figure is worked out by hand in a comment next to it, in fen (1 yuan = 100 fen),
with the statutory 0.05% a day = 0.0005. Day counts are spelled out so they can be checked
against a calendar.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.ledger import (
    INSURANCE_ORDER,
    Allocation,
    FeeFree,
    FeeRules,
    Item,
    Payment,
    allocate,
    allocation_order,
    late_fee,
    position,
)

RULES = FeeRules()
NO_CAP = FeeRules(cap_at_principal=False)


def item(
    item_id: int = 1,
    amount_due: int = 1234567,
    due_date: date = date(2026, 9, 15),
    period: str = "2026-08",
    insurance: str = "pension",
) -> Item:
    return Item(item_id, period, insurance, due_date, amount_due)


# --- late_fee -----------------------------------------------------------------------------------


def test_one_item_unpaid_for_30_days() -> None:
    # 2026-09-15 -> 2026-10-15: 15 days left in September + 15 in October = 30 days.
    # 0.0005 x 1234567 x 30 = 18518.505 fen -> half-up 18519 fen = 185.19 yuan.
    assert late_fee(item(), [], date(2026, 10, 15), RULES) == 18519


def test_no_fee_on_or_before_the_due_date() -> None:
    assert late_fee(item(), [], date(2026, 9, 15), RULES) == 0
    assert late_fee(item(), [], date(2026, 9, 1), RULES) == 0


def test_paid_on_the_due_date_accrues_nothing() -> None:
    paid = [(date(2026, 9, 15), 1234567)]
    assert late_fee(item(), paid, date(2027, 9, 15), RULES) == 0


def test_paid_before_the_due_date_accrues_nothing() -> None:
    paid = [(date(2026, 9, 1), 1234567)]
    assert late_fee(item(), paid, date(2027, 9, 15), RULES) == 0


def test_partial_payments_accrue_piecewise() -> None:
    debt = item(amount_due=100000, due_date=date(2026, 1, 15))
    paid = [(date(2026, 1, 25), 40000), (date(2026, 2, 14), 30000)]
    # 40000 paid 2026-01-25: 10 days.  30000 paid 2026-02-14: 16 (Jan) + 14 (Feb) = 30 days.
    # 30000 still unpaid on 2026-03-16: 16 (Jan) + 28 (Feb) + 16 (Mar) = 60 days.
    # 0.0005 x (40000x10 + 30000x30 + 30000x60) = 0.0005 x 3,100,000 = 1550 fen.
    assert late_fee(debt, paid, date(2026, 3, 16), RULES) == 1550


def test_fee_stops_growing_once_principal_is_settled() -> None:
    debt = item(amount_due=100000, due_date=date(2026, 1, 15))
    paid = [(date(2026, 1, 25), 100000)]
    # 0.0005 x 100000 x 10 days = 500 fen, whether asked a day or a year later.
    assert late_fee(debt, paid, date(2026, 1, 25), RULES) == 500
    assert late_fee(debt, paid, date(2027, 1, 25), RULES) == 500


def test_part_paid_after_as_of_counts_as_unpaid_on_as_of() -> None:
    debt = item(amount_due=100000, due_date=date(2026, 1, 15))
    paid = [(date(2026, 3, 1), 100000)]
    # On 2026-01-25 the payment of 03-01 had not happened: 100000 x 10 days x 0.0005 = 500.
    assert late_fee(debt, paid, date(2026, 1, 25), RULES) == 500


def test_rounding_happens_once_per_item_not_per_part() -> None:
    debt = item(amount_due=1600, due_date=date(2026, 9, 15))
    paid = [(date(2026, 9, 16), 800)]
    # 800 paid after 1 day, 800 unpaid 1 day on 09-16: 0.0005 x (800 + 800) = 0.8 -> 1 fen.
    # Rounding each part (0.4 -> 0, twice) would give 0.
    assert late_fee(debt, paid, date(2026, 9, 16), RULES) == 1


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1000, 1),  # 0.0005 x 1000 x 1 day = 0.5 -> 1 (banker's rounding would give 0)
        (3000, 2),  # 1.5 -> 2
        (5000, 3),  # 2.5 -> 3 (banker's rounding would give 2)
        (999, 0),  # 0.4995 -> 0
    ],
)
def test_half_up_rounding_at_exactly_half_a_fen(amount: int, expected: int) -> None:
    debt = item(amount_due=amount, due_date=date(2026, 9, 15))
    assert late_fee(debt, [], date(2026, 9, 16), RULES) == expected


def test_leap_day_counts() -> None:
    # 2028 is a leap year: 02-28 -> 02-29 -> 03-01 is 2 days; 0.0005 x 1,000,000 x 2 = 1000 fen.
    leap = item(amount_due=1000000, due_date=date(2028, 2, 28))
    assert late_fee(leap, [(date(2028, 3, 1), 1000000)], date(2028, 12, 31), RULES) == 1000
    # 2027 is not: 02-28 -> 03-01 is 1 day = 500 fen.
    plain = item(amount_due=1000000, due_date=date(2027, 2, 28))
    assert late_fee(plain, [(date(2027, 3, 1), 1000000)], date(2027, 12, 31), RULES) == 500


def test_fee_is_capped_at_the_principal() -> None:
    debt = item(amount_due=10000, due_date=date(2020, 1, 15))
    # 2020-01-15 -> 2025-01-15 is 366+365+365+365+366 = 1827 days (2020 and 2024 leap);
    # + 174 more (Jan 31, Feb 28, Mar 31, Apr 30, May 31 to 06-15 = 151; +23 to 07-08) = 2001.
    as_of = date(2025, 7, 8)
    assert (as_of - debt.due_date).days == 2001
    # 0.0005 x 10000 x 2001 = 10005 fen > 10000 principal -> capped to 10000.
    assert late_fee(debt, [], as_of, RULES) == 10000
    assert late_fee(debt, [], as_of, NO_CAP) == 10005
    # Exactly at 2000 days the fee equals the principal, capped or not.
    assert late_fee(debt, [], as_of - timedelta(days=1), NO_CAP) == 10000


def test_custom_daily_rate() -> None:
    # A policy may set another rate: 0.001 x 1234567 x 30 = 37037.01 -> 37037 fen.
    rules = FeeRules(daily_rate=Decimal("0.001"))
    assert late_fee(item(), [], date(2026, 10, 15), rules) == 37037


def test_fee_is_exact_even_in_a_low_precision_decimal_context() -> None:
    huge = item(amount_due=123456789012345678, due_date=date(2026, 9, 15))
    # 0.0005 x 123456789012345678 x 30 = 1851851835185185.17 -> 1851851835185185 fen.
    with localcontext() as ctx:
        ctx.prec = 6
        assert late_fee(huge, [], date(2026, 10, 15), NO_CAP) == 1851851835185185


def test_principal_parts_cannot_exceed_the_amount_due() -> None:
    with pytest.raises(ValueError, match="more than"):
        late_fee(item(amount_due=100), [(date(2026, 9, 1), 101)], date(2026, 10, 1), RULES)


# --- allocation ---------------------------------------------------------------------------------


def test_allocation_order_is_due_date_then_period_then_insurance() -> None:
    later_due = item(1, period="2026-06", insurance="pension", due_date=date(2026, 10, 15))
    maternity = item(2, period="2026-08", insurance="maternity")
    pension = item(3, period="2026-08", insurance="pension")
    earlier_period = item(4, period="2026-07", insurance="unemployment")
    medical = item(5, period="2026-08", insurance="medical")
    ordered = allocation_order([later_due, maternity, pension, earlier_period, medical])
    # Due 09-15 before 10-15 (even though 2026-06 is the earliest period); among 09-15,
    # period 2026-07 first; then 2026-08 by insurance: pension, medical, maternity.
    assert [i.item_id for i in ordered] == [4, 3, 5, 2, 1]


def test_payment_fills_principal_in_allocation_order() -> None:
    items = [
        item(1, 1000, date(2026, 10, 15), "2026-09", "pension"),
        item(2, 1000, date(2026, 9, 15), "2026-08", "maternity"),
        item(3, 1000, date(2026, 9, 15), "2026-08", "pension"),
        item(4, 1000, date(2026, 9, 15), "2026-07", "unemployment"),
    ]
    # Paid before every due date, so no fees: 2500 = 1000 (item 4) + 1000 (item 3) + 500 (item 2).
    rows = allocate(items, [Payment(7, 2500, date(2026, 9, 10))], RULES)
    assert rows == [
        Allocation(7, 4, 1000, 0, 0, date(2026, 9, 10)),
        Allocation(7, 3, 1000, 0, 0, date(2026, 9, 10)),
        Allocation(7, 2, 500, 0, 0, date(2026, 9, 10)),
    ]


# Two items used by the next tests, worked out once:
#   A 100000 due 2026-01-15 (period 2025-12), B 100000 due 2026-02-15 (period 2026-01).
#   Payment 1, 2026-03-17, 150000: principal first -> A 100000, B 50000; nothing left for fees.
#     A is settled on 03-17, 16 (Jan) + 28 (Feb) + 17 (Mar) = 61 days late:
#       fee A = 0.0005 x 100000 x 61 = 3050, fixed from now on.
#     B's first 50000 was paid 13 (Feb) + 17 (Mar) = 30 days late.
#   Payment 2, 2026-04-16, 60000: B's other 50000 principal first, 10000 left.
#     B's second 50000 is paid 13 (Feb) + 31 (Mar) + 16 (Apr) = 60 days late, this same day:
#       fee B = 0.0005 x (50000 x 30 + 50000 x 60) = 0.0005 x 4,500,000 = 2250.
#     Fees in item order: A 3050 (6950 left), B 2250 (4700 left) -> credit 4700.
#     Check: 3050 + (50000 + 2250) + 4700 = 60000.
A = item(1, 100000, date(2026, 1, 15), "2025-12", "pension")
B = item(2, 100000, date(2026, 2, 15), "2026-01", "pension")
PAY1 = Payment(1, 150000, date(2026, 3, 17))
PAY2 = Payment(2, 60000, date(2026, 4, 16))


def test_principal_before_fees_fees_as_of_payment_date_then_credit() -> None:
    assert allocate([B, A], [PAY2, PAY1], RULES) == [
        Allocation(1, 1, 100000, 0, 0, date(2026, 3, 17)),
        Allocation(1, 2, 50000, 0, 0, date(2026, 3, 17)),
        Allocation(2, 1, 0, 3050, 0, date(2026, 4, 16)),
        Allocation(2, 2, 50000, 2250, 0, date(2026, 4, 16)),
        Allocation(2, None, 0, 0, 4700, date(2026, 4, 16)),
    ]


def test_a_payment_clears_what_is_due_before_items_falling_due_later() -> None:
    # A 1,000,000 due 2026-09-15; C 70,000 due 2026-10-15 (a month imported later).
    # Paid 2026-09-21: 1,003,000 = A's principal + 6 days' fee (0.0005 x 1,000,000 x 6 = 3,000).
    # A's fee is owed on the payment day and comes before C's principal, which is not yet due.
    c = item(3, 70000, date(2026, 10, 15), "2026-09", "pension")
    a = item(1, 1000000, date(2026, 9, 15))
    rows = allocate([c, a], [Payment(9, 1003000, date(2026, 9, 21))], RULES)
    assert rows == [Allocation(9, 1, 1000000, 3000, 0, date(2026, 9, 21))]
    pos = position([a, c], [Payment(9, 1003000, date(2026, 9, 21))], date(2026, 10, 20), RULES)
    assert pos.items[1].total_outstanding == 0
    # C: 70,000 unpaid 5 days: 0.0005 x 70,000 x 5 = 175.
    assert (pos.items[3].principal_outstanding, pos.items[3].fee_outstanding) == (70000, 175)


def test_a_policy_may_clear_fees_before_principal() -> None:
    # 1,000,000 due 2026-09-15, 30 days late on 2026-10-15: fee 15,000. A 10,000 payment that day
    # goes wholly to the fee when fees come first, wholly to principal by default.
    a = item(1, 1000000, date(2026, 9, 15))
    paid = [Payment(1, 10000, date(2026, 10, 15))]
    fees_first = FeeRules(principal_first=False)
    assert allocate([a], paid, fees_first) == [Allocation(1, 1, 0, 10000, 0, date(2026, 10, 15))]
    assert allocate([a], paid, RULES) == [Allocation(1, 1, 10000, 0, 0, date(2026, 10, 15))]
    # Ten days later: fees first left all 1,000,000 accruing, 0.0005 x 1,000,000 x 40 = 20,000,
    # minus 10,000 paid; principal first accrued 0.0005 x (10,000 x 30 + 990,000 x 40) = 19,950.
    assert position([a], paid, date(2026, 10, 25), fees_first).fee_outstanding == 10000
    assert position([a], paid, date(2026, 10, 25), RULES).fee_outstanding == 19950


def test_same_day_payments_replay_by_payment_id() -> None:
    debt = item(amount_due=1000, due_date=date(2026, 9, 15))
    day = date(2026, 9, 1)
    rows = allocate([debt], [Payment(9, 700, day), Payment(3, 500, day)], RULES)
    # Payment 3 first takes 500; payment 9 takes the remaining 500 and leaves 200 as credit.
    assert rows == [
        Allocation(3, 1, 500, 0, 0, day),
        Allocation(9, 1, 500, 0, 0, day),
        Allocation(9, None, 0, 0, 200, day),
    ]


def test_payment_with_no_items_is_all_credit() -> None:
    assert allocate([], [Payment(1, 500, date(2026, 1, 1))], RULES) == [
        Allocation(1, None, 0, 0, 500, date(2026, 1, 1))
    ]


# --- position -----------------------------------------------------------------------------------


def test_position_of_several_unpaid_items() -> None:
    pension = item(1, 1234567, insurance="pension")
    medical = item(2, 500000, insurance="medical")
    pos = position([pension, medical], [], date(2026, 10, 15), RULES)
    # 30 days each: pension 18519 (see the first test); medical 0.0005 x 500000 x 30 = 7500.
    assert pos.items[1].fee_accrued == 18519
    assert pos.items[2].fee_accrued == 7500
    assert pos.principal_outstanding == 1734567  # 1234567 + 500000
    assert pos.fee_outstanding == 26019  # 18519 + 7500
    assert pos.total_due == 1760586  # 1734567 + 26019
    assert pos.items[1].days_overdue == 30
    assert pos.items[1].settled_on is None
    assert pos.credit == 0
    assert not pos.settled


def test_position_between_the_two_payments() -> None:
    pos = position([A, B], [PAY1, PAY2], date(2026, 3, 31), RULES)
    a, b = pos.items[1], pos.items[2]
    # A: principal paid 03-17, fee 3050 accrued, none paid yet.
    assert a.principal_outstanding == 0
    assert (a.fee_accrued, a.fee_paid, a.fee_outstanding) == (3050, 0, 3050)
    assert a.settled_on == date(2026, 3, 17)
    assert a.days_overdue == 61  # to the settling day, not to as_of
    # B: 50000 paid 30 days late; 50000 unpaid 13 (Feb) + 31 (Mar) = 44 days on 03-31:
    # 0.0005 x (50000 x 30 + 50000 x 44) = 0.0005 x 3,700,000 = 1850.
    assert (b.principal_paid, b.principal_outstanding, b.fee_accrued) == (50000, 50000, 1850)
    assert b.total_outstanding == 51850
    assert b.days_overdue == 44
    assert b.settled_on is None
    # 50000 + 3050 + 1850 = 54900; payment 2 (04-16) is after as_of and not counted.
    assert pos.total_due == 54900
    assert pos.credit == 0
    assert not pos.settled


def test_position_after_the_second_payment_is_settled_with_credit() -> None:
    pos = position([A, B], [PAY1, PAY2], date(2026, 12, 31), RULES)
    assert pos.items[1].fee_paid == 3050
    assert pos.items[2].fee_paid == 2250
    assert pos.items[2].settled_on == date(2026, 4, 16)
    assert pos.items[2].days_overdue == 60
    assert pos.total_due == 0
    assert pos.credit == 4700
    assert pos.settled


def test_position_with_the_cap_reached() -> None:
    debt = item(amount_due=10000, due_date=date(2020, 1, 15))
    # 2001 days unpaid (see test_fee_is_capped_at_the_principal): 10005 capped to 10000.
    capped = position([debt], [], date(2025, 7, 8), RULES)
    assert capped.items[1].fee_accrued == 10000
    assert capped.total_due == 20000
    uncapped = position([debt], [], date(2025, 7, 8), NO_CAP)
    assert uncapped.items[1].fee_accrued == 10005
    assert uncapped.total_due == 20005


def test_paid_early_item_is_never_overdue() -> None:
    pos = position([item()], [Payment(1, 1234567, date(2026, 9, 1))], date(2027, 1, 1), RULES)
    assert pos.items[1].days_overdue == 0
    assert pos.items[1].settled_on == date(2026, 9, 1)
    assert pos.settled


# --- force-majeure deferrals: no late fee on the days they cover -------------------------------
# One debt for all of them: 1000.00 yuan due 2026-01-15; unpaid to 2026-03-16 that is
# 16 (Jan) + 28 (Feb) + 16 (Mar) = 60 days, 0.0005 x 100000 x 60 = 3000 fen without a deferral.

DEFERRED = item(amount_due=100000, due_date=date(2026, 1, 15))
MID_MARCH = date(2026, 3, 16)


def test_a_deferral_in_the_middle_of_the_unpaid_period_takes_out_its_days() -> None:
    # 2026-02-01 to 2026-02-10 inclusive: 10 days. 60 - 10 = 50 days:
    # 0.0005 x 100000 x 50 = 2500 fen.
    feb = FeeFree(date(2026, 2, 1), date(2026, 2, 10))
    assert late_fee(DEFERRED, [], MID_MARCH, RULES) == 3000
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, [feb]) == 2500


def test_a_deferral_covering_a_payment_date() -> None:
    # Deferral 2026-01-21 to 2026-01-31: 11 days.
    # 40000 paid 2026-01-25 counts 01-16..01-25 = 10 days, of which 01-21..01-25 = 5 are
    # deferred: 5 days. 60000 unpaid on 2026-02-14: 16 (Jan) + 14 (Feb) = 30 days - 11 = 19.
    # 0.0005 x (40000 x 5 + 60000 x 19) = 0.0005 x 1,340,000 = 670 fen.
    late_january = FeeFree(date(2026, 1, 21), date(2026, 1, 31))
    paid = [(date(2026, 1, 25), 40000)]
    assert late_fee(DEFERRED, paid, date(2026, 2, 14), RULES, [late_january]) == 670
    # The part paid on the deferral's first day accrues its 5 days before it (01-16..01-20)
    # only: 0.0005 x (40000 x 5 + 60000 x 19) = 670 as well; paid on its last day, the same.
    for paid_on in (date(2026, 1, 21), date(2026, 1, 31)):
        assert (
            late_fee(DEFERRED, [(paid_on, 40000)], date(2026, 2, 14), RULES, [late_january]) == 670
        )


def test_a_deferral_before_the_due_date_changes_nothing() -> None:
    # Ends on the due date itself: no day it covers is a day of fee.
    early = FeeFree(date(2025, 12, 1), date(2026, 1, 15))
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, [early]) == 3000
    # Reaching one day past the due date takes that one day: 59 days, 2950 fen.
    one_day = FeeFree(date(2025, 12, 1), date(2026, 1, 16))
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, [one_day]) == 2950


def test_two_deferrals_each_take_out_their_days() -> None:
    # 2026-01-20..01-29 = 10 days; 2026-02-20..03-01 = 9 (Feb) + 1 (Mar) = 10 days.
    # 60 - 20 = 40 days: 0.0005 x 100000 x 40 = 2000 fen.
    two = [
        FeeFree(date(2026, 2, 20), date(2026, 3, 1)),
        FeeFree(date(2026, 1, 20), date(2026, 1, 29)),
    ]
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, two) == 2000


def test_overlapping_deferrals_count_a_day_once() -> None:
    # 02-01..02-10 and 02-05..02-14 together cover 02-01..02-14 = 14 days, not 20.
    # 60 - 14 = 46 days: 0.0005 x 100000 x 46 = 2300 fen.
    both = [
        FeeFree(date(2026, 2, 1), date(2026, 2, 10)),
        FeeFree(date(2026, 2, 5), date(2026, 2, 14)),
    ]
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, both) == 2300


def test_a_deferral_running_past_as_of_stops_the_fee_on_its_first_day() -> None:
    # From 2026-03-10: 03-10..03-16 = 7 days deferred by as_of. 53 days: 2650 fen; a week
    # later still 2650 (every day since is deferred).
    spring = FeeFree(date(2026, 3, 10), date(2026, 6, 30))
    assert late_fee(DEFERRED, [], MID_MARCH, RULES, [spring]) == 2650
    assert late_fee(DEFERRED, [], date(2026, 3, 23), RULES, [spring]) == 2650


def test_a_payment_takes_only_the_fee_the_deferral_left() -> None:
    # Paid 1030.00 yuan on 2026-03-16: principal 100000, then the 2500 fen of fee (see the
    # mid-period deferral), and 500 fen is credit; without the deferral, 3000 of fee, no credit.
    feb = {1: [FeeFree(date(2026, 2, 1), date(2026, 2, 10))]}
    pay = Payment(1, 103000, MID_MARCH)
    assert allocate([DEFERRED], [pay], RULES, feb) == [
        Allocation(1, 1, 100000, 2500, 0, MID_MARCH),
        Allocation(1, None, 0, 0, 500, MID_MARCH),
    ]
    assert allocate([DEFERRED], [pay], RULES) == [Allocation(1, 1, 100000, 3000, 0, MID_MARCH)]
    settled = position([DEFERRED], [pay], date(2026, 12, 31), RULES, feb)
    assert (settled.items[1].fee_accrued, settled.credit, settled.settled) == (2500, 500, True)


def test_a_deferral_spares_only_the_items_it_is_given_for() -> None:
    other = item(2, 100000, due_date=date(2026, 1, 15), insurance="medical")
    feb = {1: [FeeFree(date(2026, 2, 1), date(2026, 2, 10))]}
    pos = position([DEFERRED, other], [], MID_MARCH, RULES, feb)
    assert (pos.items[1].fee_accrued, pos.items[2].fee_accrued) == (2500, 3000)
    assert pos.total_due == 205500  # 100000 + 2500 + 100000 + 3000
    # Days overdue stay calendar days: the deferral spares the fee, not the debt.
    assert pos.items[1].days_overdue == 60


def test_a_fee_free_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends 2026-02-01 before it starts 2026-02-10"):
        FeeFree(date(2026, 2, 10), date(2026, 2, 1))


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, 10.5, Decimal("10"), True, "100"])
def test_item_amount_must_be_positive_int_fen(amount: object) -> None:
    with pytest.raises(ValueError, match="amount_due"):
        Item(1, "2026-08", "pension", date(2026, 9, 15), amount)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -5, 1.0])
def test_payment_amount_must_be_positive_int_fen(amount: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        Payment(1, amount, date(2026, 9, 15))  # type: ignore[arg-type]


def test_unknown_insurance_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown insurance 'housing_fund'"):
        item(insurance="housing_fund")


@pytest.mark.parametrize("period", ["2026-13", "2026-8", "202608", "2026-00"])
def test_bad_period_is_rejected(period: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        item(period=period)


def test_datetime_is_not_a_date() -> None:
    with pytest.raises(ValueError, match=r"datetime\.date"):
        Payment(1, 100, datetime(2026, 9, 15, 10, 0))


def test_negative_or_float_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match="daily_rate"):
        FeeRules(daily_rate=Decimal("-0.0005"))
    with pytest.raises(ValueError, match="daily_rate"):
        FeeRules(daily_rate=0.0005)  # type: ignore[arg-type]


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate item_id 1"):
        allocate([item(1), item(1, insurance="medical")], [], RULES)
    pay = Payment(1, 100, date(2026, 9, 1))
    with pytest.raises(ValueError, match="duplicate payment_id 1"):
        allocate([item()], [pay, pay], RULES)


# --- properties ---------------------------------------------------------------------------------

DATES = st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 12, 31))
PERIODS = st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2024, 2029), st.integers(1, 12))
RULE_SETS = st.builds(FeeRules, cap_at_principal=st.booleans())


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[Item], list[Payment]]:
    items = [
        Item(
            item_id=n,
            period=draw(PERIODS),
            insurance=draw(st.sampled_from(INSURANCE_ORDER)),
            due_date=draw(DATES),
            amount_due=draw(st.integers(1, 5_000_000)),
        )
        for n in range(1, draw(st.integers(1, 5)) + 1)
    ]
    payments = [
        Payment(payment_id=n, amount=draw(st.integers(1, 8_000_000)), paid_on=draw(DATES))
        for n in range(1, draw(st.integers(0, 6)) + 1)
    ]
    return items, payments


@st.composite
def items_with_parts(draw: st.DrawFn) -> tuple[Item, list[tuple[date, int]]]:
    debt = Item(1, draw(PERIODS), "pension", draw(DATES), draw(st.integers(1, 5_000_000)))
    parts: list[tuple[date, int]] = []
    left = debt.amount_due
    for _ in range(draw(st.integers(0, 4))):
        if not left:
            break
        part = draw(st.integers(1, left))
        parts.append((draw(DATES), part))
        left -= part
    return debt, parts


def reference_fee(
    debt: Item,
    parts: list[tuple[date, int]],
    as_of: date,
    rules: FeeRules,
    free: list[FeeFree] | None = None,
) -> int:
    # Day by day, independently of the implementation: on each day after the due date up to
    # as_of, whatever was not yet paid by the end of the previous day accrues one day, unless
    # a fee-free period covers that day.
    fen_days = 0
    day = debt.due_date + timedelta(days=1)
    while day <= as_of:
        if not any(p.starts_on <= day <= p.ends_on for p in free or []):
            paid_before = sum(part for paid_on, part in parts if paid_on < day)
            fen_days += debt.amount_due - paid_before
        day += timedelta(days=1)
    exact = Fraction(rules.daily_rate) * fen_days
    fee = int(exact) + (1 if exact - int(exact) >= Fraction(1, 2) else 0)
    return min(fee, debt.amount_due) if rules.cap_at_principal else fee


@settings(max_examples=60, deadline=None)
@given(items_with_parts(), DATES, RULE_SETS)
def test_late_fee_matches_day_by_day_reference(
    case: tuple[Item, list[tuple[date, int]]], as_of: date, rules: FeeRules
) -> None:
    debt, parts = case
    assert late_fee(debt, parts, as_of, rules) == reference_fee(debt, parts, as_of, rules)


FEE_FREE = st.builds(
    lambda start, length: FeeFree(start, start + timedelta(days=length)),
    DATES,
    st.integers(0, 400),
)


@settings(max_examples=60, deadline=None)
@given(items_with_parts(), DATES, RULE_SETS, st.lists(FEE_FREE, max_size=3))
def test_late_fee_with_deferrals_matches_day_by_day_reference(
    case: tuple[Item, list[tuple[date, int]]],
    as_of: date,
    rules: FeeRules,
    free: list[FeeFree],
) -> None:
    debt, parts = case
    expected = reference_fee(debt, parts, as_of, rules, free)
    assert late_fee(debt, parts, as_of, rules, free) == expected


@given(items_with_parts(), DATES, DATES, RULE_SETS)
def test_late_fee_is_monotone_in_as_of_and_capped(
    case: tuple[Item, list[tuple[date, int]]], d1: date, d2: date, rules: FeeRules
) -> None:
    debt, parts = case
    early, late = sorted((d1, d2))
    fee_early = late_fee(debt, parts, early, rules)
    fee_late = late_fee(debt, parts, late, rules)
    assert 0 <= fee_early <= fee_late
    if rules.cap_at_principal:
        assert fee_late <= debt.amount_due


@given(ledgers(), RULE_SETS)
def test_allocations_add_up_to_each_payment_and_never_overpay(
    ledger: tuple[list[Item], list[Payment]], rules: FeeRules
) -> None:
    items, payments = ledger
    rows = allocate(items, payments, rules)
    for pay in payments:
        mine = [r for r in rows if r.payment_id == pay.payment_id]
        assert sum(r.principal + r.fee + r.credit for r in mine) == pay.amount
        assert all(r.paid_on == pay.paid_on for r in mine)
        touched = [r.item_id for r in mine]
        assert len(touched) == len(set(touched))  # one row per (payment, item), one credit row
        assert all(r.credit == 0 for r in mine if r.item_id is not None)
    for r in rows:
        assert r.principal >= 0 and r.fee >= 0 and r.credit >= 0
        assert r.principal + r.fee + r.credit > 0
    for debt in items:
        paid = sum(r.principal for r in rows if r.item_id == debt.item_id)
        assert paid <= debt.amount_due


@given(ledgers(), DATES, RULE_SETS)
def test_position_figures_are_consistent(
    ledger: tuple[list[Item], list[Payment]], as_of: date, rules: FeeRules
) -> None:
    items, payments = ledger
    pos = position(items, payments, as_of, rules)
    for debt in items:
        p = pos.items[debt.item_id]
        assert p.principal_paid + p.principal_outstanding == debt.amount_due
        assert 0 <= p.principal_paid <= debt.amount_due
        assert 0 <= p.fee_paid <= p.fee_accrued
        assert p.fee_outstanding == p.fee_accrued - p.fee_paid >= 0
        assert p.total_outstanding == p.principal_outstanding + p.fee_outstanding
        assert p.days_overdue >= 0
        assert (p.settled_on is None) == (p.principal_outstanding > 0)
        if rules.cap_at_principal:
            assert p.fee_accrued <= debt.amount_due
    assert pos.total_due == pos.principal_outstanding + pos.fee_outstanding >= 0
    assert pos.credit >= 0
    assert pos.settled == (pos.total_due == 0)
    if pos.credit:
        assert pos.settled  # credit only arises once everything owed is paid


@given(ledgers(), DATES, DATES, RULE_SETS)
def test_fee_accrued_is_monotone_in_as_of(
    ledger: tuple[list[Item], list[Payment]], d1: date, d2: date, rules: FeeRules
) -> None:
    items, payments = ledger
    early, late = sorted((d1, d2))
    before = position(items, payments, early, rules)
    after = position(items, payments, late, rules)
    for debt in items:
        assert before.items[debt.item_id].fee_accrued <= after.items[debt.item_id].fee_accrued


@given(ledgers(), DATES, RULE_SETS)
def test_paying_exactly_the_total_due_settles_everything(
    ledger: tuple[list[Item], list[Payment]], as_of: date, rules: FeeRules
) -> None:
    items, payments = ledger
    owed = position(items, payments, as_of, rules).total_due
    if owed == 0:
        return
    settle = Payment(len(payments) + 1, owed, as_of)
    after = position(items, [*payments, settle], as_of, rules)
    assert after.total_due == 0
    assert after.settled
    assert after.credit == position(items, payments, as_of, rules).credit
