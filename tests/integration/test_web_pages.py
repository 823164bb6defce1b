"""The officers' and supervisors' pages through HTTP: what a user sees after each step.

Sign-in, CSRF and access are tested in test_web_security and test_web_access; here the pages do
their work: a refused action keeps what was typed, the log filters and exports, approvals and
reassignment go through, the queue says when nothing is left.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from arrears.wiring import App
from cases.casework import add_events, event_row
from cases.direct import APPLICATION_NAME
from cases.logcheck import verify
from cases.models import ApprovalRequest, Case, CaseEvent, Employer, PromiseToPay, User
from tests.factories import add_open_cases
from tests.integration.test_web_security import HTML, Site, error_text, make_site
from web import report_pages, work_pages

A = "和平区"
TODAY = date(2026, 11, 26)


@pytest.fixture
def site(store: App) -> Iterator[Site]:
    s = make_site(store)
    with s.client:
        s.add("wangfang", districts=[A])
        s.add("zhaolei", districts=[A])
        s.add("liqiang", role="supervisor", districts=[A])
        yield s
    s.app.engine.dispose()


def cases(site: Site, *specs: tuple[str, int, date]) -> list[int]:
    with site.app.session() as session:
        return add_open_cases(session, list(specs))


def user_id(site: Site, username: str) -> int:
    with site.app.session() as session:
        found = session.execute(
            select(col(User.id)).where(col(User.username) == username)
        ).scalar_one()
        assert found is not None
        return int(found)


def test_a_refused_promise_says_why_and_keeps_what_was_typed(site: Site) -> None:
    (case_id,) = cases(site, (A, 100_000, date(2026, 10, 16)))
    site.login("wangfang")
    page = site.post(
        f"/cases/{case_id}/promise", {"amount": "1,000,000.00", "due_on": "2026-12-10"}
    )
    assert page.status_code == 422
    assert error_text(page).startswith("金额（元）：")  # more than is owed: the field is named
    assert 'value="1,000,000.00"' in page.text and 'value="2026-12-10"' in page.text
    assert page.text.count('role="alert"') == 1  # above the promise form, no other
    forms = page.text.count("<form ")
    assert forms > 10 and page.text.count('name="csrf_token"') == forms  # each carries the token
    assert re.search(r"<details open>\s*<summary>登记承诺缴费", page.text)
    not_a_date = site.post(f"/cases/{case_id}/promise", {"amount": "500", "due_on": "明天"})
    assert not_a_date.status_code == 422
    assert error_text(not_a_date).startswith("承诺缴费日期：")
    with site.app.session() as session:
        assert session.execute(select(PromiseToPay)).first() is None  # nothing half-written


def test_take_next_opens_the_case_and_says_when_none_is_left(site: Site) -> None:
    (case_id,) = cases(site, (A, 100_000, date(2026, 10, 16)))
    site.login("wangfang")
    taken = site.post("/queue/take-next")
    assert taken.status_code == 303 and taken.headers["location"] == f"/cases/{case_id}"
    again = site.post("/queue/take-next")
    assert again.headers["location"] == "/queue?none_left=1"
    page = site.client.get(again.headers["location"], headers=HTML)
    assert "您所辖区县暂无待领取的案件。" in page.text
    mine = site.client.get("/queue?scope=mine", headers=HTML)
    assert f'href="/cases/{case_id}"' in mine.text
    assert site.post(f"/cases/{case_id}/release").status_code == 303
    twice = site.post(f"/cases/{case_id}/release")  # another tab, still showing the button
    assert twice.status_code == 422
    assert "已在待办队列中" in error_text(twice)


def direct_connections(site: Site) -> int:
    """The app's connections to PostgreSQL that run statements on the event loop."""
    with site.app.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        )


def test_a_case_taken_is_claimed_and_logged_in_its_chain(site: Site) -> None:
    """On PostgreSQL the claim is taken on the event loop (one statement that also chains the
    claim's event); on SQLite in the thread pool. Either way the log stays verifiable."""
    first, second = cases(site, (A, 100_000, date(2026, 10, 16)), (A, 90_000, date(2026, 10, 16)))
    with site.app.session() as session:
        note = event_row(
            case_id=first, kind="note", message="before", on_date=TODAY, actor="wangfang"
        )
        add_events(session, [note])
    site.login("wangfang")
    taken = [site.post("/queue/take-next").headers["location"] for _ in range(2)]
    assert sorted(taken) == sorted([f"/cases/{first}", f"/cases/{second}"])
    with site.app.session() as session:
        claims = session.execute(
            select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.actor)
            .where(CaseEvent.kind == "case_claimed")
            .order_by(CaseEvent.case_id)
        ).all()
        holders = set(
            session.execute(
                select(Case.officer_id).where(col(Case.id).in_([first, second]))
            ).scalars()
        )
        report = verify(session)
    assert sorted(claims) == sorted([(first, 2, "wangfang"), (second, 1, "wangfang")])
    assert holders == {user_id(site, "wangfang")}
    assert report.ok and report.events == 3
    if site.app.engine.dialect.name == "postgresql":
        assert direct_connections(site) >= 1


def test_an_officer_of_two_districts_is_handed_the_top_case_of_either(site: Site) -> None:
    """Serving several districts, an officer takes from both, never from a third (on PostgreSQL
    on the event loop, the districts bound as one array); the order is test_worklist's."""
    b, elsewhere = "河西区", "河东区"
    site.add("sunli", districts=[A, b])
    in_b, not_served, in_a = cases(
        site,
        (b, 300_000, date(2026, 10, 16)),
        (elsewhere, 900_000, date(2026, 10, 16)),
        (A, 100_000, date(2026, 10, 16)),
    )
    site.login("sunli")
    taken = [site.post("/queue/take-next").headers["location"] for _ in range(3)]
    assert sorted(taken[:2]) == sorted([f"/cases/{in_b}", f"/cases/{in_a}"])
    assert taken[2] == "/queue?none_left=1"
    with site.app.session() as session:
        left = session.execute(select(Case.officer_id).where(Case.id == not_served))
        assert left.scalar_one() is None
    if site.app.engine.dialect.name == "postgresql":
        assert direct_connections(site) >= 1


def test_take_next_works_when_the_app_is_served_without_its_lifespan(store: App) -> None:
    """A server that does not run the app's start-up leaves the direct store closed: taking a
    case goes through the thread pool instead, with the same result."""
    s = make_site(store)  # its client not used as a context manager: no lifespan
    s.add("wangfang", districts=[A])
    (case_id,) = cases(s, (A, 100_000, date(2026, 10, 16)))
    s.login("wangfang")
    assert s.post("/queue/take-next").headers["location"] == f"/cases/{case_id}"
    with s.app.session() as session:
        assert verify(session).ok
        holder = session.execute(select(Case.officer_id).where(Case.id == case_id)).scalar_one()
    assert holder == user_id(s, "wangfang")
    if store.engine.dialect.name == "postgresql":
        assert direct_connections(s) == 0
    s.app.engine.dispose()


def test_a_connect_timeout_in_the_database_url_is_kept_from_the_server(store: App) -> None:
    """libpq's ``connect_timeout`` in ``ARREARS_DATABASE_URL`` is a connection option: the
    event loop's pool takes it as its own, rather than sending the server a setting it refuses."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the event loop's pool is PostgreSQL's only")
    url = store.settings.effective_database_url + "?connect_timeout=5"
    s = make_site(store, database_url=url)
    with s.client:
        s.add("wangfang", districts=[A])
        (case_id,) = cases(s, (A, 100_000, date(2026, 10, 16)))
        s.login("wangfang")
        assert s.post("/queue/take-next").headers["location"] == f"/cases/{case_id}"
        assert direct_connections(s) >= 1
    s.app.engine.dispose()


@pytest.mark.parametrize(
    ("path", "module", "work"),
    [
        ("/dashboard", work_pages, "dashboard"),
        ("/log", work_pages, "log_page"),
        ("/log.csv?outcome=note", work_pages, "log_csv"),
        ("/log.xlsx?outcome=note", work_pages, "log_sheet"),
        ("/reports?report=monthly&month=2026-10", report_pages, "_report"),
        ("/reports/export?report=monthly&month=2026-10&format=csv", report_pages, "_report"),
    ],
)
def test_office_wide_pages_leave_the_officers_threads_free(
    site: Site, monkeypatch: pytest.MonkeyPatch, path: str, module: ModuleType, work: str
) -> None:
    """The dashboard, reports, log and their files run in a lane of their own: two supervisors'
    still being made do not hold up a case page (the pages' lane has two threads a worker)."""
    (case_id,) = cases(site, (A, 100_000, date(2026, 10, 16)))
    site.login("liqiang")
    reading, release = threading.Semaphore(0), threading.Event()
    making = getattr(module, work)

    def slowly(*args: Any, **kwargs: Any) -> Any:
        reading.release()
        assert release.wait(30), "never released"
        return making(*args, **kwargs)

    monkeypatch.setattr(module, work, slowly)
    with ThreadPoolExecutor(3) as pool:
        try:
            made = [pool.submit(site.client.get, path) for _ in range(2)]
            for _ in made:
                assert reading.acquire(timeout=30), f"{path} never started"
            page = pool.submit(site.client.get, f"/cases/{case_id}", headers=HTML)
            assert page.result(timeout=20).status_code == 200
            assert not any(m.done() for m in made)  # still being made meanwhile
        finally:
            release.set()
        assert [m.result(timeout=30).status_code for m in made] == [200, 200]


def test_a_supervisor_rejects_with_a_reason_and_reassigns(site: Site) -> None:
    (case_id,) = cases(site, (A, 100_000, date(2026, 10, 16)))
    with site.app.session() as session:
        request = ApprovalRequest(
            case_id=case_id, step="write_off", requested_on=date(2026, 11, 20), reason="已注销"
        )
        session.add(request)
        session.flush()
        request_id = request.id
    site.login("liqiang")
    form = {"case_id": str(case_id), "verdict": "reject"}
    refused = site.post(f"/approvals/{request_id}", {**form, "reason": " "})
    assert refused.status_code == 422 and error_text(refused).startswith("审批意见：")
    done = site.post(f"/approvals/{request_id}", {**form, "reason": "注销证明不全"})
    assert done.status_code == 303
    assert "暂无待审批事项。" in site.client.get("/approvals", headers=HTML).text
    moved = site.post(
        "/cases/reassign", {"case_id": str(case_id), "officer_id": str(user_id(site, "zhaolei"))}
    )
    assert moved.status_code == 303
    with site.app.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.officer_id == user_id(site, "zhaolei")
        request_row = session.get(ApprovalRequest, request_id)
        assert request_row is not None
        assert (request_row.status, request_row.decision_reason) == ("rejected", "注销证明不全")


def test_the_log_filters_and_exports_what_it_shows(site: Site) -> None:
    first, second = cases(site, (A, 100_000, date(2026, 10, 16)), (A, 200_000, date(2026, 10, 1)))
    with site.app.session() as session:  # a name from a ledger that a spreadsheet would run
        case = session.get(Case, first)
        assert case is not None
        employer = session.get(Employer, case.employer_id)
        assert employer is not None
        employer.name = '=HYPERLINK("http://example.invalid")'
        session.add(employer)
    site.login("wangfang")
    assert site.post(f"/cases/{first}/note", {"note": "已电话联系财务"}).status_code == 303
    site.post("/logout")
    site.login("zhaolei")
    assert site.post(f"/cases/{second}/note", {"note": "单位称下周缴费"}).status_code == 303
    site.post("/logout")
    site.login("liqiang")
    page = site.client.get("/log", params={"officer": "zhaolei"}, headers=HTML)
    assert page.status_code == 200
    assert "单位称下周缴费" in page.text and "已电话联系财务" not in page.text
    bad = site.client.get("/log", params={"date_from": "2026-12-01", "date_to": "2026-11-01"})
    assert bad.status_code == 422 and error_text(bad).startswith("起：")
    export = site.client.get("/log.csv", params={"outcome": "note"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    with site.app.session() as session:
        notes = (
            session.execute(select(CaseEvent).where(col(CaseEvent.kind) == "note")).scalars().all()
        )
    assert len(rows) == len(notes) == 2
    assert {r["actor"] for r in rows} == {"wangfang", "zhaolei"}
    by_actor = {r["actor"]: r for r in rows}
    assert by_actor["wangfang"]["employer_name"] == '\'=HYPERLINK("http://example.invalid")'
    assert by_actor["zhaolei"]["district"] == A


def test_the_log_page_says_what_the_last_nights_log_check_found(site: Site) -> None:
    from cases.models import EscalationRun

    site.login("liqiang")
    page = site.client.get("/log", headers=HTML)
    assert "尚未经夜间运行校验" in page.text
    with site.app.session() as session:
        for night, log in (
            (date(2026, 11, 1), {"ok": True, "chains": 40, "events": 311}),
            (
                date(2026, 11, 2),
                {"ok": False, "chains": 40, "events": 318, "first_break": "case 7, position 3"},
            ),
        ):
            session.add(
                EscalationRun(as_of=night, status="completed", worker="w", counts={"log": log})
            )
        session.commit()
    page = site.client.get("/log", headers=HTML)
    assert "发现日志被改动：case 7, position 3" in page.text
    assert 'role="alert"' in page.text
