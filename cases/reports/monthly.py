"""The monthly progress table per district (the plan's 每月完成进度统计表).

For one calendar month and each district: cases opened and closed in it (closed as paid, written
off), what was owed at the month's end, what was recovered in it, and the cases open at its end
by the highest rung of the ladder they had reached by then.

"Owed" and "recovered" are the dashboard's (``cases.dashboard``): principal owed is the principal
of the items fallen due by the month's end less what payments made by then settled, leaving out
cases written off by then; recovered is the principal and late fee that payments made in the month
settled. The late fee owed at the month's end is the ledger's (``cases.ledger``): accrued to that
day on the items fallen due, less what payments made by then paid of it. A month not over yet is
taken to today.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from cases.access import Actor
from cases.accounts import load_books
from cases.dashboard import owed_on, recovered_between
from cases.models import Case, CaseEvent, Employer
from cases.policy import Policy
from cases.reports.common import check_month, check_started, districts_listed, scope_of
from cases.states import CaseStatus


@dataclass(frozen=True)
class StepColumn:
    step: str | None  # the rung's kind; None: no rung taken yet
    title: str | None  # the policy's title for it
    level: int  # 0 before the first rung


@dataclass(frozen=True)
class MonthlyRow:
    district: str
    opened: int
    closed_paid: int
    written_off: int
    principal_owed_fen: int
    late_fee_owed_fen: int
    recovered_fen: int
    by_step: tuple[int, ...]  # the cases open at the month's end, by ``MonthlyProgress.steps``

    @property
    def closed(self) -> int:
        return self.closed_paid + self.written_off

    @property
    def owed_fen(self) -> int:
        return self.principal_owed_fen + self.late_fee_owed_fen

    @property
    def open_cases(self) -> int:
        return sum(self.by_step)


@dataclass(frozen=True)
class MonthlyProgress:
    year: int
    month: int
    first: date
    through: date  # the month's last day, or today for the month under way
    steps: tuple[StepColumn, ...]  # ladder order; the first is "no rung yet"
    rows: tuple[MonthlyRow, ...]

    @property
    def total(self) -> MonthlyRow:
        """Every district's figures added up."""
        return MonthlyRow(
            district="",
            opened=sum(r.opened for r in self.rows),
            closed_paid=sum(r.closed_paid for r in self.rows),
            written_off=sum(r.written_off for r in self.rows),
            principal_owed_fen=sum(r.principal_owed_fen for r in self.rows),
            late_fee_owed_fen=sum(r.late_fee_owed_fen for r in self.rows),
            recovered_fen=sum(r.recovered_fen for r in self.rows),
            by_step=tuple(sum(r.by_step[i] for r in self.rows) for i in range(len(self.steps))),
        )


def monthly_progress(
    session: Session,
    *,
    actor: Actor,
    year: int,
    month: int,
    as_of: date,
    policy: Policy,
    district: str | None = None,
) -> MonthlyProgress:
    """The month's figures for the districts ``actor`` serves (or the one ``district``)."""
    check_month(year, month)
    scope = scope_of(actor, district)
    first = date(year, month, 1)
    check_started(first, as_of, "month")
    through = min(date(year, month, calendar.monthrange(year, month)[1]), as_of)

    opened = _counts(session, scope, col(Case.opened_on), first, through)
    paid = _counts(session, scope, col(Case.closed_on), first, through, CaseStatus.CLOSED_PAID)
    written_off = _counts(
        session, scope, col(Case.closed_on), first, through, CaseStatus.WRITTEN_OFF
    )
    principal = owed_on(session, scope, through, col(Employer.district))
    recovered = recovered_between(session, scope, first, through)

    open_cases = _open_at(session, scope, through)
    fees = _late_fees(session, open_cases, through, policy)
    steps, reached = _steps_reached(session, scope, open_cases, through, policy)
    by_step: dict[str, list[int]] = defaultdict(lambda: [0] * len(steps))
    index = {column.step: i for i, column in enumerate(steps)}
    for case_id, (_, case_district) in open_cases.items():
        by_step[case_district][index[reached.get(case_id)]] += 1

    names = districts_listed(
        session,
        scope,
        *opened,
        *paid,
        *written_off,
        *(d for d, v in principal.items() if v),
        *recovered,
        *by_step,
    )
    rows = tuple(
        MonthlyRow(
            district=name,
            opened=opened.get(name, 0),
            closed_paid=paid.get(name, 0),
            written_off=written_off.get(name, 0),
            principal_owed_fen=principal.get(name, 0),
            late_fee_owed_fen=fees.get(name, 0),
            recovered_fen=recovered.get(name, 0),
            by_step=tuple(by_step[name]) if name in by_step else (0,) * len(steps),
        )
        for name in names
    )
    return MonthlyProgress(year, month, first, through, steps, rows)


def _counts(
    session: Session,
    scope: tuple[str, ...] | None,
    day: Any,
    first: date,
    last: date,
    status: CaseStatus | None = None,
) -> dict[str, int]:
    """Cases by district whose ``day`` (opened_on, closed_on) falls in [first, last]."""
    district = col(Employer.district)
    query = (
        select(district, func.count())
        .select_from(Case)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(day >= first, day <= last)
        .group_by(district)
    )
    if status is not None:
        query = query.where(col(Case.status) == status.value)
    if scope is not None:
        query = query.where(district.in_(scope))
    return {d: int(n) for d, n in session.execute(query)}


def _open_at(
    session: Session, scope: tuple[str, ...] | None, day: date
) -> dict[int, tuple[int, str]]:
    """The cases open at the end of ``day``: case id → (employer id, district)."""
    query = (
        select(col(Case.id), col(Case.employer_id), col(Employer.district))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            col(Case.opened_on) <= day,
            or_(col(Case.closed_on).is_(None), col(Case.closed_on) > day),
        )
    )
    if scope is not None:
        query = query.where(col(Employer.district).in_(scope))
    return {case_id: (employer_id, d) for case_id, employer_id, d in session.execute(query)}


def _late_fees(
    session: Session, open_cases: dict[int, tuple[int, str]], day: date, policy: Policy
) -> dict[str, int]:
    """Late fee owed at the end of ``day`` on the items of the cases open then, by district."""
    books = load_books(session, {employer_id for employer_id, _ in open_cases.values()})
    fees: dict[str, int] = defaultdict(int)
    for book in books.values():
        position = book.position(day, policy.fee_rules)
        for item in book.items:
            if item.case_id in open_cases and item.due_date <= day:
                fees[open_cases[item.case_id][1]] += position.items[item.id].fee_outstanding
    return dict(fees)


def _steps_reached(
    session: Session,
    scope: tuple[str, ...] | None,
    open_cases: dict[int, tuple[int, str]],
    day: date,
    policy: Policy,
) -> tuple[tuple[StepColumn, ...], dict[int, str]]:
    """The report's step columns, and the highest rung each open case had taken by ``day``.

    A rung taken under an earlier policy that this one no longer has gets a column of its own,
    after the policy's rungs of its level.
    """
    query = (
        select(col(CaseEvent.case_id), col(CaseEvent.step), col(CaseEvent.data))
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            col(CaseEvent.kind) == "step_taken",
            col(CaseEvent.on_date) <= day,
            col(CaseEvent.step).is_not(None),
            col(Case.opened_on) <= day,
            or_(col(Case.closed_on).is_(None), col(Case.closed_on) > day),
        )
    )
    if scope is not None:
        query = query.where(col(Employer.district).in_(scope))
    levels = {step.kind: step.level for step in policy.steps}
    titles = {step.kind: step.title for step in policy.steps}
    reached: dict[int, tuple[int, str]] = {}
    for case_id, step, data in session.execute(query):
        if case_id not in open_cases:
            continue
        level = levels.get(step)
        if level is None:
            stored = data.get("level") if isinstance(data, dict) else None
            level = stored if isinstance(stored, int) else 0
            levels[step] = level
        if case_id not in reached or level > reached[case_id][0]:
            reached[case_id] = (level, step)
    taken = {step for _, step in reached.values()}
    extra = sorted(kind for kind in taken if kind not in titles)
    # Stable: the policy's order within a level, a former rung after them.
    kinds = sorted([step.kind for step in policy.steps] + extra, key=lambda kind: levels[kind])
    columns = (
        StepColumn(None, None, 0),
        *(StepColumn(kind, titles.get(kind), levels[kind]) for kind in kinds),
    )
    return columns, {case_id: step for case_id, (_, step) in reached.items()}
