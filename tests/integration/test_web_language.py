"""The case page in the reader's language: the timeline and the refusals, not the English log.

The domain writes each event's message in English (the log's record) and each refusal in English
(``str(exc)``); the page describes both from their data in Chinese or in English.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases.models import CaseEvent
from notifications.escalation import NightSummary
from tests.factories import add_open_cases
from tests.integration.test_web_security import HTML, Site, error_text, make_site

A = "和平区"
TODAY = date(2026, 11, 26)  # the sites' clock: 10:00 in Tianjin


@pytest.fixture
def site(store: App) -> Iterator[Site]:
    s = make_site(store)
    with s.client:
        s.add("wangfang", districts=[A])
        s.add("liqiang", role="supervisor", districts=[A])
        yield s
    s.app.engine.dispose()


def timeline(page_text: str) -> str:
    """The timeline section of a case page, as a reader sees it (entities decoded)."""
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page_text, re.S)
    assert found, page_text
    text = re.sub(r"<[^>]+>", " ", found.group(1))
    return re.sub(r"\s+", " ", html.unescape(text))


def worked_case(site: Site) -> int:
    """A case with a night's step, a note, a payment, a promise and a dispute on it."""
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [(A, 3_000_000, date(2026, 9, 16))])
    summary = NightSummary(TODAY)
    site.app.escalation().plan(TODAY, summary, A)
    assert sum(summary.steps.values()) == 1
    site.login("wangfang")
    for action, form in (
        ("note", {"note": "已电话联系财务"}),
        ("payment", {"amount": "1000", "paid_on": "2026-11-20", "reference": "B20261120"}),
        ("promise", {"amount": "5000", "due_on": "2026-12-10"}),
        ("dispute", {"reason": "单位称九月已缴"}),
    ):
        done = site.post(f"/cases/{case_id}/{action}", form)
        assert done.status_code == 303, (action, done.text)
    return case_id


def stored_messages(site: Site, case_id: int) -> list[str]:
    with site.app.session() as session:
        return list(
            session.execute(
                select(col(CaseEvent.message)).where(col(CaseEvent.case_id) == case_id)
            ).scalars()
        )


def test_the_timeline_is_chinese_and_none_of_the_english_log_shows(site: Site) -> None:
    case_id = worked_case(site)
    page = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert page.status_code == 200
    shown = timeline(page.text)
    assert "登记单位承诺缴费：2026年12月10日前缴纳 ¥5,000.00" in shown
    assert (
        "在办 → 承诺缴费。理由：单位承诺2026年12月10日前缴纳 ¥5,000.00，在此之前暂停催缴" in shown
    )
    assert "2026年11月20日缴款 ¥1,000.00（银行流水号 B20261120）" in shown
    assert "备注：已电话联系财务" in shown
    assert "登记单位对欠费提出异议。理由：单位称九月已缴" in shown
    assert "进入第 1 级：短信催缴" in shown  # the night's step, by the policy's title
    assert "夜间自动催缴" in shown  # who took it
    assert "信函 · 待发出 社会保险费催缴通知书" in shown  # no mobile: the step goes by letter
    for message in stored_messages(site, case_id):
        assert message not in shown
    assert not re.search(r"\b(promise|payment|noted|disputes|rung|sms_reminder)\b", shown)


def test_the_same_timeline_in_english(site: Site) -> None:
    case_id = worked_case(site)
    switched = site.post("/account/language", {"language": "en", "next": f"/cases/{case_id}"})
    assert switched.status_code == 303
    shown = timeline(site.client.get(f"/cases/{case_id}", headers=HTML).text)
    assert "Recorded the employer's promise to pay ¥5,000.00 by 10 Dec 2026" in shown
    assert "Payment of ¥1,000.00 on 20 Nov 2026 (bank serial B20261120)" in shown
    assert "Note: 已电话联系财务" in shown
    assert "Recorded that the employer disputes the arrears: 单位称九月已缴" in shown
    assert "Escalated to step 1: 短信催缴" in shown
    assert "Nightly run" in shown and "Letter · Planned" in shown
    # Chinese only in what was typed and in the policy's and the letters' own titles.
    for chinese in ("短信催缴", "社会保险费催缴通知书", "已电话联系财务", "单位称九月已缴"):
        shown = shown.replace(chinese, "")
    assert not re.search(r"[\u4e00-\u9fff]", shown), shown


def test_a_refused_promise_names_the_field_by_its_label_in_chinese(site: Site) -> None:
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2026, 10, 16))])
    site.login("wangfang")
    too_much = site.post(f"/cases/{case_id}/promise", {"amount": "5000", "due_on": "2026-12-10"})
    assert too_much.status_code == 422
    said = html.unescape(error_text(too_much))
    assert said.startswith("金额（元）：¥5,000.00 超过截至2026年11月26日的欠费 ¥1,0")
    assert "amount" not in said and "owed" not in said
    too_late = site.post(f"/cases/{case_id}/promise", {"amount": "500", "due_on": "2027-06-01"})
    assert html.unescape(error_text(too_late)) == (
        "承诺缴费日期：2027年6月1日距今超过 90 天：最晚为2027年2月24日"
    )
    not_a_date = site.post(f"/cases/{case_id}/promise", {"amount": "500", "due_on": "明天"})
    assert html.unescape(error_text(not_a_date)).startswith("承诺缴费日期：'明天' 不是日期")


def test_a_role_refused_is_said_in_chinese_on_the_403_page(site: Site) -> None:
    site.login("wangfang")
    page = site.client.get("/approvals", headers=HTML)
    assert page.status_code == 403
    assert "只有科长/主任可以打开此页面" in page.text
    assert "only a" not in page.text


def test_a_queue_filter_refused_is_said_in_chinese(site: Site) -> None:
    site.login("wangfang")
    page = site.client.get("/queue", params={"status": "closed_paid"}, headers=HTML)
    assert page.status_code == 422
    assert (
        html.unescape(error_text(page)) == "“已结案（已缴清）”的案件已结案：待办队列只列在办案件。"
    )
