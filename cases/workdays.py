"""Working days and legal time limits on the Chinese statutory calendar.

Years the ``chinese_calendar`` package knows (statutory holidays, weekends and make-up workdays
调休) come from it. The State Council publishes each year's schedule in the autumn before, usually
after the package's last release, so the agency keeps later years in ``calendars/holidays.toml``
(format in that file's header). A date in a year neither knows raises ``UnknownCalendarYear``:
a legal deadline is never guessed.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar

DEFAULT_HOLIDAY_FILE = Path(__file__).parent / "calendars" / "holidays.toml"

# Administrative Compulsion Law art. 69: limits of this many days or fewer count working days.
WORKING_DAY_LIMIT = 10

_ONE_DAY = timedelta(days=1)


class UnknownCalendarYear(Exception):
    """A date falls in a year for which no holiday calendar is known."""

    def __init__(self, year: int, holiday_file: Path) -> None:
        self.year = year
        self.holiday_file = holiday_file
        super().__init__(
            f"no holiday calendar for {year}: add the State Council's {year} holiday schedule "
            f"(holidays and make-up workdays) as [years.{year}] to {holiday_file}"
        )


class CalendarFileError(ValueError):
    """The agency's holiday file cannot be read or is malformed."""


class _AgencyYear:
    __slots__ = ("holidays", "workdays")

    def __init__(self, holidays: frozenset[date], workdays: frozenset[date]) -> None:
        self.holidays = holidays
        self.workdays = workdays


class WorkCalendar:
    """Answers "is this a working day?" and counts legal time limits."""

    def __init__(self, holiday_file: Path | None = None) -> None:
        self.holiday_file = holiday_file if holiday_file is not None else DEFAULT_HOLIDAY_FILE
        self._agency_years = _read_holiday_file(self.holiday_file)
        # Memoises which years the package knows so an unknown year costs one exception, not one
        # per day counted.
        self._package_knows: dict[int, bool] = {}

    def __repr__(self) -> str:
        return f"WorkCalendar({str(self.holiday_file)!r})"

    def agency_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._agency_years))

    def is_workday(self, d: date) -> bool:
        if self._package_has(d.year):
            return bool(chinese_calendar.is_workday(d))
        year = self._agency_years.get(d.year)
        if year is None:
            raise UnknownCalendarYear(d.year, self.holiday_file)
        if d in year.workdays:
            return True
        if d in year.holidays:
            return False
        return d.weekday() < 5

    def next_workday(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it."""
        while not self.is_workday(d):
            d += _ONE_DAY
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start``; ``start`` itself never counts."""
        if n < 0:
            raise ValueError(f"cannot count {n} working days")
        d = start
        while n > 0:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def deadline(
        self, start: date, days: int, *, working_day_limit: int = WORKING_DAY_LIMIT
    ) -> date:
        """Last day of a ``days``-day limit that begins on ``start`` (art. 69 rule).

        Short limits count working days; longer ones count calendar days but may not end on a
        non-working day, so the end moves to the next working day.
        """
        if days < 1:
            raise ValueError(f"a time limit must be at least one day, not {days}")
        if days <= working_day_limit:
            return self.add_working_days(start, days)
        return self.next_workday(start + timedelta(days=days))

    def _package_has(self, year: int) -> bool:
        known = self._package_knows.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                known = True
            except NotImplementedError:
                known = False
            self._package_knows[year] = known
        return known


def _read_holiday_file(path: Path) -> dict[int, _AgencyYear]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise CalendarFileError(f"{path}: holiday file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"years"}
    if unknown:
        raise CalendarFileError(
            f"{path}: unknown top-level keys {sorted(unknown)}; use [years.YYYY]"
        )
    years = data.get("years", {})
    if not isinstance(years, dict):
        raise CalendarFileError(f"{path}: 'years' must be a table of [years.YYYY] tables")
    return {_year_key(path, key): _read_year(path, key, body) for key, body in years.items()}


def _year_key(path: Path, key: str) -> int:
    if not (key.isdigit() and len(key) == 4):
        raise CalendarFileError(f"{path}: [years.{key}] is not a four-digit year")
    return int(key)


def _read_year(path: Path, key: str, body: Any) -> _AgencyYear:
    where = f"{path}: [years.{key}]"
    if not isinstance(body, dict):
        raise CalendarFileError(f"{where} must be a table")
    unknown = set(body) - {"holidays", "workdays", "source"}
    if unknown:
        raise CalendarFileError(f"{where}: unknown keys {sorted(unknown)}")
    year = int(key)
    holidays = _read_dates(where, "holidays", body.get("holidays", []), year)
    workdays = _read_dates(where, "workdays", body.get("workdays", []), year)
    both = holidays & workdays
    if both:
        listed = ", ".join(d.isoformat() for d in sorted(both))
        raise CalendarFileError(f"{where}: {listed} listed as both holiday and workday")
    return _AgencyYear(frozenset(holidays), frozenset(workdays))


def _read_dates(where: str, key: str, entries: Any, year: int) -> set[date]:
    if not isinstance(entries, list):
        raise CalendarFileError(f"{where}: '{key}' must be a list")
    out: set[date] = set()
    for entry in entries:
        if _is_plain_date(entry):
            first = last = entry
        elif isinstance(entry, dict) and set(entry) == {"from", "to"}:
            first, last = entry["from"], entry["to"]
            if not (_is_plain_date(first) and _is_plain_date(last)) or last < first:
                raise CalendarFileError(f"{where}: '{key}' has a bad range {entry!r}")
        else:
            raise CalendarFileError(
                f"{where}: '{key}' entries are dates (2027-01-01) or ranges "
                f"({{ from = 2027-10-01, to = 2027-10-07 }}), not {entry!r}"
            )
        if first.year != year or last.year != year:
            raise CalendarFileError(f"{where}: '{key}' has {entry!r}, outside {year}")
        d = first
        while d <= last:
            out.add(d)
            d += _ONE_DAY
    return out


def _is_plain_date(value: Any) -> bool:
    # tomllib returns datetime (a date subclass) for date-times; a holiday is a whole day.
    return isinstance(value, date) and type(value) is date
