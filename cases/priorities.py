"""The officers' queue order: ``Case.priority``, recomputed in SQL for many cases at once.

priority = tier × 10^18 + min(fen owed, 10^13 − 1) × 10^5 + min(days overdue, 99,999)

* tier 2: an open officer task of the case is due on or before ``as_of``;
* tier 1: otherwise, a notice's legal deadline falls within the next ``DEADLINE_DAYS`` days and
  the debt it demands is not settled (the case still owes principal);
* tier 0: otherwise.

So a task due outranks any debt, a deadline about to lapse outranks a larger debt without one,
and within a tier the larger debt, then the older one, goes first. The caps keep each part in its
own decimal digits, so the sum fits a signed 64-bit integer (at most 3 × 10^18 − 1) on both
backends and one index on (priority, id) orders the queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.types import Date
from sqlmodel import Session

from cases.bulk import among, table
from cases.models import ArrearsItem, Case, Notice, OfficerTask

TIER = 10**18
AMOUNT = 10**5
AMOUNT_CAP = 10**13 - 1  # fen: 99,999,999,999.99 yuan
DAYS_CAP = 99_999
DEADLINE_DAYS = 7
TIER_TASK_DUE = 2
TIER_DEADLINE = 1
# Notices whose deadline no longer runs: a canceled one never reached the employer.
DEAD_NOTICE_STATUSES = ("canceled",)
# Cases per UPDATE: the statement holds its rows' locks until the caller commits, and a taker
# skips locked rows, so a chunk is kept a fraction of a second long.
CHUNK = 20_000


def encode(tier: int, owed_fen: int, days_overdue: int) -> int:
    """The priority of one case (what the SQL below computes; tests and tools use it)."""
    owed = min(max(owed_fen, 0), AMOUNT_CAP)
    days = min(max(days_overdue, 0), DAYS_CAP)
    return tier * TIER + owed * AMOUNT + days


def tier_of(priority: int) -> int:
    return priority // TIER


def task_due(as_of: date) -> Any:
    """Case ids with an open officer task due on or before ``as_of``."""
    task = table(OfficerTask)
    return select(task.c.case_id).where(task.c.status == "open", task.c.due_on <= as_of)


def deadline_near(as_of: date) -> Any:
    """Case ids with a notice whose legal deadline falls in [as_of, as_of + DEADLINE_DAYS]."""
    notice = table(Notice)
    return select(notice.c.case_id).where(
        notice.c.deadline_on.between(as_of, as_of + timedelta(days=DEADLINE_DAYS)),
        notice.c.status.not_in(DEAD_NOTICE_STATUSES),
    )


def days_since(dialect: str, as_of: date, column: Any) -> ColumnElement[int]:
    """Whole days from ``column`` (a date) to ``as_of``, negative when the date is later."""
    if dialect == "postgresql":
        return cast(literal(as_of, Date) - column, Integer)
    # SQLite keeps dates as ISO text; julianday differences of two dates are whole numbers.
    return cast(func.julianday(literal(as_of, Date)) - func.julianday(column), Integer)


def refresh_priorities(
    session: Session, *, as_of: date, case_ids: Iterable[int] | None = None
) -> int:
    """Recompute ``Case.priority`` of the open cases (all, or ``case_ids``) as of ``as_of``.

    One ``UPDATE … FROM (aggregate)`` per chunk of cases; a row is written only when its priority
    changes. Returns how many cases' priority changed.
    """
    dialect = session.get_bind().dialect.name
    changed = 0
    for chunk in _chunks(session, case_ids):
        result: Any = session.connection().execute(_statement(dialect, as_of, chunk))
        changed += result.rowcount
    return changed


def _chunks(session: Session, case_ids: Iterable[int] | None) -> Iterator[Any]:
    """Conditions on a case id column, one per chunk: id ranges over all open cases, or lists."""
    if case_ids is not None:
        ids = sorted(set(case_ids))
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            yield lambda column, part=part: among(column, part)
        return
    c = table(Case)
    low, high = (
        session.connection()
        .execute(select(func.min(c.c.id), func.max(c.c.id)).where(c.c.closed_on.is_(None)))
        .one()
    )
    if low is None:
        return
    for start in range(low, high + 1, CHUNK):
        yield lambda column, start=start: column.between(start, start + CHUNK - 1)


def _statement(dialect: str, as_of: date, within: Any) -> Any:
    c = table(Case)
    item = table(ArrearsItem)
    least = func.least if dialect == "postgresql" else func.min  # SQLite: min(a, b) is scalar
    greatest = func.greatest if dialect == "postgresql" else func.max
    # The item side is narrowed to the chunk too: the planner cannot carry a range over the join.
    owed = func.coalesce(func.sum(item.c.amount_due_fen - item.c.principal_paid_fen), 0)
    tier = case(
        (c.c.id.in_(task_due(as_of)), TIER_TASK_DUE),
        (and_(c.c.id.in_(deadline_near(as_of)), owed > 0), TIER_DEADLINE),
        else_=0,
    )
    days = days_since(dialect, as_of, c.c.first_overdue_on)
    parts = (
        select(
            c.c.id.label("case_id"),
            tier.label("tier"),
            least(greatest(owed, 0), AMOUNT_CAP).label("owed"),
            least(greatest(days, 0), DAYS_CAP).label("days"),
        )
        .select_from(c.outerjoin(item, and_(item.c.case_id == c.c.id, within(item.c.case_id))))
        .where(c.c.closed_on.is_(None), within(c.c.id))
        .group_by(c.c.id, c.c.first_overdue_on)
        .subquery("parts")
    )
    # Integer literals typed BigInteger: 10^18 does not fit PostgreSQL's default integer.
    priority = cast(
        parts.c.tier * literal(TIER, BigInteger)
        + parts.c.owed * literal(AMOUNT, BigInteger)
        + parts.c.days,
        BigInteger,
    )
    return (
        update(c)
        .values(priority=priority)
        .where(c.c.id == parts.c.case_id, c.c.priority != priority)
    )
