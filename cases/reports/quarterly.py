"""The quarterly assessment per district: what it recovered and closed against its target.

The figures are the dashboard's progress panel (``cases.dashboard.district_progress``) for a
whole quarter: recovered is what payments made in the quarter settled (principal and late fee),
closed is the cases closed in it (paid or written off). A quarter under way is counted to today.
A share is the figure as a percentage of its target, to two places; with no target set for it
(or a target of zero) there is no share and nothing to meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from cases.access import Actor
from cases.dashboard import DistrictProgress, district_progress
from cases.reports.common import check_quarter, check_started, districts_listed, scope_of
from cases.targets import quarter_bounds

_PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class QuarterRow:
    district: str
    recovered_fen: int
    recovery_target_fen: int | None  # None: no amount set to recover
    recovery_percent: Decimal | None  # 45.23 is 45.23 % of the target
    cases_closed: int
    cases_target: int | None
    cases_percent: Decimal | None

    @property
    def recovery_met(self) -> bool | None:
        if self.recovery_target_fen is None:
            return None
        return self.recovered_fen >= self.recovery_target_fen

    @property
    def cases_met(self) -> bool | None:
        if self.cases_target is None:
            return None
        return self.cases_closed >= self.cases_target

    @property
    def met(self) -> bool | None:
        """Every target set for the quarter met; None when none was set."""
        verdicts = [v for v in (self.recovery_met, self.cases_met) if v is not None]
        return all(verdicts) if verdicts else None


@dataclass(frozen=True)
class QuarterlyAssessment:
    year: int
    quarter: int
    first: date
    through: date  # the quarter's last day, or today for the quarter under way
    rows: tuple[QuarterRow, ...]


def quarterly_assessment(
    session: Session,
    *,
    actor: Actor,
    year: int,
    quarter: int,
    as_of: date,
    district: str | None = None,
) -> QuarterlyAssessment:
    """The quarter's assessment for the districts ``actor`` serves (or the one ``district``)."""
    check_quarter(year, quarter)
    scope = scope_of(actor, district)
    first, last = quarter_bounds(year, quarter)
    check_started(first, as_of, "quarter")
    through = min(last, as_of)
    progress = {
        p.district: p
        for p in district_progress(
            session, actor=actor, year=year, quarter=quarter, through=through
        )
        if scope is None or p.district in scope
    }
    names = districts_listed(session, scope, *progress)
    rows = tuple(_row(progress.get(name) or _nothing(name)) for name in names)
    return QuarterlyAssessment(year, quarter, first, through, rows)


def _percent(share: Decimal | None) -> Decimal | None:
    return None if share is None else (share * 100).quantize(_PERCENT)


def _row(p: DistrictProgress) -> QuarterRow:
    return QuarterRow(
        district=p.district,
        recovered_fen=p.recovered_fen,
        recovery_target_fen=p.recovery_target_fen,
        recovery_percent=_percent(p.recovery_share),
        cases_closed=p.cases_closed,
        cases_target=p.cases_target,
        cases_percent=_percent(p.cases_share),
    )


def _nothing(district: str) -> DistrictProgress:
    return DistrictProgress(district, 0, None, None, 0, None, None)
