"""The reports against figures computed by hand on the store of ``reports_world``, on SQLite and
PostgreSQL: the queries, the CSV and XLSX files, and the ``arrears reports`` commands."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from arrears.wiring import App
from cases.access import NotAllowed
from cases.dashboard import dashboard, set_target
from cases.escalation_log import LogFilter, log_csv
from cases.reports import (
    MonthlyRow,
    ReportError,
    log_sheet,
    monthly_progress,
    monthly_sheet,
    officer_activity,
    quarterly_assessment,
    quarterly_sheet,
)
from cases.spreadsheets import sheet_bytes, write_sheet
from tests.integration.reports_world import A, B, World, actor, arrears, build

TODAY = date(2026, 11, 26)
NO_STEP, SMS, PHONE, LETTER, _INTERVIEW, _REFER, ORDER = range(7)


def steps(*at: int) -> tuple[int, ...]:
    """The 11 step columns (no rung yet, then the policy's ten rungs) with one case at each."""
    counts = [0] * 11
    for i in at:
        counts[i] += 1
    return tuple(counts)


@pytest.fixture
def world(db_env: dict[str, str], store: App, tmp_path: Path) -> World:
    return build(db_env, store, tmp_path)


@pytest.fixture
def targets(world: World) -> World:
    """Q4 2026: 和平区 to recover 10,000.00 and close 4 cases; 南开区 to recover 1,000.00."""
    with world.app.session() as session:
        admin = actor(world.app, "admin")
        set_target(
            session,
            actor=admin,
            district=A,
            year=2026,
            quarter=4,
            recovery=Decimal("10000.00"),
            cases_closed=4,
        )
        set_target(
            session,
            actor=admin,
            district=B,
            year=2026,
            quarter=4,
            recovery=Decimal("1000.00"),
            cases_closed=0,
        )
    return world


def monthly(world: World, who: str, month: int = 10, **kw: object):  # type: ignore[no-untyped-def]
    app = world.app
    with app.session() as session:
        return monthly_progress(
            session,
            actor=actor(app, who),
            year=2026,
            month=month,
            as_of=TODAY,
            policy=app.policy,
            **kw,  # type: ignore[arg-type]
        )


# --- the monthly progress table ------------------------------------------------------------------

# October 2026, by hand:
# 和平区: opened E2 (10-16); closed E2 paid (10-26) and E3 written off (10-20). At 10-31 E1 is the
#   only open case (E2 closed, E3 written off and left out of "owed"): principal 10,000 - 4,000 =
#   6,000.00; late fee on 4,000.00 for 25 days (09-15 to 10-10) and 6,000.00 for 46 days (to
#   10-31): (4,000 × 25 + 6,000 × 46) × 0.0005 = 376,000 × 0.0005 = 188.00. Recovered in October:
#   4,000.00 (E1) + 2,010.00 (E2, fee included) = 6,010.00. E1's highest rung by 10-31 is
#   phone_reminder (reminder_letter came on 11-03).
# 南开区: opened E5 (10-20); nothing closed. Open at 10-31: E4 (principal 8,000.00, late fee
#   8,000 × 77 days (08-15 to 10-31) × 0.0005 = 308.00; highest rung order_to_pay) and E5
#   (5,000.00, 5,000 × 16 × 0.0005 = 40.00; no rung yet). Recovered: nothing (E4 paid in Nov).
OCT_A = MonthlyRow(A, 1, 1, 1, 600_000, 18_800, 601_000, steps(PHONE))
OCT_B = MonthlyRow(B, 1, 0, 0, 1_300_000, 34_800, 0, steps(ORDER, NO_STEP))


def test_the_monthly_table_for_every_district(world: World) -> None:
    report = monthly(world, "admin")
    assert (report.first, report.through) == (date(2026, 10, 1), date(2026, 10, 31))
    assert [c.step for c in report.steps] == [None, *(s.kind for s in world.app.policy.steps)]
    assert report.steps[PHONE].title == "电话催缴"
    assert report.rows == (OCT_A, OCT_B)
    assert (OCT_A.closed, OCT_A.owed_fen, OCT_A.open_cases) == (2, 618_800, 1)
    assert (OCT_B.closed, OCT_B.owed_fen, OCT_B.open_cases) == (0, 1_334_800, 2)
    total = report.total
    assert (total.opened, total.closed_paid, total.written_off) == (2, 1, 1)
    assert (total.principal_owed_fen, total.late_fee_owed_fen, total.recovered_fen) == (
        1_900_000,
        53_600,
        601_000,
    )
    assert total.by_step == steps(PHONE, ORDER, NO_STEP)


def test_the_monthly_figures_are_the_dashboards(world: World) -> None:
    """Principal owed at the month's end and recovered in it, summed over the districts, are
    the dashboard's figures for October."""
    app = world.app
    with app.session() as session:
        d = dashboard(session, actor=actor(app, "admin"), as_of=TODAY, months=2)
    october = d.months[0]
    total = monthly(world, "admin").total
    assert (october.owed_fen, october.recovered_fen) == (
        total.principal_owed_fen,
        total.recovered_fen,
    )


def test_a_month_under_way_is_counted_to_today(world: World) -> None:
    # November to 11-26: E1 closed paid on 11-20 after paying 6,218.00 on 11-10; E4 paid
    # 1,000.00 on 11-05 (principal), leaving 7,000.00. E5 still owes 5,000.00.
    report = monthly(world, "admin", month=11)
    assert report.through == TODAY
    by = {r.district: r for r in report.rows}
    assert (by[A].opened, by[A].closed_paid, by[A].recovered_fen) == (0, 1, 621_800)
    assert (by[A].principal_owed_fen, by[A].late_fee_owed_fen, by[A].open_cases) == (0, 0, 0)
    assert (by[B].recovered_fen, by[B].principal_owed_fen) == (100_000, 1_200_000)
    # E4: 1,000 × 82 days (to 11-05) + 7,000 × 103 days (to 11-26) = 803,000 × 0.0005 = 401.50
    # E5: 5,000 × 42 days × 0.0005 = 105.00
    assert by[B].late_fee_owed_fen == 40_150 + 10_500
    with pytest.raises(ReportError, match="month: the period begins after today"):
        monthly(world, "admin", month=12)
    with pytest.raises(ReportError, match="month: '2026-13' is not a month"):
        monthly(world, "admin", month=13)


def test_a_supervisor_sees_only_their_district(world: World) -> None:
    assert monthly(world, "sup_a").rows == (OCT_A,)
    assert monthly(world, "sup_b").rows == (OCT_B,)
    assert monthly(world, "officer_b").rows == (OCT_B,)
    assert monthly(world, "admin", district=B).rows == (OCT_B,)
    with pytest.raises(NotAllowed, match="do not serve 和平区"):
        monthly(world, "sup_b", district=A)
    with pytest.raises(ReportError, match="not a district"):
        monthly(world, "admin", district="和平")


def test_the_monthly_sheet_in_csv_and_xlsx(world: World, tmp_path: Path) -> None:
    sheet = monthly_sheet(monthly(world, "admin"))
    write_sheet(tmp_path / "m.csv", sheet)
    raw = (tmp_path / "m.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0] == ["2026年10月各区县每月完成进度统计表（2026-10-01至2026-10-31）"]
    assert lines[1][:10] == [
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
    ]
    assert lines[1][10:13] == ["在办·尚未采取措施", "在办·短信催缴", "在办·电话催缴"]
    assert len(lines[1]) == 21
    assert lines[2][:10] == [A, "1", "1", "1", "2", "6000.00", "188.00", "6188.00", "6010.00", "1"]
    assert lines[2][10:] == ["0", "0", "1", *["0"] * 8]
    assert lines[3][:10] == [B, "1", "0", "0", "0", "13000.00", "348.00", "13348.00", "0.00", "2"]
    assert lines[4][:10] == [
        "合计",
        "2",
        "1",
        "1",
        "2",
        "19000.00",
        "536.00",
        "19536.00",
        "6010.00",
        "3",
    ]
    assert len(lines) == 5

    write_sheet(tmp_path / "m.xlsx", sheet)
    ws = openpyxl.load_workbook(tmp_path / "m.xlsx").worksheets[0]
    assert ws.title == "2026-10"
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][0] == "区县" and rows[2][0] == A
    assert rows[2][5:9] == (6000, 188, 6188, 6010)
    assert ws.cell(row=3, column=6).number_format == "#,##0.00"
    assert rows[4][0] == "合计" and rows[4][5] == 19000


def test_a_file_of_another_kind_is_refused_and_nothing_is_left(
    world: World, tmp_path: Path
) -> None:
    sheet = monthly_sheet(monthly(world, "admin"))
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"m\.txt: write a \.csv or an \.xlsx file"):
        write_sheet(folder / "m.txt", sheet)
    assert list(folder.iterdir()) == []
    with pytest.raises(ValueError, match="csv or xlsx"):
        sheet_bytes(sheet, "ods")


# --- the quarterly assessment ---------------------------------------------------------------------


def test_the_quarterly_assessment_against_targets(targets: World) -> None:
    app = targets.app
    with app.session() as session:
        report = quarterly_assessment(
            session, actor=actor(app, "admin"), year=2026, quarter=4, as_of=TODAY
        )
    assert (report.first, report.through) == (date(2026, 10, 1), TODAY)
    a, b = report.rows
    # 和平区 Q4 to 11-26: recovered 4,000.00 + 2,010.00 + 6,218.00 = 12,228.00 against 10,000.00
    # (122.28 %, met); closed E3 (written off 10-20), E2 (paid 10-26), E1 (paid 11-20): 3 of 4
    # (75.00 %, not met); so not every target met.
    assert (a.district, a.recovered_fen, a.recovery_target_fen) == (A, 1_222_800, 1_000_000)
    assert (a.recovery_percent, a.recovery_met) == (Decimal("122.28"), True)
    assert (a.cases_closed, a.cases_target, a.cases_percent, a.cases_met) == (
        3,
        4,
        Decimal("75.00"),
        False,
    )
    assert a.met is False
    # 南开区: recovered 1,000.00 (E4 on 11-05) of 1,000.00: 100.00 %, met; no cases target.
    assert (b.district, b.recovered_fen, b.recovery_percent, b.recovery_met) == (
        B,
        100_000,
        Decimal("100.00"),
        True,
    )
    assert (b.cases_closed, b.cases_target, b.cases_percent, b.cases_met, b.met) == (
        0,
        None,
        None,
        None,
        True,
    )
    lines = list(
        csv.reader(io.StringIO(sheet_bytes(quarterly_sheet(report), "csv").decode("utf-8-sig")))
    )
    assert lines[0] == ["2026年第4季度各区县考核情况（2026-10-01至2026-11-26）"]
    assert lines[2] == [A, "12228.00", "10000.00", "122.28", "是", "3", "4", "75.00", "否", "否"]
    assert lines[3] == [B, "1000.00", "1000.00", "100.00", "是", "0", "", "", "", "是"]


def test_a_quarter_without_targets_and_a_quarter_of_nothing(world: World) -> None:
    app = world.app
    with app.session() as session:
        q3 = quarterly_assessment(
            session, actor=actor(app, "sup_b"), year=2026, quarter=3, as_of=TODAY
        )
        # Q3: nothing paid or closed in 南开区 (E4 paid in November); no target set.
        (row,) = q3.rows
        assert (row.district, row.recovered_fen, row.cases_closed) == (B, 0, 0)
        assert (row.recovery_percent, row.cases_percent, row.met) == (None, None, None)
        assert q3.through == date(2026, 9, 30)
        with pytest.raises(ReportError, match="quarter: a quarter is 1, 2, 3 or 4"):
            quarterly_assessment(
                session, actor=actor(app, "admin"), year=2026, quarter=5, as_of=TODAY
            )


# --- officers' activity ---------------------------------------------------------------------------

# October 2026, by hand from reports_world.ACTIVITY (columns: calls, promises, payments, notes,
# interviews, letters served, steps requested, write-offs requested, approvals decided, taken):
# officer_a: calls 10-02 and 10-03; promise 10-03; payment 10-10; notes 10-04 (和平区) and 10-20
#   (南开区); interview 10-08; letter served 10-09; forced transfer asked 10-11; case taken 10-01.
#   The call of 11-02 is after the range; a status change is no activity.
# officer_b: call 10-05, note 10-06, interview (missed) 10-07, case taken 10-01.
# sup_a: write-off asked 10-15; approvals granted 10-12 and 10-19.
# officer_a2: nothing, listed all the same. The nightly run's call is nobody's.
OFFICER_A_ALL = (2, 1, 1, 2, 1, 1, 1, 0, 0, 1)
OFFICER_A_IN_A = (2, 1, 1, 1, 1, 1, 1, 0, 0, 1)
OFFICER_B = (1, 0, 0, 1, 1, 0, 0, 0, 0, 1)
SUP_A = (0, 0, 0, 0, 0, 0, 0, 1, 2, 0)
NOTHING = (0,) * 10


def activity(world: World, who: str, **kw: object) -> list[tuple[str, tuple[int, ...]]]:
    app = world.app
    with app.session() as session:
        report = officer_activity(
            session,
            actor=actor(app, who),
            date_from=date(2026, 10, 1),
            date_to=date(2026, 10, 31),
            **kw,  # type: ignore[arg-type]
        )
    return [(row.username, row.counts) for row in report.rows]


def test_officers_activity_over_a_month(world: World) -> None:
    assert activity(world, "admin") == [
        ("officer_a", OFFICER_A_ALL),
        ("officer_a2", NOTHING),
        ("officer_b", OFFICER_B),
        ("sup_a", SUP_A),
        ("sup_b", NOTHING),
    ]
    # 和平区 only: officer_a's note on a case of 南开区 is not counted; officer_b and sup_b, who
    # serve 南开区 and did nothing in 和平区, are not listed.
    assert activity(world, "sup_a") == [
        ("officer_a", OFFICER_A_IN_A),
        ("officer_a2", NOTHING),
        ("sup_a", SUP_A),
    ]
    assert activity(world, "admin", officer="officer_b") == [("officer_b", OFFICER_B)]
    assert activity(world, "admin", officer="Officer_A ") == [("officer_a", OFFICER_A_ALL)]
    assert activity(world, "sup_b", officer="officer_a") == [
        ("officer_a", (0, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    ]
    with pytest.raises(ReportError, match="officer: there is no user 'nobody'"):
        activity(world, "admin", officer="nobody")


def test_the_officers_range_is_checked(world: World) -> None:
    app = world.app
    with (
        app.session() as session,
        pytest.raises(ReportError, match="date_from: 2026-11-01 is after"),
    ):
        officer_activity(
            session,
            actor=actor(app, "admin"),
            date_from=date(2026, 11, 1),
            date_to=date(2026, 10, 1),
        )


# --- the escalation log ---------------------------------------------------------------------------


def test_the_log_export_is_the_web_logs_csv_and_a_workbook(world: World) -> None:
    app = world.app
    sup_a = actor(app, "sup_a")
    october = LogFilter(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    with app.session() as session:
        as_csv = sheet_bytes(log_sheet(session, actor=sup_a, filters=october), "csv")
        web = "".join(log_csv(session, actor=sup_a, filters=october)).encode()
        book = sheet_bytes(log_sheet(session, actor=sup_a, filters=october), "xlsx")
    assert as_csv == web  # the same file as the log page's export
    lines = list(csv.reader(io.StringIO(as_csv.decode("utf-8-sig"))))
    assert lines[0][:3] == ["event_id", "on_date", "at_utc"]
    body = lines[1:]
    assert body and all("2026-10-01" <= line[1] <= "2026-10-31" for line in body)
    assert {line[6] for line in body} == {A}  # 和平区 only
    assert [line[1] for line in body] == sorted(line[1] for line in body)
    mine = [line for line in body if line[9] == "officer_a"]
    # officer_a's October events on cases of 和平区: ten in ACTIVITY (the status change included)
    assert len(mine) == 10
    ws = openpyxl.load_workbook(io.BytesIO(book)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "event_id" and len(rows) == len(lines)
    assert rows[1][1].date().isoformat() == body[0][1]  # a date cell


# --- the commands --------------------------------------------------------------------------------


def test_the_commands_write_each_report(
    world: World, db_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "oct.xlsx"
    result = arrears(
        db_env,
        "reports",
        "monthly",
        "--month",
        "2026-10",
        "--out",
        str(out),
        "--as-of",
        "2026-11-26",
        "--user",
        "sup_a",
    )
    assert result.exit_code == 0, result.output
    assert "1 district(s), 2026-10-01 to 2026-10-31" in result.stdout
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[2:]] == [A]  # one district: no total row
    assert rows[2][5:9] == (6000, 188, 6188, 6010)

    out = tmp_path / "q.csv"
    result = arrears(
        db_env,
        "reports",
        "quarterly",
        "--year",
        "2026",
        "--quarter",
        "4",
        "--out",
        str(out),
        "--as-of",
        "2026-11-26",
        "--district",
        B,
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert lines[2] == [B, "1000.00", "", "", "", "0", "", "", "", ""]

    out = tmp_path / "officers.csv"
    result = arrears(
        db_env,
        "reports",
        "officers",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--out",
        str(out),
        "--officer",
        "officer_b",
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert lines[1][:4] == ["用户名", "姓名", "角色", "电话催缴"]
    assert lines[2] == [
        "officer_b",
        "officer_b",
        "征缴专员",
        "1",
        "0",
        "0",
        "1",
        "1",
        "0",
        "0",
        "0",
        "0",
        "1",
        "4",
    ]
    assert len(lines) == 3

    out = tmp_path / "log.xlsx"
    result = arrears(
        db_env,
        "reports",
        "log",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--out",
        str(out),
        "--district",
        B,
    )
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert {r[6] for r in rows[1:]} == {B}
    assert f"{len(rows) - 1} event(s)" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["monthly", "--month", "2026-10", "--out", "r.txt"], 2, "write a .csv or an .xlsx"),
        (["monthly", "--month", "2026-13", "--out", "r.csv"], 2, "'2026-13' is not a month"),
        (
            ["monthly", "--month", "2027-01", "--out", "r.csv", "--as-of", "2026-11-26"],
            1,
            "the period begins after today",
        ),
        (
            ["quarterly", "--year", "2026", "--quarter", "5", "--out", "r.csv"],
            2,
            "a quarter is 1 to 4",
        ),
        (
            ["officers", "--from", "2026-10-31", "--to", "2026-10-01", "--out", "r.csv"],
            1,
            "date_from: 2026-10-31 is after date_to 2026-10-01",
        ),
        (
            ["officers", "--from", "31.10.2026", "--to", "2026-10-01", "--out", "r.csv"],
            2,
            "--from '31.10.2026' is not a date",
        ),
        (
            [
                "officers",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-31",
                "--out",
                "r.csv",
                "--officer",
                "nobody",
            ],
            1,
            "there is no user 'nobody'",
        ),
        (
            ["monthly", "--month", "2026-10", "--out", "r.csv", "--user", "sup_b", "--district", A],
            1,
            "you do not serve 和平区",
        ),
        (
            [
                "log",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-31",
                "--out",
                "r.csv",
                "--user",
                "sup_b",
                "--district",
                A,
            ],
            1,
            "you do not serve 和平区",
        ),
        (["log", "--from", "2020-01-01", "--to", "2026-10-31", "--out", "r.csv"], 1, "at most"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    world: World, db_env: dict[str, str], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "r.csv"
    out.write_text("the previous report")
    args = [str(folder / a) if a in ("r.csv", "r.txt") else a for a in args]
    result = arrears(db_env, "reports", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert out.read_text() == "the previous report"
    assert [p.name for p in folder.iterdir()] == ["r.csv"]
