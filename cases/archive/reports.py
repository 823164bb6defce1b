"""The year's reports (汇报资料类) and statistics (统计资料类) in the archive, for the city.

statistics
    ``statistics/monthly-progress-YYYY-MM.csv`` and ``.xlsx``: the monthly progress table per
    district (每月完成进度统计表) of each of the year's twelve months.
reports
    ``reports/quarterly-assessment-YYYY-QN.csv`` and ``.xlsx``: each district's quarter against
    its target; ``reports/officer-activity-YYYY.csv`` and ``.xlsx``: what each user recorded on
    cases over the year.

Every district is in them (the archive is the city's), figures as of the year's last day.
"""

from __future__ import annotations

from pathlib import Path

from cases.access import Actor, Role
from cases.archive.context import ExportContext
from cases.reports import (
    monthly_progress,
    monthly_sheet,
    officer_activity,
    officers_sheet,
    quarterly_assessment,
    quarterly_sheet,
)
from cases.spreadsheets import Sheet, write_sheet

_ARCHIVIST = Actor(user_id=0, username="system:archive", role=Role.ADMIN, districts=frozenset())


def _both(folder: Path, stem: str, sheet: Sheet) -> None:
    for suffix in (".csv", ".xlsx"):
        write_sheet(folder / f"{stem}{suffix}", sheet)


def write_statistics(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for month in range(1, 13):
        report = monthly_progress(
            ctx.session,
            actor=_ARCHIVIST,
            year=ctx.year,
            month=month,
            as_of=ctx.last_day,
            policy=ctx.policy,
        )
        _both(folder, f"monthly-progress-{ctx.year}-{month:02d}", monthly_sheet(report))


def write_reports(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for quarter in (1, 2, 3, 4):
        report = quarterly_assessment(
            ctx.session, actor=_ARCHIVIST, year=ctx.year, quarter=quarter, as_of=ctx.last_day
        )
        _both(folder, f"quarterly-assessment-{ctx.year}-Q{quarter}", quarterly_sheet(report))
    activity = officer_activity(
        ctx.session, actor=_ARCHIVIST, date_from=ctx.first_day, date_to=ctx.last_day
    )
    _both(folder, f"officer-activity-{ctx.year}", officers_sheet(activity))
