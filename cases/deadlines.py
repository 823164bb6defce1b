"""Legal windows counted in calendar months: the appeal periods and the court's window."""

from __future__ import annotations

import calendar as month_lengths
from datetime import date, timedelta

from cases.workdays import WorkCalendar

RECONSIDERATION_DAYS = 60  # administrative reconsideration: 60 days from service
LAWSUIT_MONTHS = 6  # administrative lawsuit: 6 months from service
COURT_MONTHS = 3  # Administrative Compulsion Law art. 53: apply within 3 months after


def add_months(day: date, months: int) -> date:
    """The same day number ``months`` later, clamped to the month's end (31 Aug + 6 -> 28 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_lengths.monthrange(year, month)[1]))


def lawsuit_period_ends(decision_served_on: date, calendar: WorkCalendar) -> date:
    """The last day to sue against a decision served on ``decision_served_on``: 6 months on,
    moved to the next working day when that day is not one."""
    return calendar.next_workday(add_months(decision_served_on, LAWSUIT_MONTHS))


def court_window(decision_served_on: date, calendar: WorkCalendar) -> tuple[date, date]:
    """(first day, last day) on which the agency may apply to the court on a decision served on
    ``decision_served_on``: from the day after the lawsuit period (the longer appeal period) ends,
    for 3 months. A period whose last day is not a working day ends on the next working day."""
    appeal_ends = calendar.next_workday(add_months(decision_served_on, LAWSUIT_MONTHS))
    opens = appeal_ends + timedelta(days=1)
    return opens, calendar.next_workday(add_months(appeal_ends, COURT_MONTHS))
