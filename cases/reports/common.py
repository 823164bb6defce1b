"""What the reports share: the refusal they raise, the districts a report covers, periods."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor, NotAllowed
from cases.districts import DISTRICT_NAMES
from cases.messages import N_, Explained
from cases.models import Employer

MAX_SPAN_DAYS = 366 * 3  # a wider date range is refused: ask for it year by year
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class ReportError(Explained, ValueError):
    """A report that cannot be made as asked; the message names the field at fault.

    ``key`` and ``params``: the message again for a reader of another language.
    """

    def __init__(self, field: str, key: str, **params: Any) -> None:
        self.field = field
        self.explain(key, params)
        super().__init__(f"{field}: {key.format(**params)}")


def scope_of(actor: Actor, district: str | None) -> tuple[str, ...] | None:
    """The districts a report reads: the one asked for (if ``actor`` serves it), else those the
    actor serves; None: every district (an admin asking for no district)."""
    if district is not None:
        if district not in DISTRICT_NAMES:
            raise ReportError(
                "district", N_("{district!r} is not a district of the city"), district=district
            )
        if not actor.serves(district):
            raise NotAllowed(
                f"you do not serve {district}",
                key=N_("You do not serve {district}."),
                district=district,
            )
        return (district,)
    return None if actor.every_district else tuple(sorted(actor.districts))


def districts_listed(session: Session, scope: tuple[str, ...] | None, *seen: str) -> list[str]:
    """The report's rows: every district of the scope (an admin: every district with employers),
    and any other that has figures, in the city's order (by division code)."""
    if scope is None:
        names = set(session.execute(select(col(Employer.district)).distinct()).scalars())
    else:
        names = set(scope)
    names |= set(seen)
    order = {name: i for i, name in enumerate(DISTRICT_NAMES)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def parse_month(text: str, field: str = "month") -> tuple[int, int]:
    """``2026-10`` → (2026, 10)."""
    found = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2100:
        raise ReportError(field, N_("{raw!r} is not a month (YYYY-MM)"), raw=text)
    return int(found[1]), int(found[2])


def check_month(year: int, month: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ReportError("year", N_("{year!r} is not a year between 2000 and 2100"), year=year)
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ReportError("month", N_("{raw!r} is not a month (YYYY-MM)"), raw=f"{year}-{month}")


def check_quarter(year: int, quarter: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ReportError("year", N_("{year!r} is not a year between 2000 and 2100"), year=year)
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        raise ReportError(
            "quarter", N_("a quarter is 1, 2, 3 or 4, not {quarter!r}"), quarter=quarter
        )


def check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise ReportError(
            "date_from", N_("{start} is after date_to {end}"), start=date_from, end=date_to
        )
    if (date_to - date_from).days > MAX_SPAN_DAYS:
        raise ReportError("date_to", N_("at most {days} days from date_from"), days=MAX_SPAN_DAYS)


def check_started(first: date, as_of: date, field: str) -> None:
    if first > as_of:
        raise ReportError(field, N_("the period begins after today ({today})"), today=as_of)
