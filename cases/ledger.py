"""Late fees and payment allocation for one employer's arrears, in integer fen.

DOMAIN.md "Money and time" is the specification. Everything here is a pure function of its
arguments: dates are passed in (the nightly run supplies ``as_of``), so a position can be
recomputed for any past day and gives the same answer every time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext

from cases.money import round_half_up

INSURANCE_ORDER: tuple[str, ...] = (
    "pension",
    "medical",
    "work_injury",
    "unemployment",
    "maternity",
)

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _check_fen(what: str, value: object) -> None:
    # bool is an int subclass, and True must not pass for one fen.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number of fen (int), got {value!r}")
    if value <= 0:
        raise ValueError(f"{what} must be positive, got {value}")


def _check_date(what: str, value: object) -> None:
    # A datetime would slip through isinstance(date) but breaks day arithmetic against dates.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime.date, got {value!r}")


@dataclass(frozen=True)
class FeeRules:
    daily_rate: Decimal = Decimal("0.0005")  # 0.05% a day, Social Insurance Law art. 86
    cap_at_principal: bool = True  # Administrative Compulsion Law art. 45
    # Tie-break between items with the same due date and period (a policy setting).
    insurance_order: tuple[str, ...] = INSURANCE_ORDER
    # DOMAIN default: a payment clears principal before late fees; a policy may reverse that.
    principal_first: bool = True

    def __post_init__(self) -> None:
        rate = self.daily_rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate < 0:
            raise ValueError(f"daily_rate must be a finite, non-negative Decimal, got {rate!r}")
        if sorted(self.insurance_order) != sorted(INSURANCE_ORDER):
            raise ValueError(f"insurance_order must list each of {', '.join(INSURANCE_ORDER)} once")


@dataclass(frozen=True)
class Item:
    """One arrears item: what one employer owes for one (period, insurance)."""

    item_id: int
    period: str
    insurance: str
    due_date: date
    amount_due: int

    def __post_init__(self) -> None:
        if not isinstance(self.period, str) or not _PERIOD.fullmatch(self.period):
            raise ValueError(f"item {self.item_id}: period must be 'YYYY-MM', got {self.period!r}")
        if self.insurance not in INSURANCE_ORDER:
            known = ", ".join(INSURANCE_ORDER)
            raise ValueError(
                f"item {self.item_id}: unknown insurance {self.insurance!r} (known: {known})"
            )
        _check_date(f"item {self.item_id}: due_date", self.due_date)
        _check_fen(f"item {self.item_id}: amount_due", self.amount_due)


@dataclass(frozen=True)
class Payment:
    payment_id: int
    amount: int
    paid_on: date

    def __post_init__(self) -> None:
        _check_fen(f"payment {self.payment_id}: amount", self.amount)
        _check_date(f"payment {self.payment_id}: paid_on", self.paid_on)


@dataclass(frozen=True)
class FeeFree:
    """Days on which no late fee accrues, ``starts_on`` to ``ends_on`` inclusive (a force-majeure
    deferral of the item's case)."""

    starts_on: date
    ends_on: date

    def __post_init__(self) -> None:
        _check_date("fee-free period: starts_on", self.starts_on)
        _check_date("fee-free period: ends_on", self.ends_on)
        if self.ends_on < self.starts_on:
            raise ValueError(
                f"fee-free period ends {self.ends_on} before it starts {self.starts_on}"
            )


# Fee-free periods by item_id: what ``allocate`` and ``position`` take.
FeeFreeByItem = Mapping[int, Sequence[FeeFree]]


@dataclass(frozen=True)
class Allocation:
    """The share of one payment given to one item, or (``item_id=None``) left as credit."""

    payment_id: int
    item_id: int | None
    principal: int
    fee: int
    credit: int
    paid_on: date


@dataclass(frozen=True)
class ItemPosition:
    item_id: int
    amount_due: int
    principal_paid: int
    principal_outstanding: int
    fee_accrued: int
    fee_paid: int
    fee_outstanding: int
    total_outstanding: int
    days_overdue: int
    settled_on: date | None  # day the principal was paid in full; fees may still be owed


@dataclass(frozen=True)
class EmployerPosition:
    items: dict[int, ItemPosition]
    principal_outstanding: int
    fee_outstanding: int
    total_due: int
    credit: int
    settled: bool


def allocation_order(
    items: Iterable[Item], insurance_order: Sequence[str] = INSURANCE_ORDER
) -> list[Item]:
    # item_id last only makes the order total; one employer has one item per (period, insurance).
    return sorted(
        items,
        key=lambda i: (i.due_date, i.period, insurance_order.index(i.insurance), i.item_id),
    )


def _days_late(due_date: date, until: date) -> int:
    return max(0, (until - due_date).days)


def _merged(periods: Iterable[FeeFree]) -> list[tuple[date, date]]:
    """The periods as disjoint (first, last) day ranges in date order."""
    merged: list[tuple[date, date]] = []
    for period in sorted(periods, key=lambda p: (p.starts_on, p.ends_on)):
        if merged and period.starts_on <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], period.ends_on))
        else:
            merged.append((period.starts_on, period.ends_on))
    return merged


def _days_charged(due_date: date, until: date, free: Sequence[tuple[date, date]]) -> int:
    """Days from the due date to ``until`` that accrue a fee: the days after the due date up to
    and including ``until``, less those a fee-free period covers."""
    days = _days_late(due_date, until)
    first = due_date + timedelta(days=1)
    for starts_on, ends_on in free:
        covered = (min(ends_on, until) - max(starts_on, first)).days + 1
        days -= max(0, covered)
    return days


def late_fee(
    item: Item,
    principal_parts: Sequence[tuple[date, int]],
    as_of: date,
    rules: FeeRules,
    fee_free: Sequence[FeeFree] = (),
) -> int:
    """Late fee accrued on ``item`` as of ``as_of``, given the principal paid so far.

    ``principal_parts`` are (paid_on, fen) pieces of the item's principal; together they may not
    exceed ``amount_due``. A piece paid after ``as_of`` had not been paid on ``as_of``, so it
    accrues like the unpaid remainder. A part paid on day P counts the days after the due date
    up to and including P; the days ``fee_free`` covers (a deferral) are taken out of each
    part's count.
    """
    _check_date("as_of", as_of)
    free = _merged(fee_free)
    paid = 0
    fen_days = 0
    for paid_on, part in principal_parts:
        _check_date(f"item {item.item_id}: principal part date", paid_on)
        _check_fen(f"item {item.item_id}: principal part", part)
        paid += part
        fen_days += part * _days_charged(item.due_date, min(paid_on, as_of), free)
    if paid > item.amount_due:
        raise ValueError(
            f"item {item.item_id}: principal parts total {paid} fen, "
            f"more than the {item.amount_due} fen due"
        )
    fen_days += (item.amount_due - paid) * _days_charged(item.due_date, as_of, free)
    with localcontext() as ctx:
        # Enough digits that rate x fen-days is exact: the only rounding allowed is the single
        # half-up step to a whole fen, whatever precision the caller's context happens to have.
        ctx.prec = max(28, len(rules.daily_rate.as_tuple().digits) + len(str(fen_days)) + 2)
        fee = round_half_up(rules.daily_rate * fen_days)
    if rules.cap_at_principal:
        fee = min(fee, item.amount_due)
    return fee


def _check_unique(what: str, ids: Iterable[int]) -> None:
    seen: set[int] = set()
    for one in ids:
        if one in seen:
            raise ValueError(f"duplicate {what} {one}")
        seen.add(one)


def allocate(
    items: Sequence[Item],
    payments: Sequence[Payment],
    rules: FeeRules,
    fee_free: FeeFreeByItem | None = None,
) -> list[Allocation]:
    """Replay ``payments`` over ``items``: principal first, then late fees, then credit.

    A payment settles what is owed on its day before it reaches debts falling due later: the
    principal and then the fees of the items due by then, and only what remains goes to the
    principal of items due afterwards. Without that split, an arrears item that was imported
    after the payment (a later month) would draw money away from fees that were already owed.

    Rows come in replay order (paid_on, payment_id), then allocation order, credit last.
    ``fee_free`` gives, by item_id, the periods in which that item accrues no late fee.
    """
    ordered = allocation_order(items, rules.insurance_order)
    _check_unique("item_id", (i.item_id for i in ordered))
    _check_unique("payment_id", (p.payment_id for p in payments))
    book = _Book(ordered, rules, fee_free or {})
    rows: list[Allocation] = []
    for payment in sorted(payments, key=lambda p: (p.paid_on, p.payment_id)):
        rows.extend(book.apply(payment))
    return rows


class _Book:
    """The running state of a replay: principal parts paid and fees paid, per item."""

    def __init__(self, ordered: list[Item], rules: FeeRules, fee_free: FeeFreeByItem) -> None:
        self.ordered = ordered
        self.rules = rules
        self.fee_free = fee_free
        self.parts: dict[int, list[tuple[date, int]]] = {i.item_id: [] for i in ordered}
        self.principal_left = {i.item_id: i.amount_due for i in ordered}
        self.fee_paid = dict.fromkeys(self.principal_left, 0)

    def apply(self, payment: Payment) -> list[Allocation]:
        on = payment.paid_on
        left = payment.amount
        to_principal: dict[int, int] = {}
        to_fee: dict[int, int] = {}
        due_now = [i for i in self.ordered if i.due_date <= on]
        due_later = [i for i in self.ordered if i.due_date > on]
        steps = [(self._principal, to_principal), (self._fees, to_fee)]
        if not self.rules.principal_first:
            steps.reverse()
        for group in (due_now, due_later):
            for step, taken in steps:
                left = step(group, on, left, taken)
        rows = [
            Allocation(
                payment_id=payment.payment_id,
                item_id=item.item_id,
                principal=to_principal.get(item.item_id, 0),
                fee=to_fee.get(item.item_id, 0),
                credit=0,
                paid_on=on,
            )
            for item in self.ordered
            if item.item_id in to_principal or item.item_id in to_fee
        ]
        if left:
            # Reaching here means every item's principal and fee are paid as of this day, and a
            # settled principal accrues nothing more, so the credit never has a later debt to meet.
            rows.append(Allocation(payment.payment_id, None, 0, 0, left, on))
        return rows

    def _principal(self, group: list[Item], on: date, left: int, taken: dict[int, int]) -> int:
        for item in group:
            take = min(left, self.principal_left[item.item_id])
            if take:
                taken[item.item_id] = taken.get(item.item_id, 0) + take
                self.principal_left[item.item_id] -= take
                self.parts[item.item_id].append((on, take))
                left -= take
        return left

    def _fees(self, group: list[Item], on: date, left: int, taken: dict[int, int]) -> int:
        # A part of the principal booked earlier in this payment stops accruing on this very
        # day: fees are reckoned on the parts booked so far.
        for item in group:
            if not left:
                break
            owed = late_fee(
                item,
                self.parts[item.item_id],
                on,
                self.rules,
                self.fee_free.get(item.item_id, ()),
            )
            take = min(left, owed - self.fee_paid[item.item_id])
            if take > 0:
                taken[item.item_id] = taken.get(item.item_id, 0) + take
                self.fee_paid[item.item_id] += take
                left -= take
        return left


def position(
    items: Sequence[Item],
    payments: Sequence[Payment],
    as_of: date,
    rules: FeeRules,
    fee_free: FeeFreeByItem | None = None,
) -> EmployerPosition:
    """What the employer owes, item by item, at the end of ``as_of``.

    ``fee_free`` gives, by item_id, the periods in which that item accrues no late fee (the
    deferrals of its case); ``days_overdue`` still counts calendar days.
    """
    _check_date("as_of", as_of)
    free = fee_free or {}
    rows = allocate(items, [p for p in payments if p.paid_on <= as_of], rules, free)
    result: dict[int, ItemPosition] = {}
    credit = sum(r.credit for r in rows)
    for item in allocation_order(items, rules.insurance_order):
        mine = [r for r in rows if r.item_id == item.item_id]
        parts = [(r.paid_on, r.principal) for r in mine if r.principal]
        principal_paid = sum(part for _, part in parts)
        settled_on: date | None = None
        running = 0
        for paid_on, part in parts:
            running += part
            if running == item.amount_due:
                settled_on = paid_on
        fee_accrued = late_fee(item, parts, as_of, rules, free.get(item.item_id, ()))
        fee_paid = sum(r.fee for r in mine)
        principal_outstanding = item.amount_due - principal_paid
        fee_outstanding = fee_accrued - fee_paid
        result[item.item_id] = ItemPosition(
            item_id=item.item_id,
            amount_due=item.amount_due,
            principal_paid=principal_paid,
            principal_outstanding=principal_outstanding,
            fee_accrued=fee_accrued,
            fee_paid=fee_paid,
            fee_outstanding=fee_outstanding,
            total_outstanding=principal_outstanding + fee_outstanding,
            days_overdue=_days_late(item.due_date, settled_on or as_of),
            settled_on=settled_on,
        )
    principal_total = sum(p.principal_outstanding for p in result.values())
    fee_total = sum(p.fee_outstanding for p in result.values())
    return EmployerPosition(
        items=result,
        principal_outstanding=principal_total,
        fee_outstanding=fee_total,
        total_due=principal_total + fee_total,
        credit=credit,
        settled=principal_total == 0 and fee_total == 0,
    )
