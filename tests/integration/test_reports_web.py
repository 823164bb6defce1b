"""The Reports page: the tables in the reader's language, the downloads, and who sees what."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update

from arrears.wiring import App
from cases.dashboard import set_target
from cases.models import User
from cases.users import hash_password
from tests.integration.reports_world import A, B, actor, build
from tests.integration.test_web_security import HTML, PASSWORD, Site, make_site

TODAY = date(2026, 11, 26)


@pytest.fixture
def site(db_env: dict[str, str], store: App, tmp_path: Path) -> Iterator[Site]:
    world = build(db_env, store, tmp_path)
    with store.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
        set_target(
            session,
            actor=actor(world.app, "admin"),
            district=A,
            year=2026,
            quarter=4,
            recovery=Decimal("10000.00"),
            cases_closed=4,
        )
    s = make_site(store)
    s.app.today = lambda: TODAY  # type: ignore[method-assign]
    with s.client:
        yield s
    s.app.engine.dispose()


def table(page: str) -> str:
    """The report's table, without the form above it (whose district list names districts)."""
    return page[page.index('id="report"') :]


def as_user(site: Site, username: str) -> None:
    site.client.cookies.clear()
    assert site.login(username).status_code == 303


def test_the_monthly_table_for_a_supervisor_of_each_district(site: Site) -> None:
    as_user(site, "sup_a")
    page = site.client.get("/reports?report=monthly&month=2026-10", headers=HTML)
    assert page.status_code == 200
    assert '<a href="/reports"' in page.text  # in the menu
    shown = table(page.text)
    # The figures of reports_world by hand (test_reports): principal 6,000.00, late fee 188.00,
    # recovered 6,010.00; the step columns by the policy's titles.
    assert "月末欠缴本金" in shown and "电话催缴" in shown and "尚未采取措施" not in shown
    assert "¥6,000.00" in shown and "¥188.00" in shown and "¥6,010.00" in shown
    assert A in shown and B not in shown and "¥13,000.00" not in shown
    assert 'href="/reports/export?report=monthly&amp;month=2026-10' in page.text

    as_user(site, "sup_b")
    shown = table(site.client.get("/reports?report=monthly&month=2026-10", headers=HTML).text)
    assert B in shown and "¥13,000.00" in shown and "¥348.00" in shown
    assert A not in shown and "¥6,000.00" not in shown


def test_a_district_not_served_is_refused(site: Site) -> None:
    as_user(site, "sup_b")
    for path in (
        f"/reports?report=monthly&month=2026-10&district={A}",
        f"/reports/export?report=officers&district={A}&format=csv",
        f"/reports/export?report=log&date_from=2026-10-01&date_to=2026-10-31&district={A}"
        "&format=xlsx",
    ):
        answer = site.client.get(path, headers=HTML)
        assert answer.status_code == 403, path
        assert "¥6,000.00" not in answer.text and "officer_a" not in answer.text


def test_officers_may_not_open_the_reports(site: Site) -> None:
    as_user(site, "officer_a")
    assert site.client.get("/reports", headers=HTML).status_code == 403
    assert site.client.get("/reports/export?format=csv", headers=HTML).status_code == 403
    page = site.client.get("/queue", headers=HTML)
    assert '<a href="/reports"' not in page.text


def test_the_downloads_are_the_files_of_the_command(site: Site) -> None:
    as_user(site, "sup_a")
    got = site.client.get("/reports/export?report=monthly&month=2026-10&format=csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"] == 'attachment; filename="monthly-2026-10.csv"'
    assert got.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert lines[2][:10] == [A, "1", "1", "1", "2", "6000.00", "188.00", "6188.00", "6010.00", "1"]
    assert len(lines) == 3

    got = site.client.get("/reports/export?report=quarterly&year=2026&quarter=4&format=xlsx")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == 'attachment; filename="quarterly-2026Q4.xlsx"'
    rows = list(
        openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0].iter_rows(values_only=True)
    )
    # 和平区 Q4 to 11-26: 12,228.00 of 10,000.00 (122.28 %), 3 of 4 cases (75.00 %).
    assert rows[2] == (A, 12228, 10000, 122.28, "是", 3, 4, 75, "否", "否")

    got = site.client.get(
        "/reports/export?report=log&date_from=2026-10-01&date_to=2026-10-31&format=xlsx"
    )
    assert got.status_code == 200
    rows = list(
        openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[0][0] == "event_id" and {r[6] for r in rows[1:]} == {A}
    assert sum(1 for r in rows[1:] if r[9] == "officer_a") == 10


def test_the_quarterly_and_officers_tables(site: Site) -> None:
    as_user(site, "admin")
    shown = table(
        site.client.get("/reports?report=quarterly&year=2026&quarter=4", headers=HTML).text
    )
    assert "122.28 %" in shown and "75.00 %" in shown and "未完成" in shown
    assert "¥12,228.00" in shown and "¥10,000.00" in shown

    as_user(site, "sup_a")
    page = site.client.get(
        "/reports?report=officers&date_from=2026-10-01&date_to=2026-10-31", headers=HTML
    )
    shown = table(page.text)
    assert "申请强制措施" in shown and "领取案件" in shown
    # officer_a in 和平区: 2 calls, 1 promise, 1 payment, 1 note, 1 interview, 1 letter served,
    # 1 step requested, 0 write-offs, 0 decisions, 1 case taken.
    row = shown[shown.index("(officer_a)") : shown.index("</tr>", shown.index("(officer_a)"))]
    cells = [c.split("<")[0] for c in row.split('<td class="num">')[1:]]
    assert cells == ["2", "1", "1", "1", "1", "1", "1", "0", "0", "1"]
    assert "officer_b" not in shown


def test_a_period_that_cannot_be_read_is_said_in_the_readers_language(site: Site) -> None:
    as_user(site, "sup_a")
    page = site.client.get("/reports?report=monthly&month=2026-13", headers=HTML)
    assert page.status_code == 422
    assert "月份：&#39;2026-13&#39; 不是月份（YYYY-MM）" in page.text
    page = site.client.get(
        "/reports?report=officers&date_from=2026-11-01&date_to=2026-10-01", headers=HTML
    )
    assert page.status_code == 422
    got = site.client.get("/reports/export?report=monthly&month=2026-10&format=pdf")
    assert got.status_code == 422 and "csv or xlsx" in got.text
    got = site.client.get("/reports/export?report=monthly&month=2027-01&format=csv")
    assert got.status_code == 422 and "begins after today" in got.text


def test_the_log_report_links_to_the_log(site: Site) -> None:
    as_user(site, "sup_a")
    page = site.client.get(
        "/reports?report=log&date_from=2026-10-01&date_to=2026-10-31", headers=HTML
    )
    assert page.status_code == 200
    assert 'href="/log?date_from=2026-10-01&amp;date_to=2026-10-31"' in page.text
    assert "report=log" in page.text and "format=xlsx" in page.text


def test_the_log_page_exports_a_workbook_with_its_filters(site: Site) -> None:
    as_user(site, "sup_a")
    query = "date_from=2026-10-01&date_to=2026-10-31&officer=officer_a"
    page = site.client.get(f"/log?{query}", headers=HTML)
    assert f'href="/log.xlsx?{query.replace("&", "&amp;")}"' in page.text
    book = site.client.get(f"/log.xlsx?{query}")
    assert book.status_code == 200
    rows = list(
        openpyxl.load_workbook(io.BytesIO(book.content)).worksheets[0].iter_rows(values_only=True)
    )
    text = site.client.get(f"/log.csv?{query}").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    # officer_a's ten October events on cases of 和平区 (reports_world.ACTIVITY), in both files.
    assert len(rows) == len(lines) == 11
    assert [r[0] for r in rows[1:]] == [int(line[0]) for line in lines[1:]]
    assert {r[9] for r in rows[1:]} == {"officer_a"}
    assert site.client.get("/log.xlsx?date_from=2026-13-01").status_code == 422
