"""总结资料类: the year in figures, for the year-end summary (全年工作总结).

``summaries/year-summary.json``
    everything below in one document, amounts in yuan as strings ("12345.67").
``summaries/by-district.csv``
    per district, of the year's cases: how many, opened in the year, closed in the year (paid,
    written off), and how many reached each rung of the ladder by the year's last day (the highest
    level of a notice issued by then; 0: none).
``summaries/by-month.csv``
    per month, every district together: principal owed at the month's end and money recovered
    in the month (:func:`cases.dashboard.dashboard`'s figures, taken for 31 December).
``summaries/by-quarter.csv``
    per quarter and district: recovered and closed against the quarter's target
    (the dashboard's district progress, taken for the quarter's last day).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from cases.access import Actor, Role
from cases.accounts import chunked
from cases.archive.context import ExportContext
from cases.bulk import among
from cases.dashboard import dashboard
from cases.models import Case, Notice
from cases.money import fen_to_yuan
from cases.states import CaseStatus
from cases.targets import quarter_bounds

_ARCHIVIST = Actor(user_id=0, username="system:archive", role=Role.ADMIN, districts=frozenset())


def _yuan(fen: int | None) -> str:
    return "" if fen is None else format(fen_to_yuan(fen), "f")


def _by_district(ctx: ExportContext) -> tuple[list[dict[str, Any]], list[int]]:
    levels: dict[int, int] = {}
    cases: dict[int, Case] = {}
    for part in chunked(ctx.case_ids):
        for case in ctx.session.execute(select(Case).where(among(col(Case.id), part))).scalars():
            cases[case.id or 0] = case
        reached = ctx.session.execute(
            select(col(Notice.case_id), func.max(col(Notice.level)))
            .where(among(col(Notice.case_id), part), col(Notice.issued_on) <= ctx.last_day)
            .group_by(col(Notice.case_id))
        )
        levels.update({case_id: int(level or 0) for case_id, level in reached})
    all_levels = sorted({0, *levels.values()})
    rows: dict[str, dict[str, Any]] = {}
    for case_id, case in sorted(cases.items()):
        district = ctx.employers[case_id][2]
        row = rows.setdefault(
            district,
            {"district": district, "cases": 0, "opened": 0, "closed_paid": 0, "written_off": 0}
            | {f"level_{n}": 0 for n in all_levels},
        )
        row["cases"] += 1
        row["opened"] += ctx.first_day <= case.opened_on <= ctx.last_day
        if case.closed_on is not None and ctx.first_day <= case.closed_on <= ctx.last_day:
            if case.status == CaseStatus.CLOSED_PAID.value:
                row["closed_paid"] += 1
            elif case.status == CaseStatus.WRITTEN_OFF.value:
                row["written_off"] += 1
        row[f"level_{levels.get(case_id, 0)}"] += 1
    return [rows[d] for d in sorted(rows)], all_levels


def write_summaries(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    districts, levels = _by_district(ctx)
    year_end = dashboard(ctx.session, actor=_ARCHIVIST, as_of=ctx.last_day, months=12)
    months = [
        {
            "month": m.month.isoformat()[:7],
            "owed_at_month_end": _yuan(m.owed_fen),
            "recovered": _yuan(m.recovered_fen),
        }
        for m in year_end.months
    ]
    quarters = []
    for quarter in (1, 2, 3, 4):
        _first, last = quarter_bounds(ctx.year, quarter)
        for p in dashboard(ctx.session, actor=_ARCHIVIST, as_of=last, months=1).progress:
            quarters.append(
                {
                    "quarter": f"{ctx.year}-Q{quarter}",
                    "district": p.district,
                    "recovered": _yuan(p.recovered_fen),
                    "recovery_target": _yuan(p.recovery_target_fen),
                    "cases_closed": p.cases_closed,
                    "cases_target": p.cases_target if p.cases_target is not None else "",
                }
            )
    document = {
        "year": ctx.year,
        "agency": ctx.agency.get("name", ""),
        "cases": sum(d["cases"] for d in districts),
        "recovered": _yuan(sum(m.recovered_fen for m in year_end.months)),
        "owed_at_year_end": _yuan(year_end.months[-1].owed_fen),
        "by_district": districts,
        "by_month": months,
        "by_quarter": quarters,
        "notes": {
            "levels": "level_N: cases whose highest notice issued by 31 December was of ladder "
            "level N (0: none)",
            "owed": "principal of the items fallen due, less what payments made by then settled; "
            "late fees left out (cases.dashboard)",
        },
    }
    (folder / "year-summary.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    _csv(
        folder / "by-district.csv",
        ["district", "cases", "opened", "closed_paid", "written_off"]
        + [f"level_{n}" for n in levels],
        districts,
    )
    _csv(folder / "by-month.csv", ["month", "owed_at_month_end", "recovered"], months)
    _csv(
        folder / "by-quarter.csv",
        ["quarter", "district", "recovered", "recovery_target", "cases_closed", "cases_target"],
        quarters,
    )


def _csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
