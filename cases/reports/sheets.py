"""The reports as sheets for the files the districts file and send to the city.

Headings are in Chinese, as on the disclosure list (``cases.disclosure``): the files are filed in
the bureau's archives and read by the city. Amounts are yuan to two places (``Decimal``); a
title line above the header says what the table is and the period it covers. The escalation log
keeps the columns of the web page's CSV export, so both exports read alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from sqlmodel import Session

from cases.access import Actor
from cases.escalation_log import CSV_HEADER, LogFilter, log_rows
from cases.money import fen_to_yuan
from cases.reports.monthly import MonthlyProgress, MonthlyRow
from cases.reports.officers import ACTIVITY_NAMES, OfficerActivity
from cases.reports.quarterly import QuarterlyAssessment
from cases.spreadsheets import Sheet

TOTAL = "合计"
NO_STEP = "尚未采取措施"
YES, NO = "是", "否"
ROLE_NAMES = {"officer": "征缴专员", "supervisor": "科长", "admin": "管理员"}

MONTHLY_HEADINGS = (
    "区县",
    "本月立案数",
    "本月结案数（缴清）",
    "本月结案数（核销）",
    "本月结案数合计",
    "月末欠缴本金（元）",
    "月末欠缴滞纳金（元）",
    "月末欠缴合计（元）",
    "本月追缴金额（元）",
    "月末在办案件数",
)
QUARTERLY_HEADINGS = (
    "区县",
    "追缴金额（元）",
    "追缴目标（元）",
    "追缴完成率（%）",
    "追缴目标完成",
    "结案数",
    "结案目标",
    "结案完成率（%）",
    "结案目标完成",
    "全部目标完成",
)
OFFICER_HEADINGS = (
    "用户名",
    "姓名",
    "角色",
    "电话催缴",
    "缴费承诺",
    "登记缴款",
    "工作记录",
    "约谈",
    "文书送达",
    "申请强制措施",
    "申请核销",
    "审批决定",
    "领取案件",
    "合计",
)
assert len(OFFICER_HEADINGS) == len(ACTIVITY_NAMES) + 4


def _period(first: date, through: date) -> str:
    return f"{first.isoformat()}至{through.isoformat()}"


def monthly_sheet(report: MonthlyProgress) -> Sheet:
    step_headings = tuple(
        f"在办·{column.title or column.step}" if column.step else f"在办·{NO_STEP}"
        for column in report.steps
    )

    def cells(name: str, row: MonthlyRow) -> list[object]:
        return [
            name,
            row.opened,
            row.closed_paid,
            row.written_off,
            row.closed,
            fen_to_yuan(row.principal_owed_fen),
            fen_to_yuan(row.late_fee_owed_fen),
            fen_to_yuan(row.owed_fen),
            fen_to_yuan(row.recovered_fen),
            row.open_cases,
            *row.by_step,
        ]

    rows = [cells(row.district, row) for row in report.rows]
    if len(report.rows) > 1:
        rows.append(cells(TOTAL, report.total))
    return Sheet(
        name=f"{report.year}-{report.month:02d}",
        title=(
            f"{report.year}年{report.month}月各区县每月完成进度统计表"
            f"（{_period(report.first, report.through)}）"
        ),
        headings=MONTHLY_HEADINGS + step_headings,
        rows=rows,
        widths=(10, 10, 14, 14, 12, 18, 18, 18, 18, 12) + (14,) * len(step_headings),
    )


def _verdict(met: bool | None) -> str:
    return "" if met is None else YES if met else NO


def quarterly_sheet(report: QuarterlyAssessment) -> Sheet:
    rows = [
        [
            row.district,
            fen_to_yuan(row.recovered_fen),
            fen_to_yuan(row.recovery_target_fen) if row.recovery_target_fen is not None else None,
            row.recovery_percent,
            _verdict(row.recovery_met),
            row.cases_closed,
            row.cases_target,
            row.cases_percent,
            _verdict(row.cases_met),
            _verdict(row.met),
        ]
        for row in report.rows
    ]
    return Sheet(
        name=f"{report.year}Q{report.quarter}",
        title=(
            f"{report.year}年第{report.quarter}季度各区县考核情况"
            f"（{_period(report.first, report.through)}）"
        ),
        headings=QUARTERLY_HEADINGS,
        rows=rows,
        widths=(10, 18, 18, 14, 12, 10, 10, 14, 12, 12),
    )


def officers_sheet(report: OfficerActivity) -> Sheet:
    rows: list[Sequence[object]] = [
        [
            row.username,
            row.display_name,
            ROLE_NAMES.get(row.role or "", row.role or ""),
            *row.counts,
            row.total,
        ]
        for row in report.rows
    ]
    if len(report.rows) > 1:
        totals = [sum(r.counts[i] for r in report.rows) for i in range(len(ACTIVITY_NAMES))]
        rows.append([TOTAL, "", "", *totals, sum(totals)])
    where = "、".join(report.districts) if report.districts else "全市"
    return Sheet(
        name="人员工作量",
        title=f"{where}征缴人员工作量统计（{_period(report.date_from, report.date_to)}）",
        headings=OFFICER_HEADINGS,
        rows=rows,
        widths=(14, 12, 10) + (10,) * (len(OFFICER_HEADINGS) - 3),
    )


def log_sheet(session: Session, *, actor: Actor, filters: LogFilter) -> Sheet:
    """The escalation log's matching events, oldest first; rows are read as they are written
    (keep ``session`` open until the sheet is written)."""
    filters.check()

    def rows() -> Iterator[Sequence[object]]:
        # The cells of ``LogRow.as_csv``, typed: the same text in CSV, a date cell in a workbook.
        for row in log_rows(session, actor=actor, filters=filters):
            yield (
                row.event_id,
                row.on_date,
                row.at.isoformat(),
                row.case_id,
                row.employer_code,
                row.employer_name,
                row.district,
                row.kind,
                row.step or "",
                row.actor,
                row.policy_version or "",
                row.message,
            )

    return Sheet(
        name="escalation-log",
        headings=CSV_HEADER,
        rows=rows(),
        widths=(10, 12, 28, 8, 20, 30, 10, 18, 18, 14, 18, 60),
    )
