"""The reports the city assesses districts by: each a query returning dataclasses, scoped to the
districts the reader serves, and a sheet for the CSV and XLSX files (``cases.reports.sheets``).

- ``monthly_progress``: the monthly progress table per district (每月完成进度统计表);
- ``quarterly_assessment``: each district's quarter against its target;
- ``officer_activity``: what each user recorded on cases over a range of days;
- the escalation log for a range of days is ``cases.escalation_log`` (``log_sheet`` writes it).
"""

from cases.reports.common import MAX_SPAN_DAYS, ReportError, parse_month, scope_of
from cases.reports.monthly import MonthlyProgress, MonthlyRow, StepColumn, monthly_progress
from cases.reports.officers import ACTIVITY_NAMES, OfficerActivity, OfficerRow, officer_activity
from cases.reports.quarterly import QuarterlyAssessment, QuarterRow, quarterly_assessment
from cases.reports.sheets import log_sheet, monthly_sheet, officers_sheet, quarterly_sheet

__all__ = [
    "ACTIVITY_NAMES",
    "MAX_SPAN_DAYS",
    "MonthlyProgress",
    "MonthlyRow",
    "OfficerActivity",
    "OfficerRow",
    "QuarterRow",
    "QuarterlyAssessment",
    "ReportError",
    "StepColumn",
    "log_sheet",
    "monthly_progress",
    "monthly_sheet",
    "officer_activity",
    "officers_sheet",
    "parse_month",
    "quarterly_assessment",
    "quarterly_sheet",
    "scope_of",
]
