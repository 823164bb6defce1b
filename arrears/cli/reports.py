"""Commands writing the reports the city assesses districts by, as CSV or XLSX files.

The file's extension says its format (.csv or .xlsx); a file is written beside its final name and
renamed into place once complete, so a failed run leaves nothing half-written. Figures cover the
districts the acting user serves (``--user``; the console's operator: every district).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import (
    UsageProblem,
    UserOption,
    acting_user,
    fail,
    handled,
    open_store,
    out,
    parse_day,
)
from cases.escalation_log import LogFilter, LogFilterError
from cases.reports import (
    ReportError,
    log_sheet,
    monthly_progress,
    monthly_sheet,
    officer_activity,
    officers_sheet,
    parse_month,
    quarterly_assessment,
    quarterly_sheet,
    scope_of,
)
from cases.spreadsheets import file_format, write_sheet

reports_app = typer.Typer(
    help="Reports for the city's assessment of the districts, written as CSV or XLSX files.",
    no_args_is_help=True,
)

OutFile = Annotated[
    Path,
    typer.Option("--out", help="FILE.csv or FILE.xlsx to write (the extension picks the format)."),
]
District = Annotated[str | None, typer.Option(help="Only this district, e.g. 和平区.")]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Today, for a period still under way (YYYY-MM-DD); default today in the agency's "
        "time zone.",
    ),
]
DateFrom = Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")]
DateTo = Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD).")]


def _checked(path: Path) -> Path:
    try:
        file_format(path)
    except ValueError:
        raise UsageProblem(
            f"--out {path}: write a .csv or an .xlsx file (the extension picks the format)"
        ) from None
    if not path.parent.is_dir():
        raise UsageProblem(f"--out {path}: the folder {path.parent} does not exist")
    return path


@contextmanager
def _refusals() -> Iterator[None]:
    """A report asked for wrongly (a period, a district not served) as one line, exit code 1."""
    try:
        yield
    except (ReportError, LogFilterError) as exc:
        fail(str(exc))


@reports_app.command("monthly")
@handled
def monthly(
    month: Annotated[str, typer.Option(help="The month, e.g. 2026-10.")],
    out_file: OutFile,
    district: District = None,
    as_of: AsOf = None,
    user: UserOption = None,
) -> None:
    """The monthly progress table per district: cases opened and closed, owed at the month's
    end, recovered in the month, and open cases by the highest rung reached."""
    path = _checked(out_file)
    try:
        year, number = parse_month(month, "--month")
    except ReportError as exc:
        raise UsageProblem(str(exc)) from None
    a, today = open_store(as_of)
    with _refusals(), a.session() as session:
        report = monthly_progress(
            session,
            actor=acting_user(session, user),
            year=year,
            month=number,
            as_of=today,
            policy=a.policy,
            district=district,
        )
    write_sheet(path, monthly_sheet(report))
    out.print(f"{path}: {len(report.rows)} district(s), {report.first} to {report.through}")


@reports_app.command("quarterly")
@handled
def quarterly(
    year: Annotated[int, typer.Option(help="The year, e.g. 2026.")],
    quarter: Annotated[int, typer.Option(help="The quarter, 1 to 4.")],
    out_file: OutFile,
    district: District = None,
    as_of: AsOf = None,
    user: UserOption = None,
) -> None:
    """Each district's quarter against its target: recovered and cases closed, the share of the
    target and whether it was met."""
    path = _checked(out_file)
    if not 1 <= quarter <= 4:
        raise UsageProblem(f"--quarter {quarter}: a quarter is 1 to 4")
    a, today = open_store(as_of)
    with _refusals(), a.session() as session:
        report = quarterly_assessment(
            session,
            actor=acting_user(session, user),
            year=year,
            quarter=quarter,
            as_of=today,
            district=district,
        )
    write_sheet(path, quarterly_sheet(report))
    met = sum(1 for row in report.rows if row.met)
    out.print(
        f"{path}: {len(report.rows)} district(s), {year} Q{quarter} to {report.through}; "
        f"{met} met every target set"
    )


@reports_app.command("officers")
@handled
def officers(
    date_from: DateFrom,
    date_to: DateTo,
    out_file: OutFile,
    officer: Annotated[str | None, typer.Option(help="Only this user (their user name).")] = None,
    district: District = None,
    user: UserOption = None,
) -> None:
    """What each officer and supervisor recorded on cases from --from to --to: calls, promises,
    payments, notes, interviews, letters served, requests, decisions, cases taken."""
    path = _checked(out_file)
    first, last = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        report = officer_activity(
            session,
            actor=acting_user(session, user),
            date_from=first,
            date_to=last,
            officer=officer,
            district=district,
        )
    write_sheet(path, officers_sheet(report))
    out.print(f"{path}: {len(report.rows)} user(s), {first} to {last}")


@reports_app.command("log")
@handled
def log(
    date_from: DateFrom,
    date_to: DateTo,
    out_file: OutFile,
    district: District = None,
    user: UserOption = None,
) -> None:
    """The escalation log from --from to --to, every event oldest first (the columns of the web
    log's CSV export)."""
    path = _checked(out_file)
    filters = LogFilter(
        date_from=parse_day(date_from, "--from"),
        date_to=parse_day(date_to, "--to"),
        district=district,
    )
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        actor = acting_user(session, user)
        scope_of(actor, district)  # a district not served is refused, as by every report
        sheet = log_sheet(session, actor=actor, filters=filters)
        written = 0

        def counted() -> Iterator[Sequence[object]]:
            nonlocal written
            for row in sheet.rows:
                written += 1
                yield row

        write_sheet(path, replace(sheet, rows=counted()))
    out.print(f"{path}: {written} event(s), {date_from} to {date_to}")
