"""The reports page: choose a report and its period, read the table, download it as CSV or XLSX.

Supervisors and admins only, like the dashboard and the escalation log the reports stand beside:
officers work cases from their queue and are not the ones the city's assessment is reported by.
Figures cover the districts the reader serves; a district they do not serve is refused (403).
The files are those of ``arrears reports`` (``cases.reports.sheets``): Chinese headings, the way
the bureau files them, whatever the reader's language; the page itself is in the reader's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from arrears.wiring import App
from cases.access import Actor, Role
from cases.districts import DISTRICT_NAMES
from cases.escalation_log import LogFilter, LogFilterError, log_page
from cases.reports import (
    ACTIVITY_NAMES,
    MonthlyProgress,
    OfficerActivity,
    QuarterlyAssessment,
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
from cases.spreadsheets import FORMATS, Sheet, sheet_bytes
from cases.targets import quarter_of
from web import arrears_app
from web.auth import require_roles
from web.explain import reader_of
from web.labels import N_
from web.lanes import long_running
from web.pages import render

ArrearsApp = Annotated[App, Depends(arrears_app)]
Supervisor = Annotated[Actor, require_roles(Role.SUPERVISOR)]
router = APIRouter(tags=["reports"])

REPORTS = {
    "monthly": N_("Monthly progress by district"),
    "quarterly": N_("Quarterly assessment against targets"),
    "officers": N_("Officers' activity"),
    "log": N_("Escalation log"),
}
ACTIVITY_LABELS = {
    "calls": N_("Calls"),
    "promises": N_("Promises"),
    "payments": N_("Payments recorded"),
    "notes": N_("Notes"),
    "interviews": N_("Interviews"),
    "letters_served": N_("Letters served"),
    "steps_requested": N_("Enforcement steps requested"),
    "write_offs_requested": N_("Write-offs requested"),
    "approvals_decided": N_("Approvals decided"),
    "cases_taken": N_("Cases taken"),
}
assert tuple(ACTIVITY_LABELS) == ACTIVITY_NAMES
FIELDS = {
    "report": N_("Report"),
    "month": N_("Month"),
    "year": N_("Year"),
    "quarter": N_("Quarter"),
    "date_from": N_("From"),
    "date_to": N_("To"),
    "officer": N_("Officer"),
    "district": N_("District"),
}
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


@dataclass
class ReportQuery:
    """The form's fields as query parameters, for the page and the downloads alike."""

    report: str = "monthly"
    month: str | None = None
    year: str | None = None
    quarter: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    officer: str | None = None
    district: str | None = None

    def filled(self, today: date) -> ReportQuery:
        """The fields left blank filled for today: this month, this quarter, this month so far."""
        year, quarter = quarter_of(today)
        return ReportQuery(
            report=self.report if self.report in REPORTS else "monthly",
            month=_blank(self.month) or f"{today:%Y-%m}",
            year=_blank(self.year) or str(year),
            quarter=_blank(self.quarter) or str(quarter),
            date_from=_blank(self.date_from) or today.replace(day=1).isoformat(),
            date_to=_blank(self.date_to) or today.isoformat(),
            officer=_blank(self.officer),
            district=_blank(self.district),
        )

    def raw(self) -> dict[str, str]:
        return {name: value or "" for name, value in asdict(self).items()}

    def query(self) -> str:
        return urlencode({k: v for k, v in self.raw().items() if v})


def _number(field: str, raw: str | None) -> int:
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 4:
        raise ReportError(field, N_("{raw!r} is not a whole number"), raw=raw)
    return int(text)


def _day(field: str, raw: str | None) -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise ReportError(field, N_("{raw!r} is not a date (YYYY-MM-DD)"), raw=raw) from None


def _report(app: App, actor: Actor, asked: ReportQuery) -> tuple[Any, Sheet | None]:
    """The report asked for, and its sheet (the log's sheet is made by the download alone)."""
    today = app.today()
    with app.session() as session:
        if asked.report == "monthly":
            year, month = parse_month(asked.month or "")
            monthly = monthly_progress(
                session,
                actor=actor,
                year=year,
                month=month,
                as_of=today,
                policy=app.policy,
                district=asked.district,
            )
            return monthly, monthly_sheet(monthly)
        if asked.report == "quarterly":
            quarterly = quarterly_assessment(
                session,
                actor=actor,
                year=_number("year", asked.year),
                quarter=_number("quarter", asked.quarter),
                as_of=today,
                district=asked.district,
            )
            return quarterly, quarterly_sheet(quarterly)
        if asked.report == "officers":
            activity = officer_activity(
                session,
                actor=actor,
                date_from=_day("date_from", asked.date_from),
                date_to=_day("date_to", asked.date_to),
                officer=asked.officer,
                district=asked.district,
            )
            return activity, officers_sheet(activity)
        filters = _log_filter(actor, asked)
        return log_page(session, actor=actor, filters=filters), None


def _log_filter(actor: Actor, asked: ReportQuery) -> LogFilter:
    scope_of(actor, asked.district)  # a district not served is refused, as by every report
    filters = LogFilter(
        date_from=_day("date_from", asked.date_from),
        date_to=_day("date_to", asked.date_to),
        district=asked.district,
    )
    filters.check()
    return filters


@router.get("/reports", response_class=HTMLResponse)
@long_running
def reports_page(
    request: Request, app: ArrearsApp, actor: Supervisor, asked: Annotated[ReportQuery, Depends()]
) -> Response:
    filled = asked.filled(app.today())
    reader = reader_of(request, app.policy)
    error = None
    result: Any = None
    try:
        result, _ = _report(app, actor, filled)
    except (ReportError, LogFilterError) as exc:
        error = reader.say(
            N_("{field_label}: {because}"),
            field_label=reader._(FIELDS.get(exc.field, exc.field)),
            because=reader.explained(exc, N_("This report cannot be made for this period.")),
        )
    log_query = urlencode(
        {
            k: v
            for k, v in (
                ("date_from", filled.date_from),
                ("date_to", filled.date_to),
                ("district", filled.district),
            )
            if v
        }
    )
    return render(
        request,
        "reports.html",
        status_code=422 if error else 200,
        asked=filled.raw(),
        query=filled.query(),
        log_query=log_query,
        reports=REPORTS,
        report=filled.report,
        result=result,
        error=error,
        districts=actor.visible(DISTRICT_NAMES),
        activities=ACTIVITY_LABELS,
    )


@router.get("/reports/export")
@long_running
def reports_export(
    app: ArrearsApp,
    actor: Supervisor,
    asked: Annotated[ReportQuery, Depends()],
    format: str = "csv",
) -> Response:
    """The report as a CSV or XLSX file (the same as ``arrears reports``)."""
    if format not in FORMATS:
        return _refused(f"format: a report is downloaded as csv or xlsx, not {format!r}")
    filled = asked.filled(app.today())
    try:
        if filled.report == "log":
            filters = _log_filter(actor, filled)
            with app.session() as session:
                content = sheet_bytes(log_sheet(session, actor=actor, filters=filters), format)
            name = f"escalation-log-{filters.date_from}-{filters.date_to}"
        else:
            result, sheet = _report(app, actor, filled)
            assert sheet is not None
            content = sheet_bytes(sheet, format)
            name = _file_name(result)
    except (ReportError, LogFilterError) as exc:
        return _refused(str(exc))
    return Response(
        content,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'},
    )


def _file_name(result: Any) -> str:
    """The download's name, from the report's parsed period (never from what was typed)."""
    if isinstance(result, MonthlyProgress):
        return f"monthly-{result.year}-{result.month:02d}"
    if isinstance(result, QuarterlyAssessment):
        return f"quarterly-{result.year}Q{result.quarter}"
    assert isinstance(result, OfficerActivity)
    return f"officers-{result.date_from}-{result.date_to}"


def _refused(reason: str) -> Response:
    return Response(reason, status_code=422, media_type="text/plain; charset=utf-8")
