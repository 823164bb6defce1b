"""The supervisors' dashboard: open cases, the age of what is owed, money owed and recovered month
by month, and each district's progress against its quarterly target.

Every figure is an aggregate the database computes: a handful of GROUP BY statements, whatever
the number of cases; no case is loaded and no ledger is replayed. Figures cover the districts the
actor serves (an admin: every district).

"Owed" on a day is the principal of the arrears items fallen due by that day (due date on or
before it), less the principal that payments made by that day settled, leaving out the items of
cases written off by then. Late fees are left out of it: they grow every day and are computed per
item in Python (``cases.ledger``). "Recovered" is what payments settled, principal and late fees,
but not the credits they left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, null, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from cases.access import Actor
from cases.deadlines import LegalWindow, deadline_risk
from cases.models import Allocation, ArrearsItem, Case, DistrictTarget, Employer
from cases.states import CLOSED, CaseStatus
from cases.targets import (
    Target,
    TargetError,
    list_targets,
    quarter_bounds,
    quarter_of,
    set_target,
)
from cases.workdays import WorkCalendar

__all__ = [
    "AGING_BANDS",
    "DEADLINE_PANEL_DAYS",
    "AgingBucket",
    "Dashboard",
    "DistrictProgress",
    "MonthFigures",
    "StageCount",
    "Target",
    "TargetError",
    "dashboard",
    "deadline_panel",
    "district_progress",
    "list_targets",
    "owed_on",
    "recovered_between",
    "set_target",
]

# Days overdue, inclusive at both ends; None: no upper end.
AGING_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 30),
    (31, 90),
    (91, 180),
    (181, 365),
    (366, None),
)
# The deadline-risk panel lists the legal windows closing within this many days.
DEADLINE_PANEL_DAYS = 30
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in CaseStatus if s not in CLOSED)
_SHARE = Decimal("0.0001")

AnySelect = Select[*tuple[Any, ...]]
Q = TypeVar("Q", bound=AnySelect)


@dataclass(frozen=True)
class StageCount:
    level: int  # ladder level reached; 0 before the first step
    step: str | None  # the step's name; None before the first step
    cases: int


@dataclass(frozen=True)
class AgingBucket:
    min_days: int
    max_days: int | None
    principal_fen: int

    @property
    def key(self) -> str:
        """``0-30`` … ``366+``: a stable name for labels to be looked up by."""
        return f"{self.min_days}+" if self.max_days is None else f"{self.min_days}-{self.max_days}"


@dataclass(frozen=True)
class MonthFigures:
    month: date  # its first day
    through: date  # the day ``owed_fen`` is taken on: the month's last day, or as_of
    owed_fen: int
    recovered_fen: int


@dataclass(frozen=True)
class DistrictProgress:
    district: str
    recovered_fen: int
    recovery_target_fen: int | None  # None: no target for the amount this quarter
    recovery_share: Decimal | None  # recovered / target, 4 places (0.4523 is 45.23 %)
    cases_closed: int
    cases_target: int | None
    cases_share: Decimal | None


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    districts: tuple[str, ...] | None  # the scope; None: every district (an admin)
    stages: tuple[StageCount, ...]  # open cases by ladder level
    statuses: tuple[tuple[str, int], ...]  # open cases by status, every open status listed
    aging: tuple[AgingBucket, ...]
    months: tuple[MonthFigures, ...]  # oldest first; the last one is as_of's month
    year: int
    quarter: int
    progress: tuple[DistrictProgress, ...]

    @property
    def open_cases(self) -> int:
        return sum(n for _, n in self.statuses)

    @property
    def owed_fen(self) -> int:
        return sum(b.principal_fen for b in self.aging)


def dashboard(session: Session, *, actor: Actor, as_of: date, months: int = 12) -> Dashboard:
    """The dashboard's figures as of ``as_of`` for the districts ``actor`` serves.

    Stages and statuses are those of the cases open now (the store keeps no history of them);
    every money figure is as of ``as_of`` or earlier, so a past date gives that day's figures.
    """
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise ValueError(f"months must be between 1 and 120, got {months!r}")
    scope = None if actor.every_district else tuple(sorted(actor.districts))
    year, quarter = quarter_of(as_of)
    stages, statuses = _open_cases(session, scope)
    return Dashboard(
        as_of=as_of,
        districts=scope,
        stages=stages,
        statuses=statuses,
        aging=_aging(session, scope, as_of),
        months=_months(session, scope, as_of, months),
        year=year,
        quarter=quarter,
        progress=_progress(session, scope, year, quarter, as_of),
    )


def district_progress(
    session: Session, *, actor: Actor, year: int, quarter: int, through: date
) -> tuple[DistrictProgress, ...]:
    """Each district's progress in a quarter against its target, counting what happened from
    the quarter's first day to ``through`` (its last day for a quarter that is over)."""
    scope = None if actor.every_district else tuple(sorted(actor.districts))
    return _progress(session, scope, year, quarter, through)


def deadline_panel(
    session: Session,
    *,
    actor: Actor,
    as_of: date,
    calendar: WorkCalendar,
    service_documents: Collection[str],
    within_days: int = DEADLINE_PANEL_DAYS,
) -> tuple[LegalWindow, ...]:
    """The legal windows closing within ``within_days`` of ``as_of`` in the districts ``actor``
    serves, by closing day (``cases.deadlines.deadline_risk``)."""
    return tuple(
        deadline_risk(
            session,
            as_of=as_of,
            within_days=within_days,
            calendar=calendar,
            service_documents=service_documents,
            districts=None if actor.every_district else actor.districts,
        )
    )


def _scoped(query: Q, scope: tuple[str, ...] | None) -> Q:
    return query if scope is None else query.where(col(Employer.district).in_(scope))


def _written_off_on() -> ColumnElement[Any]:
    """The day the item's case was written off, or NULL (the query joins the item's case)."""
    return case(
        (col(Case.status) == CaseStatus.WRITTEN_OFF.value, col(Case.closed_on)), else_=null()
    )


def _items(*columns: Any) -> AnySelect:
    return (
        select(*columns)
        .select_from(ArrearsItem)
        .join(Case, col(Case.id) == col(ArrearsItem.case_id))
        .join(Employer, col(Employer.id) == col(ArrearsItem.employer_id))
    )


def _allocated(*columns: Any) -> AnySelect:
    return _items(*columns).join(Allocation, col(Allocation.item_id) == col(ArrearsItem.id))


def _sums(session: Session, parts: Sequence[AnySelect]) -> dict[Any, int]:
    """``SUM(v)`` by ``b`` over the union of ``parts``, each selecting (b, v)."""
    rows = union_all(*parts).subquery()
    query = select(rows.c.b, func.sum(rows.c.v)).group_by(rows.c.b)
    # PostgreSQL sums BIGINT as NUMERIC (a Decimal); the sums are whole fen either way.
    return {b: int(v) for b, v in session.execute(query) if b is not None}


def owed_on(session: Session, scope: tuple[str, ...] | None, day: date, by: Any) -> dict[Any, int]:
    """Principal owed on ``day`` (this module's definition of "owed") summed by ``by``, an
    expression over the item, its case and its employer (an aging band, the district)."""
    due = col(ArrearsItem.due_date)
    written_off = _written_off_on()
    owed_then = (due <= day) & (written_off.is_(None) | (written_off > day))
    amounts = _items(by.label("b"), col(ArrearsItem.amount_due_fen).label("v")).where(owed_then)
    paid = _allocated(by.label("b"), (-col(Allocation.principal_fen)).label("v")).where(
        owed_then, col(Allocation.paid_on) <= day, col(Allocation.principal_fen) != 0
    )
    return _sums(session, [_scoped(amounts, scope), _scoped(paid, scope)])


def recovered_between(
    session: Session, scope: tuple[str, ...] | None, first: date, last: date
) -> dict[str, int]:
    """What payments made from ``first`` to ``last`` settled (principal and late fees, not the
    credits they left), by district."""
    district = col(Employer.district)
    query = _scoped(
        select(district, func.sum(col(Allocation.principal_fen) + col(Allocation.fee_fen)))
        .select_from(Allocation)
        .join(Employer, col(Employer.id) == col(Allocation.employer_id))
        .where(
            col(Allocation.paid_on) >= first,
            col(Allocation.paid_on) <= last,
            col(Allocation.item_id).is_not(None),
        )
        .group_by(district),
        scope,
    )
    return {d: int(v or 0) for d, v in session.execute(query)}


def _open_cases(
    session: Session, scope: tuple[str, ...] | None
) -> tuple[tuple[StageCount, ...], tuple[tuple[str, int], ...]]:
    query = _scoped(
        select(col(Case.stage), col(Case.stage_step), col(Case.status), func.count())
        .select_from(Case)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Case.closed_on).is_(None))
        .group_by(col(Case.stage), col(Case.stage_step), col(Case.status)),
        scope,
    )
    by_stage: dict[tuple[int, str | None], int] = {}
    by_status = dict.fromkeys(OPEN_STATUSES, 0)
    for level, step, status, n in session.execute(query):
        by_stage[(level, step)] = by_stage.get((level, step), 0) + n
        by_status[status] = by_status.get(status, 0) + n
    stages = tuple(
        StageCount(level, step, n)
        for (level, step), n in sorted(by_stage.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    )
    return stages, tuple(by_status.items())


def _aging(session: Session, scope: tuple[str, ...] | None, as_of: date) -> tuple[AgingBucket, ...]:
    due = col(ArrearsItem.due_date)
    # A band by the earliest due date it holds: comparing dates keeps the SQL the same on both
    # backends (no date arithmetic) and lets the due date be compared as stored.
    band = case(
        *(
            (due >= as_of - timedelta(days=hi), i)
            for i, (_, hi) in enumerate(AGING_BANDS)
            if hi is not None
        ),
        else_=len(AGING_BANDS) - 1,
    )
    sums = {int(b): v for b, v in owed_on(session, scope, as_of, band).items()}
    return tuple(AgingBucket(lo, hi, sums.get(i, 0)) for i, (lo, hi) in enumerate(AGING_BANDS))


def _month_starts(as_of: date, months: int) -> list[date]:
    index = as_of.year * 12 + as_of.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def _months(
    session: Session, scope: tuple[str, ...] | None, as_of: date, months: int
) -> tuple[MonthFigures, ...]:
    starts = _month_starts(as_of, months)
    ends = [nxt - timedelta(days=1) for nxt in starts[1:]] + [as_of]
    last = ends[-1]

    def point(day: Any) -> ColumnElement[Any]:
        # The first month end on or after the day: summed cumulatively, each month end's figure.
        return case(*((day <= end, i) for i, end in enumerate(ends)), else_=null())

    # Owed is a running total of dated changes: an item adds its amount on its due date, a payment
    # takes its principal off on the later of its day and the item's due date (money paid ahead
    # counts once the item falls due), and a write-off takes off what was left on its day.
    due = col(ArrearsItem.due_date)
    paid_on = col(Allocation.paid_on)
    settles = case((paid_on > due, paid_on), else_=due)
    written_off = _written_off_on()
    amount = col(ArrearsItem.amount_due_fen)
    principal = col(Allocation.principal_fen)
    changes = [
        _items(point(due).label("b"), amount.label("v")).where(
            due <= last, written_off.is_(None) | (due < written_off)
        ),
        _items(point(written_off).label("b"), (-amount).label("v")).where(
            due < written_off, written_off <= last
        ),
        _allocated(point(settles).label("b"), (-principal).label("v")).where(
            settles <= last, principal != 0, written_off.is_(None) | (settles < written_off)
        ),
        _allocated(point(written_off).label("b"), principal.label("v")).where(
            settles < written_off, written_off <= last, principal != 0
        ),
    ]
    owed_changes = {
        int(b): v for b, v in _sums(session, [_scoped(q, scope) for q in changes]).items()
    }

    recovered_query = _scoped(
        select(
            point(paid_on).label("b"),
            (col(Allocation.principal_fen) + col(Allocation.fee_fen)).label("v"),
        )
        .select_from(Allocation)
        .join(Employer, col(Employer.id) == col(Allocation.employer_id))
        .where(paid_on >= starts[0], paid_on <= last, col(Allocation.item_id).is_not(None)),
        scope,
    )
    recovered = {int(b): v for b, v in _sums(session, [recovered_query]).items()}

    figures = []
    owed = 0
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        owed += owed_changes.get(i, 0)
        figures.append(MonthFigures(start, end, owed, recovered.get(i, 0)))
    return tuple(figures)


def _share(done: int, target: int | None) -> Decimal | None:
    if not target:
        return None
    return (Decimal(done) / Decimal(target)).quantize(_SHARE, rounding=ROUND_HALF_UP)


def _progress(
    session: Session, scope: tuple[str, ...] | None, year: int, quarter: int, through: date
) -> tuple[DistrictProgress, ...]:
    first, last = quarter_bounds(year, quarter)
    as_of = min(through, last)
    district = col(Employer.district)
    recovered = recovered_between(session, scope, first, as_of)
    closed_query = _scoped(
        select(district, func.count())
        .select_from(Case)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Case.closed_on) >= first, col(Case.closed_on) <= as_of)
        .group_by(district),
        scope,
    )
    closed = {d: int(n) for d, n in session.execute(closed_query)}
    target_query = select(DistrictTarget).where(
        col(DistrictTarget.year) == year, col(DistrictTarget.quarter) == quarter
    )
    if scope is not None:
        target_query = target_query.where(col(DistrictTarget.district).in_(scope))
    targets = {t.district: t for t in session.execute(target_query).scalars()}
    if scope is None:
        names = set(session.execute(select(district).distinct()).scalars())
    else:
        names = set(scope)
    names |= recovered.keys() | closed.keys() | targets.keys()
    rows = []
    for name in sorted(names):
        target = targets.get(name)
        money_target = target.recovery_fen or None if target else None
        cases_target = target.cases_closed or None if target else None
        rows.append(
            DistrictProgress(
                district=name,
                recovered_fen=recovered.get(name, 0),
                recovery_target_fen=money_target,
                recovery_share=_share(recovered.get(name, 0), money_target),
                cases_closed=closed.get(name, 0),
                cases_target=cases_target,
                cases_share=_share(closed.get(name, 0), cases_target),
            )
        )
    return tuple(rows)
