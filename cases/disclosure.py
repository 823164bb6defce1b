"""The quarter's list of serious non-payers, for publication (MOHRSS Order 29, 2017).

City and district bureaus publish, every quarter, the employers that were ordered to pay within a
time limit and still had not paid when the quarter ended. The list is computed as of the quarter's
last day from the ledger (payments made by then, late fee accrued to then), and written as a draft
that a supervisor reviews before anything is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlmodel import Session, col

from cases.accounts import case_position, load_books
from cases.fines import served_order
from cases.models import Case, CourtApplication, Employer, Notice
from cases.money import fen_to_yuan
from cases.policy import Policy
from cases.spreadsheets import Sheet, write_sheet

FORCED_TRANSFER = "forced_transfer"
COURT_APPLICATION = "court_application"

HEADINGS = (
    "单位编码",
    "单位名称",
    "区县",
    "欠缴本金（元）",
    "滞纳金（元）",
    "限期缴纳通知书文号",
    "限期缴纳期限",
    "已采取的最高措施",
    "已强制划拨",
    "已申请法院强制执行",
)


@dataclass(frozen=True)
class DisclosureRow:
    employer_code: str
    employer_name: str
    district: str
    principal: int  # fen outstanding at the end of the quarter
    late_fee: int  # fen outstanding at the end of the quarter
    order_number: str | None  # the order to pay's document number
    order_deadline: date
    highest_step: str | None  # the highest rung's kind taken by the quarter's end
    highest_step_title: str | None
    forced_transfer: bool
    court_application: bool


def quarter_end(year: int, quarter: int) -> date:
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter {quarter}: a quarter is 1 to 4")
    if not 1900 <= year <= 9999:
        raise ValueError(f"{year} is not a plausible year")
    first_of_next = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first_of_next - timedelta(days=1)


def disclosure_list(
    session: Session,
    *,
    year: int,
    quarter: int,
    policy: Policy,
    district: str | None = None,
) -> list[DisclosureRow]:
    """Employers whose order to pay's time limit ended on or before the quarter's last day and
    who still owed principal at the end of that day, by district and employer code.

    Only items due by the quarter's end count; a case closed (paid or written off) by then is
    not listed. One row per case: an employer has one case at a time.
    """
    end = quarter_end(year, quarter)
    query = (
        select(Case, Employer)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            or_(col(Case.closed_on).is_(None), col(Case.closed_on) > end),
            col(Case.opened_on) <= end,
            col(Case.id).in_(
                select(col(Notice.case_id)).where(
                    col(Notice.step) == "order_to_pay",
                    col(Notice.served_on).is_not(None),
                    col(Notice.served_on) <= end,
                )
            ),
        )
        .order_by(col(Employer.district), col(Employer.code), col(Case.id))
    )
    if district is not None:
        query = query.where(col(Employer.district) == district)
    candidates = list(session.execute(query))
    books = load_books(session, {case.employer_id for case, _ in candidates})
    rows: list[DisclosureRow] = []
    for case, employer in candidates:
        case_id = case.id or 0
        order = served_order(session, case_id, policy, deadline_by=end)
        if order is None:
            continue
        book = books[case.employer_id]
        pos = case_position(book, case_id, end, policy.fee_rules)
        due_by_end = {i.id for i in book.items if i.case_id == case_id and i.due_date <= end}
        principal = sum(p.principal_outstanding for i, p in pos.items.items() if i in due_by_end)
        if principal <= 0:
            continue
        fee = sum(p.fee_outstanding for i, p in pos.items.items() if i in due_by_end)
        taken = _steps_taken(session, case_id, end)
        rungs = [step for step in policy.steps if step.kind in taken]
        top = max(rungs, key=lambda step: step.level, default=None)
        rows.append(
            DisclosureRow(
                employer_code=employer.code,
                employer_name=employer.name,
                district=employer.district,
                principal=principal,
                late_fee=fee,
                order_number=order.notice.document_number,
                order_deadline=order.deadline,
                highest_step=top.kind if top is not None else None,
                highest_step_title=top.title if top is not None else None,
                forced_transfer=FORCED_TRANSFER in taken,
                court_application=COURT_APPLICATION in taken or _court_filed(session, case_id, end),
            )
        )
    return rows


def _steps_taken(session: Session, case_id: int, end: date) -> set[str]:
    return set(
        session.execute(
            select(col(Notice.step)).where(
                col(Notice.case_id) == case_id,
                col(Notice.issued_on) <= end,
                or_(col(Notice.channel) != "letter", col(Notice.document_number).is_not(None)),
            )
        ).scalars()
    )


def _court_filed(session: Session, case_id: int, end: date) -> bool:
    return (
        session.execute(
            select(col(CourtApplication.id)).where(
                col(CourtApplication.case_id) == case_id,
                col(CourtApplication.filed_on).is_not(None),
                col(CourtApplication.filed_on) <= end,
            )
        ).first()
        is not None
    )


def draft_title(year: int, quarter: int, district: str | None) -> str:
    where = district or "全市"
    return (
        f"【草稿，须经科长审核后方可公布】{year}年第{quarter}季度{where}"
        f"严重欠缴社会保险费用人单位名单（截至{quarter_end(year, quarter).isoformat()}）"
    )


def _cells(row: DisclosureRow) -> list[object]:
    return [
        row.employer_code,
        row.employer_name,
        row.district,
        fen_to_yuan(row.principal),
        fen_to_yuan(row.late_fee),
        row.order_number or "",
        row.order_deadline,
        row.highest_step_title or "",
        "是" if row.forced_transfer else "否",
        "是" if row.court_application else "否",
    ]


def _sheet(
    rows: Sequence[DisclosureRow], *, year: int, quarter: int, district: str | None
) -> Sheet:
    return Sheet(
        name="草稿-待审核",
        title=draft_title(year, quarter, district),
        title_alert=True,
        headings=HEADINGS,
        rows=[_cells(row) for row in rows],
        widths=(22, 36, 10, 16, 14, 30, 14, 18, 10, 18),
    )


def write_csv(
    path: Path, rows: Sequence[DisclosureRow], *, year: int, quarter: int, district: str | None
) -> None:
    """The draft as CSV: the draft's title on the first line, then the header and the rows.

    UTF-8 with a byte-order mark, which Excel on Chinese Windows needs to read it as UTF-8.
    """
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path}: the CSV draft is written to a .csv file")
    write_sheet(path, _sheet(rows, year=year, quarter=quarter, district=district))


def write_xlsx(
    path: Path, rows: Sequence[DisclosureRow], *, year: int, quarter: int, district: str | None
) -> None:
    """The draft as an XLSX workbook: one sheet titled as a draft, its title in the first row."""
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path}: the XLSX draft is written to an .xlsx file")
    write_sheet(path, _sheet(rows, year=year, quarter=quarter, district=district))
