"""Legal windows counted by hand: the day of service not counted, months ending on the same day
number (or the month's last day), a last day off work moved to the next working day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cases.deadlines import (
    COURT_APPLICATION_MONTHS,
    LAWSUIT_MONTHS,
    RECONSIDERATION_DAYS,
    add_months,
    appeal_closes_on,
    court_window,
    lawsuit_closes_on,
    reconsideration_closes_on,
    service_documents,
)
from cases.policy import default_policy_path, default_templates_dir
from cases.policy_file import load_policy
from cases.workdays import UnknownCalendarYear, WorkCalendar


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_the_windows_the_notices_state() -> None:
    assert (RECONSIDERATION_DAYS, LAWSUIT_MONTHS, COURT_APPLICATION_MONTHS) == (60, 6, 3)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2026, 10, 15), 3, date(2027, 1, 15)),
        (date(2026, 2, 28), 3, date(2026, 5, 28)),  # the same day number, not the month end
    ],
)
def test_months_end_on_the_same_day_number_or_the_months_last_day(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


def test_a_last_day_on_a_holiday_moves_to_the_next_working_day(cal: WorkCalendar) -> None:
    # Served 2025-04-01: day 60 is Saturday 2025-05-31, the first day of the Dragon Boat Festival
    # (05-31 to 06-02): the window ends Tuesday 06-03.
    assert reconsideration_closes_on(date(2025, 4, 1), cal) == date(2025, 6, 3)
    # 6 months on is 2025-10-01, National Day (10-01 to 10-08): the lawsuit window ends 10-09.
    assert lawsuit_closes_on(date(2025, 4, 1), cal) == date(2025, 10, 9)
    # Served 2026-08-02: day 60 is National Day 2026-10-01 (10-01 to 10-07): moved to 10-08.
    assert reconsideration_closes_on(date(2026, 8, 2), cal) == date(2026, 10, 8)


def test_a_last_day_on_a_make_up_workday_stays(cal: WorkCalendar) -> None:
    # Served 2025-08-31: 6 months on has no 31st, so the last day is 2026-02-28, a Saturday
    # worked in exchange for the Spring Festival (调休): it stays.
    assert lawsuit_closes_on(date(2025, 8, 31), cal) == date(2026, 2, 28)
    assert reconsideration_closes_on(date(2025, 8, 31), cal) == date(2025, 10, 30)
    assert appeal_closes_on(date(2025, 8, 31), cal) == date(2026, 2, 28)


def test_court_window_opens_after_the_appeal_windows_and_runs_three_months(
    cal: WorkCalendar,
) -> None:
    # The lawsuit window (the later) ends 2026-02-28; the court window runs 03-01 to 05-28.
    assert court_window(date(2025, 8, 31), cal) == (date(2026, 3, 1), date(2026, 5, 28))
    # The lawsuit window's last day moved off National Day to 2025-10-09: the court window opens
    # on 10-10 and closes 3 months after 10-09.
    assert court_window(date(2025, 4, 1), cal) == (date(2025, 10, 10), date(2026, 1, 9))


def test_court_window_closing_on_a_holiday_moves_too(cal: WorkCalendar) -> None:
    # Served 2025-07-01: 6 months on is New Year's Day 2026 (01-01 to 01-03); Sunday 01-04 is a
    # make-up workday, so the appeal window ends then. 3 months on is Saturday 2026-04-04, the
    # Qingming holiday (04-04 to 04-06): the court window closes Tuesday 04-07.
    assert lawsuit_closes_on(date(2025, 7, 1), cal) == date(2026, 1, 4)
    assert court_window(date(2025, 7, 1), cal) == (date(2026, 1, 5), date(2026, 4, 7))


def test_an_unknown_calendar_year_is_never_guessed(cal: WorkCalendar) -> None:
    # Served 2026-10-10: the lawsuit window ends in April 2027, a year the calendar lacks.
    with pytest.raises(UnknownCalendarYear) as raised:
        court_window(date(2026, 10, 10), cal)
    assert raised.value.year == 2027


def test_a_year_entered_by_the_agency_is_used(tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.toml"
    holidays.write_text(
        "[years.2027]\nholidays = [{ from = 2027-04-10, to = 2027-04-12 }]\nworkdays = []\n",
        encoding="utf-8",
    )
    cal = WorkCalendar(holidays)
    # 2027-04-10 is a Saturday and, in this file, a holiday to 04-12: moved to Tuesday 04-13.
    assert lawsuit_closes_on(date(2026, 10, 10), cal) == date(2027, 4, 13)
    assert court_window(date(2026, 10, 10), cal) == (date(2027, 4, 14), date(2027, 7, 13))


def test_the_letters_served_on_the_employer() -> None:
    policy = load_policy(default_policy_path(), templates_dir=default_templates_dir())
    assert service_documents(policy) == {
        "reminder_letter",
        "interview_notice",
        "order_to_pay",
        "enforcement_demand",
        "forced_transfer_decision",
        "collateral_demand",
    }
