"""Quarterly targets the city sets each district, and the calendar quarters they are set for.

The city assesses districts every quarter (DOMAIN.md); a target says how much a district should
recover and how many cases it should close in one quarter. An admin sets any district's target,
a supervisor only those of the districts they serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor, NotAllowed, Role
from cases.messages import N_
from cases.models import DistrictTarget, Employer
from cases.money import MoneyError, format_grouped, yuan_to_fen

# The columns' ranges (BIGINT fen, INTEGER cases): a larger figure is a typo, and refused with a
# message rather than by the database.
_MAX_FEN = 2**63 - 1
_MAX_CASES = 2**31 - 1
_YEARS = range(2000, 2101)


class TargetError(ValueError):
    """A target that cannot be set as given; the message is meant for the user."""


@dataclass(frozen=True)
class Target:
    district: str
    year: int
    quarter: int
    recovery_fen: int
    cases_closed: int
    set_by: str


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, after - timedelta(days=1)


def _check(district: str, year: int, quarter: int, recovery: Decimal, cases_closed: int) -> int:
    """Validate the figures; returns the recovery in fen."""
    # bool is an int subclass: True must not pass for a year or one case.
    if isinstance(year, bool) or not isinstance(year, int) or year not in _YEARS:
        raise TargetError(f"year must be between {_YEARS[0]} and {_YEARS[-1]}, got {year!r}")
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        raise TargetError(f"quarter must be 1, 2, 3 or 4, got {quarter!r}")
    if not isinstance(recovery, Decimal) or not recovery.is_finite():
        raise TargetError(f"the recovery target must be an amount in yuan, got {recovery!r}")
    if recovery < 0:
        raise TargetError(f"the recovery target cannot be negative, got {recovery}")
    try:
        recovery_fen = yuan_to_fen(recovery)
    except MoneyError as exc:
        raise TargetError(f"the recovery target {exc}") from None
    if recovery_fen > _MAX_FEN:
        raise TargetError(f"the recovery target {recovery} is too large")
    if isinstance(cases_closed, bool) or not isinstance(cases_closed, int):
        raise TargetError(f"the cases to close must be a whole number, got {cases_closed!r}")
    if not 0 <= cases_closed <= _MAX_CASES:
        raise TargetError(f"the cases to close must be 0 or more, got {cases_closed}")
    if recovery_fen == 0 and cases_closed == 0:
        raise TargetError(
            f"a target for {district} needs an amount to recover or a number of cases to close"
        )
    return recovery_fen


def _known_districts(session: Session) -> set[str]:
    employers = select(col(Employer.district)).distinct()
    targets = select(col(DistrictTarget.district)).distinct()
    return set(session.execute(employers).scalars()) | set(session.execute(targets).scalars())


def set_target(
    session: Session,
    *,
    actor: Actor,
    district: str,
    year: int,
    quarter: int,
    recovery: Decimal,
    cases_closed: int,
) -> Target:
    """Set (or replace) a district's target for one quarter."""
    actor.require(Role.SUPERVISOR, doing=N_("set a district's target"))
    district = district.strip() if isinstance(district, str) else ""
    if not district:
        raise TargetError("name the district the target is for")
    if not actor.serves(district):
        raise NotAllowed(
            f"you do not serve {district}: only its supervisors set its target",
            key=N_("you do not serve {district}: only its supervisors set its target"),
            district=district,
        )
    recovery_fen = _check(district, year, quarter, recovery, cases_closed)
    # A target for a district the store has never heard of is almost always a typo (和平 for
    # 和平区) and would sit unseen beside the real district on the dashboard.
    known = _known_districts(session)
    if district not in known:
        listed = "、".join(sorted(known)) or "none yet"
        raise TargetError(f"no employer in the case store is in {district} (known: {listed})")
    row = session.execute(
        select(DistrictTarget).where(
            col(DistrictTarget.district) == district,
            col(DistrictTarget.year) == year,
            col(DistrictTarget.quarter) == quarter,
        )
    ).scalar_one_or_none()
    if row is None:
        row = DistrictTarget(
            district=district, year=year, quarter=quarter, recovery_fen=0, set_by=""
        )
    row.recovery_fen = recovery_fen
    row.cases_closed = cases_closed
    row.set_by = actor.username
    session.add(row)
    session.flush()
    return _target(row)


def list_targets(
    session: Session, *, actor: Actor, year: int | None = None, quarter: int | None = None
) -> list[Target]:
    """Targets of the districts ``actor`` serves, latest quarter first."""
    query = select(DistrictTarget).order_by(
        col(DistrictTarget.year).desc(),
        col(DistrictTarget.quarter).desc(),
        col(DistrictTarget.district),
    )
    if year is not None:
        query = query.where(col(DistrictTarget.year) == year)
    if quarter is not None:
        query = query.where(col(DistrictTarget.quarter) == quarter)
    if not actor.every_district:
        query = query.where(col(DistrictTarget.district).in_(sorted(actor.districts)))
    return [_target(row) for row in session.execute(query).scalars()]


def describe(target: Target) -> str:
    """One line for a person: ``和平区 2026 Q4: recover ¥1,200,000.00, close 40 cases``."""
    parts = []
    if target.recovery_fen:
        parts.append(f"recover ¥{format_grouped(target.recovery_fen)}")
    if target.cases_closed:
        parts.append(f"close {target.cases_closed} cases")
    return f"{target.district} {target.year} Q{target.quarter}: {', '.join(parts)}"


def _target(row: DistrictTarget) -> Target:
    return Target(
        district=row.district,
        year=row.year,
        quarter=row.quarter,
        recovery_fen=row.recovery_fen,
        cases_closed=row.cases_closed,
        set_by=row.set_by,
    )
