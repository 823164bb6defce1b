"""The quarter's draft list of serious non-payers, checked against figures worked out by hand."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.actions import record_payment
from cases.disclosure import DisclosureRow, disclosure_list, quarter_end
from cases.models import CourtApplication, Notice
from tests.factories import CODES
from tests.integration.casework_world import World, make_world

runner = CliRunner()


def _notice(case_id: int, step: str, level: int, issued: date, **fields: Any) -> Notice:
    return Notice(
        case_id=case_id,
        business_key=f"seed:{case_id}:{step}:{fields.get('document_type', step)}",
        step=step,
        level=level,
        channel="letter",
        document_type=fields.pop("document_type", step),
        status=fields.pop("status", "printed"),
        document_number=f"津和社保测〔2026〕第{case_id:03d}{level:03d}号",
        issued_on=issued,
        **fields,
    )


@pytest.fixture
def world(store: App, tmp_path: Path) -> World:
    """Each employer owes 10,000.00 due 2026-09-15 (late fee 5.00 a day from then).

    a (和平区): order to pay served, deadline 09-30; forced transfer decided 09-30; pays nothing.
    b (和平区): order deadline 09-25; pays 4,000.00 on 09-20 and the rest on 10-05.
    hexi (河西区): order deadline 09-29; the court was applied to on 09-30.
    """
    w = make_world(store, tmp_path)
    with store.session() as session:
        for case_id, deadline in (
            (w.a, date(2026, 9, 30)),
            (w.b, date(2026, 9, 25)),
            (w.hexi, date(2026, 9, 29)),
        ):
            session.add(
                _notice(
                    case_id,
                    "order_to_pay",
                    6,
                    date(2026, 9, 16),
                    status="served",
                    served_on=date(2026, 9, 17),
                    deadline_on=deadline,
                )
            )
        session.add(_notice(w.a, "enforcement_demand", 7, date(2026, 9, 20)))
        session.add(
            _notice(
                w.a,
                "forced_transfer",
                8,
                date(2026, 9, 30),
                document_type="forced_transfer_decision",
            )
        )
        # Planned for after the quarter: not a step reached by its end.
        session.add(_notice(w.a, "court_application", 10, date(2026, 10, 9)))
        session.add(
            CourtApplication(case_id=w.hexi, filed_on=date(2026, 9, 30), court="河西区人民法院")
        )
    for paid_on, amount, ref in (
        (date(2026, 9, 20), "4000.00", "B-1"),
        (date(2026, 10, 5), "6100.00", "B-2"),
    ):
        w.act(
            record_payment,
            actor=w.officer,
            case_id=w.b,
            today=paid_on,
            amount=Decimal(amount),
            paid_on=paid_on,
            reference=ref,
            policy=store.policy,
        )
    return w


def _list(world: World, year: int, quarter: int, district: str | None = None) -> list[Any]:
    with world.store.session() as session:
        return disclosure_list(
            session, year=year, quarter=quarter, district=district, policy=world.store.policy
        )


def _hand(
    code: str,
    name: str,
    district: str,
    principal: int,
    fee: int,
    case_id: int,
    deadline: date,
    step: str,
    title: str,
    transfer: bool,
    court: bool,
) -> DisclosureRow:
    return DisclosureRow(
        employer_code=code,
        employer_name=name,
        district=district,
        principal=principal,
        late_fee=fee,
        order_number=f"津和社保测〔2026〕第{case_id:03d}006号",
        order_deadline=deadline,
        highest_step=step,
        highest_step_title=title,
        forced_transfer=transfer,
        court_application=court,
    )


def test_quarter_ends() -> None:
    assert [quarter_end(2026, q) for q in (1, 2, 3, 4)] == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 30),
        date(2026, 12, 31),
    ]


def test_rows_match_the_figures_worked_out_by_hand(world: World) -> None:
    a = _hand(
        CODES[0],
        "天津甲商贸有限公司",
        "和平区",
        1_000_000,
        7_500,
        world.a,
        date(2026, 9, 30),
        "forced_transfer",
        "强制划拨",
        True,
        False,
    )
    # b paid 4,000.00 on 09-20: that part ran 5 days (10.00), the other 6,000.00 ran 15 (45.00).
    b = _hand(
        CODES[1],
        "天津乙商贸有限公司",
        "和平区",
        600_000,
        5_500,
        world.b,
        date(2026, 9, 25),
        "order_to_pay",
        "限期缴纳通知书",
        False,
        False,
    )
    hexi = _hand(
        CODES[2],
        "天津丙商贸有限公司",
        "河西区",
        1_000_000,
        7_500,
        world.hexi,
        date(2026, 9, 29),
        "order_to_pay",
        "限期缴纳通知书",
        False,
        True,
    )
    assert _list(world, 2026, 3) == [*sorted([a, b], key=lambda r: r.employer_code), hexi]
    assert _list(world, 2026, 3, "和平区") == sorted([a, b], key=lambda r: r.employer_code)
    # By the end of the year b has paid everything; a owes 107 days of fee (09-15 to 12-31),
    # and the court application planned on 10-09 is its highest step now.
    (a4, hexi4) = _list(world, 2026, 4)
    assert (a4.employer_code, a4.principal, a4.late_fee) == (CODES[0], 1_000_000, 53_500)
    assert (a4.highest_step, a4.court_application) == ("court_application", True)
    assert hexi4.late_fee == 53_500
    assert _list(world, 2026, 2) == []


def test_draft_files_read_back(db_env: dict[str, str], world: World, tmp_path: Path) -> None:
    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env=db_env, catch_exceptions=False)

    target = tmp_path / "q3.csv"
    made = run("disclosure", "--year", "2026", "--quarter", "3", "--out", str(target))
    assert made.exit_code == 0, made.output
    assert "3 employer(s), 2026 Q3" in made.stdout
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with target.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert "草稿" in lines[0][0] and "审核" in lines[0][0] and "2026年第3季度全市" in lines[0][0]
    assert lines[1][:5] == ["单位编码", "单位名称", "区县", "欠缴本金（元）", "滞纳金（元）"]
    by_code = {line[0]: line for line in lines[2:]}
    assert by_code[CODES[1]][3:5] == ["6000.00", "55.00"]
    assert by_code[CODES[0]][6:10] == ["2026-09-30", "强制划拨", "是", "否"]
    assert by_code[CODES[2]][9] == "是"

    book_path = tmp_path / "q3.xlsx"
    made = run(
        "disclosure",
        "--year",
        "2026",
        "--quarter",
        "3",
        "--district",
        "和平区",
        "--out",
        str(book_path),
        "--user",
        "chief",
    )
    assert made.exit_code == 0, made.output
    sheet = openpyxl.load_workbook(book_path).worksheets[0]
    assert "草稿" in sheet.title
    values = list(sheet.iter_rows(values_only=True))
    assert "草稿" in values[0][0] and "和平区" in values[0][0]
    assert values[1][0] == "单位编码"
    rows = {r[0]: r for r in values[2:]}
    assert set(rows) == {CODES[0], CODES[1]}
    assert (rows[CODES[1]][3], rows[CODES[1]][4]) == (6000, 55)

    refused = run(
        "disclosure", "--year", "2026", "--quarter", "3", "--out", str(target), "--user", "officer1"
    )
    assert refused.exit_code == 1 and "only a supervisor" in refused.stderr
    whole_city = run(
        "disclosure", "--year", "2026", "--quarter", "3", "--out", str(target), "--user", "chief"
    )
    assert whole_city.exit_code == 1 and "name the --district" in whole_city.stderr
    other = run(
        "disclosure",
        "--year",
        "2026",
        "--quarter",
        "3",
        "--district",
        "河西区",
        "--out",
        str(target),
        "--user",
        "chief",
    )
    assert other.exit_code == 1 and "you do not serve 河西区" in other.stderr
    wrong = run("disclosure", "--year", "2026", "--quarter", "3", "--out", str(tmp_path / "x.pdf"))
    assert wrong.exit_code == 2
