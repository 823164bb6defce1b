"""Where a deferred-payment agreement stands on a day: each instalment paid, partly paid or
missed, and the agreement running, breached or completed; from its schedule, the employer's
payments since the signing (in date order, against the instalments in due order) and the case's
closing. A function of those alone, so a replayed night sees an agreement as it was then.
``cases.agreements`` signs them, ``cases.agreement_nights`` settles them each night.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from cases.accounts import chunked
from cases.bulk import among
from cases.models import (
    Case,
    Instalment,
    Payment,
    PaymentAgreement,
)
from cases.states import CaseStatus

_ONE_DAY = timedelta(days=1)


# ------------------------------------------------------------------- where an agreement stands


@dataclass(frozen=True)
class InstalmentState:
    seq: int
    due_on: date
    amount: int  # fen
    paid: int  # fen counted against it
    settled_on: date | None  # the day it was paid in full
    status: str  # "due" | "paid" | "missed"

    @property
    def paid_in_time(self) -> bool:
        return self.settled_on is not None and self.settled_on <= self.due_on


@dataclass(frozen=True)
class Standing:
    """An agreement at the end of one night: its status, when it ended, each instalment."""

    status: str  # "active" | "completed" | "breached" | "cancelled"
    ended_on: date | None
    instalments: tuple[InstalmentState, ...]
    missed: InstalmentState | None = None  # breached: the first instalment missed

    @property
    def next_due(self) -> InstalmentState | None:
        return next((i for i in self.instalments if i.settled_on is None), None)


def _pour(
    schedule: Sequence[tuple[int, date, int]], money: Sequence[tuple[date, int]], on: date
) -> list[InstalmentState]:
    """The instalments after the money paid up to ``on`` went to them in due order."""
    paid = [0] * len(schedule)
    settled: list[date | None] = [None] * len(schedule)
    at = 0
    for paid_on, amount in money:
        if paid_on > on:
            break
        left = amount
        while left > 0 and at < len(schedule):
            take = min(left, schedule[at][2] - paid[at])
            paid[at] += take
            left -= take
            if paid[at] == schedule[at][2]:
                settled[at] = paid_on
                at += 1
    states = []
    for (seq, due_on, amount), got, done in zip(schedule, paid, settled, strict=True):
        status = "paid" if done else "missed" if due_on < on else "due"
        states.append(InstalmentState(seq, due_on, amount, got, done, status))
    return states


def standing(
    schedule: Sequence[tuple[int, date, int]],
    money: Sequence[tuple[date, int]],
    *,
    as_of: date,
    closed_paid_on: date | None = None,
) -> Standing:
    """Where an agreement stands at the end of ``as_of``.

    ``schedule``: (seq, due date, fen) in due order; ``money``: the employer's payments since the
    signing as (paid on, fen), in date order; ``closed_paid_on``: the day the case closed paid,
    if it did. An instalment not paid in full by its due date breaches the agreement the day after;
    the last instalment paid, or the case closing paid, completes it, whichever comes first.
    Once ended, the instalments are shown as they stood that day.
    """
    now = _pour(schedule, money, as_of)
    missed = next((i for i in now if i.due_on < as_of and not i.paid_in_time), None)
    ends = [d for d in (closed_paid_on,) if d is not None and d <= as_of]
    if now and all(i.settled_on for i in now):
        ends.append(max(i.settled_on for i in now if i.settled_on))
    complete_on = min(ends, default=None)
    breach_on = missed.due_on + _ONE_DAY if missed else None
    if missed and breach_on and (complete_on is None or breach_on <= complete_on):
        # The missed instalment as it stood at the end of its due date: what was missing.
        by_due = _pour(schedule, money, missed.due_on)[missed.seq - 1]
        return Standing("breached", breach_on, tuple(_pour(schedule, money, breach_on)), by_due)
    if complete_on is not None:
        return Standing("completed", complete_on, tuple(_pour(schedule, money, complete_on)))
    return Standing("active", None, tuple(now))


@dataclass
class Loaded:
    agreements: list[PaymentAgreement]
    schedules: dict[int, list[Instalment]]
    money: dict[int, list[tuple[date, int]]]  # employer id -> payments in date order
    cases: dict[int, CaseRow]


@dataclass(frozen=True)
class CaseRow:
    employer_id: int
    status: str
    closed_on: date | None


def load_agreements(session: Session, agreements: list[PaymentAgreement]) -> Loaded:
    case_ids = sorted({a.case_id for a in agreements})
    cases: dict[int, CaseRow] = {}
    for part in chunked(case_ids):
        # Columns, not the ORM's cached cases: the money may have just closed one by a statement.
        for case_id, employer_id, status, closed_on in session.execute(
            select(
                col(Case.id), col(Case.employer_id), col(Case.status), col(Case.closed_on)
            ).where(among(col(Case.id), part))
        ):
            cases[case_id] = CaseRow(employer_id, status, closed_on)
    schedules: dict[int, list[Instalment]] = defaultdict(list)
    agreement_ids = sorted(a.id or 0 for a in agreements)
    for part in chunked(agreement_ids):
        for row in session.execute(
            select(Instalment)
            .where(among(col(Instalment.agreement_id), part))
            .order_by(col(Instalment.agreement_id), col(Instalment.seq))
        ).scalars():
            schedules[row.agreement_id].append(row)
    money: dict[int, list[tuple[date, int]]] = defaultdict(list)
    employer_ids = sorted({c.employer_id for c in cases.values()})
    for part in chunked(employer_ids):
        for employer_id, paid_on, amount in session.execute(
            select(col(Payment.employer_id), col(Payment.paid_on), col(Payment.amount_fen))
            .where(among(col(Payment.employer_id), part))
            .order_by(col(Payment.paid_on), col(Payment.id))
        ):
            money[employer_id].append((paid_on, amount))
    return Loaded(agreements, schedules, money, cases)


def standing_of(loaded: Loaded, agreement: PaymentAgreement, as_of: date) -> Standing:
    case = loaded.cases[agreement.case_id]
    schedule = [(i.seq, i.due_on, i.amount_fen) for i in loaded.schedules[agreement.id or 0]]
    money = [m for m in loaded.money[case.employer_id] if m[0] >= agreement.signed_on]
    closed_paid_on = case.closed_on if case.status == CaseStatus.CLOSED_PAID.value else None
    return standing(schedule, money, as_of=as_of, closed_paid_on=closed_paid_on)
