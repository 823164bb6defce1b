from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cases.workdays import (
    DEFAULT_HOLIDAY_FILE,
    CalendarFileError,
    UnknownCalendarYear,
    WorkCalendar,
)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def write_holidays(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(body, encoding="utf-8")
    return path


FAKE_2099 = """
[years.2099]
source = "test data, not a real schedule"
holidays = [2099-01-01, { from = 2099-10-01, to = 2099-10-07 }]
workdays = [2099-10-10]
"""


def test_package_years_know_holidays_weekends_and_make_up_days(cal: WorkCalendar) -> None:
    assert not cal.is_workday(date(2026, 10, 1))  # National Day
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday
    assert cal.is_workday(date(2026, 10, 10))  # Saturday made a workday (调休)
    assert cal.is_workday(date(2026, 10, 8))


def test_ten_working_days_across_national_day_2026(cal: WorkCalendar) -> None:
    # From Mon 28 Sep: 29, 30 Sep (2); Oct 1–7 off; 8, 9 (4); Sat 10 make-up (5); Sun 11 off;
    # 12, 13, 14, 15, 16 (10).
    assert cal.add_working_days(date(2026, 9, 28), 10) == date(2026, 10, 16)
    assert cal.deadline(date(2026, 9, 28), 10) == date(2026, 10, 16)


def test_ten_working_days_across_spring_festival_2026(cal: WorkCalendar) -> None:
    # From Thu 12 Feb: 13 (1); Sat 14 make-up (2); 15–23 off; 24, 25, 26, 27 (6);
    # Sat 28 make-up (7); Sun 1 Mar off; 2, 3, 4 Mar (10).
    assert cal.deadline(date(2026, 2, 12), 10) == date(2026, 3, 4)


def test_start_day_never_counts(cal: WorkCalendar) -> None:
    assert cal.add_working_days(date(2026, 10, 12), 1) == date(2026, 10, 13)
    assert cal.add_working_days(date(2026, 10, 12), 0) == date(2026, 10, 12)


def test_make_up_saturday_is_counted(cal: WorkCalendar) -> None:
    # Fri 9 Oct + 1 working day is the make-up Saturday, not Monday.
    assert cal.add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)


def test_long_limit_counts_calendar_days(cal: WorkCalendar) -> None:
    assert cal.deadline(date(2026, 11, 2), 15) == date(2026, 11, 17)


def test_long_limit_ending_on_a_holiday_moves_to_next_workday(cal: WorkCalendar) -> None:
    # 16 Sep + 15 days = 1 Oct, National Day; the first working day after is Thu 8 Oct.
    assert cal.deadline(date(2026, 9, 16), 15) == date(2026, 10, 8)


def test_working_day_limit_is_a_parameter(cal: WorkCalendar) -> None:
    # With a limit of 5, a 10-day period counts calendar days: 28 Sep + 10 = 8 Oct, a workday.
    assert cal.deadline(date(2026, 9, 28), 10, working_day_limit=5) == date(2026, 10, 8)


def test_bad_counts_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        cal.deadline(date(2026, 9, 28), 0)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 9, 28), -1)


def test_unknown_year_raises_naming_the_year_and_file(cal: WorkCalendar) -> None:
    with pytest.raises(UnknownCalendarYear) as caught:
        cal.add_working_days(date(2026, 12, 22), 10)
    assert caught.value.year == 2027
    assert "2027" in str(caught.value)
    assert str(DEFAULT_HOLIDAY_FILE) in str(caught.value)
    assert "[years.2027]" in str(caught.value)


def test_shipped_file_invents_no_years(cal: WorkCalendar) -> None:
    assert cal.agency_years() == ()


def test_agency_file_supplies_a_future_year(tmp_path: Path) -> None:
    cal = WorkCalendar(write_holidays(tmp_path, FAKE_2099))
    assert not cal.is_workday(date(2099, 10, 1))
    assert not cal.is_workday(date(2099, 10, 7))
    assert cal.is_workday(date(2099, 10, 10))  # a listed make-up Saturday
    assert not cal.is_workday(date(2099, 10, 17))  # an unlisted Saturday
    assert cal.is_workday(date(2099, 10, 8))
    # Wed 30 Sep: Oct 1–7 off, Thu 8 (1), Fri 9 (2), Sat 10 make-up (3).
    assert cal.add_working_days(date(2099, 9, 30), 3) == date(2099, 10, 10)
    with pytest.raises(UnknownCalendarYear) as caught:
        cal.is_workday(date(2100, 1, 4))
    assert caught.value.year == 2100


def test_package_wins_for_years_it_knows(tmp_path: Path) -> None:
    cal = WorkCalendar(write_holidays(tmp_path, "[years.2026]\nholidays = [2026-10-12]\n"))
    assert cal.is_workday(date(2026, 10, 12))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[years.27]\n", "four-digit year"),
        ("[years.2099]\nholidays = [2098-12-31]\n", "outside 2099"),
        ("[years.2099]\nholidays = [2099-01-01]\nworkdays = [2099-01-01]\n", "both"),
        ('[years.2099]\nholidays = ["2099-01-01"]\n', "entries are dates"),
        ("[years.2099]\nholidays = [{ from = 2099-10-07, to = 2099-10-01 }]\n", "bad range"),
        ("[years.2099]\nholiday = []\n", "unknown keys"),
        ("[2099]\n", "unknown top-level"),
        ("[years.2099\n", "not valid TOML"),
    ],
)
def test_malformed_agency_file_is_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        WorkCalendar(write_holidays(tmp_path, body))


def test_missing_agency_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match="not found"):
        WorkCalendar(tmp_path / "nope.toml")
