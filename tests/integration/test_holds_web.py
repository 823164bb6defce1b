"""Holds on the web pages: the case's total due without the deferred days' late fee, and a
write-off proposed on a document that the supervisor sees on the approvals page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from arrears.wiring import App
from cases import actions
from cases.access import Actor
from cases.models import ApprovalRequest, User, WriteOffDocument
from tests.factories import add_open_cases
from tests.integration.test_web_security import HTML, Site, error_text, make_site

A = "和平区"
TODAY = date(2026, 11, 26)  # the site's clock


@pytest.fixture
def site(store: App) -> Iterator[Site]:
    s = make_site(store)
    with s.client:
        s.add("wangfang", districts=[A])
        s.add("liqiang", role="supervisor", districts=[A])
        yield s
    s.app.engine.dispose()


def supervisor(site: Site) -> Actor:
    with site.app.session() as session:
        user = session.execute(select(User).where(User.username == "liqiang")).scalar_one()
        return Actor.of(user)


def test_the_case_page_leaves_out_the_late_fee_of_deferred_days(site: Site) -> None:
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2026, 10, 16))])
    site.login("wangfang")
    # 1,000.00 due 2026-10-15; on 2026-11-26, 16 (Oct) + 26 (Nov) = 42 days:
    # 0.0005 x 100000 x 42 = 2100 fen, 1,021.00 in all.
    before = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert '<p class="total">¥1,021.00</p>' in before.text
    with site.app.session() as session:
        actions.grant_deferral(
            session=session,
            actor=supervisor(site),
            case_id=case_id,
            today=TODAY,
            starts_on=date(2026, 11, 1),
            ends_on=date(2026, 11, 10),
            approval_reference="津人社缓〔2026〕3号",
            reason="厂房火灾停产",
        )
    # 2026-11-01..11-10 deferred: 32 days, 1600 fen: 1,016.00, of which 16.00 late fee.
    after = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert '<p class="total">¥1,016.00</p>' in after.text
    assert "滞纳金 ¥16.00" in after.text
    assert "批准因不可抗力缓缴" in after.text  # the timeline, in Chinese


def test_a_write_off_is_proposed_on_a_document_the_supervisor_sees(site: Site) -> None:
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2026, 10, 16))])
    site.login("wangfang")
    page = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert 'name="issued_by"' in page.text and "破产裁定书" in page.text
    form = {
        "reason": "法院已裁定破产",
        "kind": "bankruptcy_ruling",
        "issued_by": "",
        "reference": "（2026）津02破12号",
        "issued_on": "2026-11-20",
    }
    refused = site.post(f"/cases/{case_id}/write-off", form)
    assert refused.status_code == 422
    assert error_text(refused) == "出具机关（法院、登记机关）：必填：请按文书所载填写"
    assert 'value="（2026）津02破12号"' in refused.text  # what was typed stays
    assert re.search(r"<details open>\s*<summary>提请核销", refused.text)
    future = site.post(
        f"/cases/{case_id}/write-off",
        {**form, "issued_by": "天津市第二中级人民法院", "issued_on": "2026-11-27"},
    )
    assert future.status_code == 422 and error_text(future).startswith("出具日期：")
    with site.app.session() as session:
        assert session.execute(select(ApprovalRequest)).first() is None
    done = site.post(f"/cases/{case_id}/write-off", {**form, "issued_by": "天津市第二中级人民法院"})
    assert done.status_code == 303
    with site.app.session() as session:
        (document,) = session.execute(select(WriteOffDocument)).scalars()
        assert (document.kind, document.issued_on) == ("bankruptcy_ruling", date(2026, 11, 20))
    site.post("/logout")
    site.login("liqiang")
    approvals = site.client.get("/approvals", headers=HTML)
    assert approvals.status_code == 200
    listed = re.search(r'<ul class="documents">(.*?)</ul>', approvals.text, re.S)
    assert listed is not None
    assert "破产裁定书 · （2026）津02破12号 · 天津市第二中级人民法院" in listed.group(1)
    timeline = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert "天津市第二中级人民法院破产裁定书 （2026）津02破12号" in timeline.text


def test_a_revoked_decision_reads_on_the_case_page(site: Site) -> None:
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2026, 10, 16))])
    with site.app.session() as session:
        filed = actions.record_challenge(
            session=session,
            actor=supervisor(site),
            case_id=case_id,
            today=TODAY,
            kind="reconsideration",
            filed_on=date(2026, 11, 2),
            body="天津市人民政府",
            reference="津政复〔2026〕88号",
        )
        assert filed.id is not None
        actions.record_challenge_outcome(
            session=session,
            actor=supervisor(site),
            case_id=case_id,
            today=TODAY,
            challenge_id=filed.id,
            outcome="revoked",
            decided_on=date(2026, 11, 25),
            note="撤销划拨决定",
        )
    site.login("wangfang")
    page = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert (
        "2026年11月2日向天津市人民政府提起行政复议 津政复〔2026〕88号：强制执行待其结果"
        in page.text
    )
    assert (
        "行政复议 津政复〔2026〕88号 于2026年11月25日作出结论：决定被撤销。撤销划拨决定"
        in page.text
    )
    assert "决定被撤销，由专管员复核本案" in page.text
