"""The enforcement track on the case page, through the browser, on SQLite and PostgreSQL.

For every form: what a good post records (in the store and on the page that comes back), and a
bad post refused on the case page naming the field, with nothing written. Deferrals and deciding
a fine are a supervisor's: an officer neither sees their forms nor gets past them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

from arrears.wiring import App
from cases import actions
from cases.access import Actor
from cases.deadlines import court_window
from cases.models import (
    CaseEvent,
    CourtApplication,
    Deferral,
    Fine,
    Guarantee,
    Instalment,
    LegalChallenge,
    Notice,
    Payment,
    PaymentAgreement,
    TransferExecution,
    User,
)
from tests.factories import add_open_cases
from tests.integration.test_web_security import HTML, Site, error_text, make_site

A = "和平区"
TODAY = date(2026, 11, 26)  # the site's business date
HOSTILE = '天津<script>alert(1)</script>"公司'
ESCAPED = "天津&lt;script&gt;alert(1)&lt;/script&gt;&#34;公司"


@pytest.fixture
def site(store: App) -> Iterator[Site]:
    s = make_site(store)
    s.app.today = lambda: TODAY  # type: ignore[method-assign]
    with s.client:
        s.add("wangfang", districts=[A])
        s.add("liqiang", role="supervisor", districts=[A])
        s.add("zhaomin", role="supervisor", districts=[A])
        yield s
    s.app.engine.dispose()


@pytest.fixture
def case_id(site: Site) -> int:
    """10,000.00 due 2026-09-15, open in 和平区."""
    with site.app.session() as session:
        (opened,) = add_open_cases(session, [(A, 1_000_000, date(2026, 9, 16))])
    return opened


def actor(site: Site, username: str) -> Actor:
    with site.app.session() as session:
        user = session.execute(select(User).where(col(User.username) == username)).scalar_one()
        return Actor.of(user)


def page(site: Site, case_id: int) -> str:
    response = site.client.get(f"/cases/{case_id}", headers=HTML)
    assert response.status_code == 200
    return response.text


def done(site: Site, case_id: int, name: str, form: dict[str, str]) -> str:
    """Post a form that must work; the page it lands on, which confirms it."""
    response = site.post(f"/cases/{case_id}/{name}", form)
    assert response.status_code == 303, error_text(response)
    assert response.headers["location"] == f"/cases/{case_id}?done={name}"
    landed = site.client.get(response.headers["location"], headers=HTML)
    assert landed.status_code == 200
    return landed.text


def refused(site: Site, case_id: int, name: str, form: dict[str, str]) -> httpx.Response:
    """Post a form that must be refused: the case page again, the form open with the reason,
    and not a line added to the case's history."""
    before = count(site, CaseEvent)
    response = site.post(f"/cases/{case_id}/{name}", form)
    assert response.status_code == 422, response.text
    assert count(site, CaseEvent) == before
    summary = re.search(
        rf'<details open>\s*<summary>([^<]+)</summary>\s*<form method="post" '
        rf'action="/cases/{case_id}/{name}"',
        response.text,
    )
    assert summary, f"the {name} form is not the one open"
    return response


def count(site: Site, model: type[SQLModel]) -> int:
    with site.app.session() as session:
        return len(list(session.execute(select(model)).scalars()))


def form_of(text: str, case_id: int, name: str) -> bool:
    return f'action="/cases/{case_id}/{name}"' in text


def letter(
    session: Session,
    case_id: int,
    step: str,
    document_type: str,
    issued_on: date,
    number: str | None,
    **fields: Any,
) -> None:
    session.add(
        Notice(
            case_id=case_id,
            business_key=f"test:{case_id}:{document_type}:{issued_on}",
            step=step,
            level=0,
            channel="letter",
            document_type=document_type,
            status="served" if fields.get("served_on") else "printed",
            document_number=number,
            issued_on=issued_on,
            **fields,
        )
    )


# --- collateral and the deferred-payment agreement ----------------------------------------------


def test_a_guarantee_is_recorded_and_released(site: Site, case_id: int) -> None:
    site.login("wangfang")
    first = page(site, case_id)
    assert form_of(first, case_id, "guarantee")
    assert not form_of(first, case_id, "release-guarantee")  # nothing to release yet
    form = {
        "kind": "mortgage",
        "asset": "",
        "appraised_value": "800,000.00",
        "registration_number": "津(2026)和平区不动产证明第0012345号",
        "registered_on": "2026-11-18",
        "registered_with": "天津市不动产登记中心",
    }
    bad = refused(site, case_id, "guarantee", form)
    assert error_text(bad).startswith("抵押/质押财产（按合同所载）：必填")
    assert 'value="800,000.00"' in bad.text  # what was typed stays
    assert count(site, Guarantee) == 0

    text = done(site, case_id, "guarantee", {**form, "asset": "和平区南京路88号厂房"})
    assert "担保已登记。" in text
    with site.app.session() as session:
        (guarantee,) = session.execute(select(Guarantee)).scalars()
        assert (guarantee.kind, guarantee.appraised_value_fen, guarantee.status) == (
            "mortgage",
            80_000_000,
            "active",
        )
        assert guarantee.recorded_by == "wangfang"
    table = re.search(r"<h3>抵押/质押</h3>\s*<table.*?</table>", text, re.S)
    assert table is not None
    row = table.group(0)
    for shown in ("抵押", "和平区南京路88号厂房", "¥800,000.00", "2026年11月18日", "有效"):
        assert shown in row, shown
    assert "天津市不动产登记中心" in row

    assert form_of(text, case_id, "release-guarantee")
    bad = refused(site, case_id, "release-guarantee", {"guarantee_id": str(guarantee.id)})
    assert error_text(bad).startswith("理由：必填")
    with site.app.session() as session:
        kept = session.get(Guarantee, guarantee.id)
        assert kept is not None and kept.status == "active"
    text = done(
        site,
        case_id,
        "release-guarantee",
        {"guarantee_id": str(guarantee.id), "reason": "不动产登记已注销"},
    )
    assert "担保已解除。" in text
    with site.app.session() as session:
        released = session.get(Guarantee, guarantee.id)
        assert released is not None and released.status == "released"
    assert "已解除" in text and not form_of(text, case_id, "release-guarantee")


def test_an_agreement_is_signed_with_its_instalments(site: Site, case_id: int) -> None:
    with site.app.session() as session:
        secured = actions.record_guarantee(
            session=session,
            actor=actor(site, "wangfang"),
            case_id=case_id,
            today=TODAY,
            kind="pledge",
            asset="应收账款",
            appraised_value=Decimal("20000.00"),
            registration_number="ZD2026-000123",
            registered_on=date(2026, 11, 19),
        )
        guarantee_id = secured.id
    site.login("wangfang")
    assert not form_of(page(site, case_id), case_id, "agreement")  # no collateral demand yet
    with site.app.session() as session:
        letter(session, case_id, "collateral_demand", "collateral_demand", date(2026, 11, 10), None)
    first = page(site, case_id)
    assert form_of(first, case_id, "agreement")
    assert 'name="due_12"' in first and 'name="amount_12"' in first and 'name="due_13"' not in first

    form = {
        "signed_on": "2026-11-20",
        "guarantee_id": str(guarantee_id),
        "due_1": "2026-12-15",
        "amount_1": "4000.00",
        "due_3": "2027-01-15",
        "amount_3": "",
    }
    bad = refused(site, case_id, "agreement", form)
    assert error_text(bad) == "分期：第3行：缴款日期和金额须同时填写"
    assert 'value="2027-01-15"' in bad.text
    short = refused(site, case_id, "agreement", {**form, "amount_3": "1000.00"})
    assert error_text(short).startswith("分期：")
    assert "¥5,000.00" in error_text(short)  # the schedule's total, short of the principal
    assert count(site, PaymentAgreement) == 0 and count(site, Instalment) == 0

    # Row 2 left empty is skipped: two instalments.
    text = done(site, case_id, "agreement", {**form, "amount_3": "6000.00"})
    assert "延期缴费协议已登记。" in text
    with site.app.session() as session:
        (agreement,) = session.execute(select(PaymentAgreement)).scalars()
        assert (agreement.signed_on, agreement.total_fen, agreement.guarantee_id) == (
            date(2026, 11, 20),
            1_000_000,
            guarantee_id,
        )
        schedule = session.execute(select(Instalment).order_by(col(Instalment.seq))).scalars()
        assert [(i.seq, i.due_on, i.amount_fen) for i in schedule] == [
            (1, date(2026, 12, 15), 400_000),
            (2, date(2027, 1, 15), 600_000),
        ]
    assert "2026年11月20日签订，共计¥10,000.00。" in text
    assert "履行中" in text
    table = re.search(r"<th class=\"num\">期次</th>.*?</table>", text, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)
    assert len(rows) == 2
    assert "2026年12月15日" in rows[0] and "¥4,000.00" in rows[0] and "未到期" in rows[0]
    assert "2027年1月15日" in rows[1] and "¥6,000.00" in rows[1]
    assert not form_of(text, case_id, "agreement")  # one agreement runs at a time

    # The guarantee now secures a running agreement: releasing it is refused, naming it.
    bad = refused(
        site, case_id, "release-guarantee", {"guarantee_id": str(guarantee_id), "reason": "还清"}
    )
    assert error_text(bad).startswith("担保：")
    with site.app.session() as session:
        kept = session.get(Guarantee, guarantee_id)
        assert kept is not None and kept.status == "active"


def test_instalments_paid_show_as_paid(site: Site, case_id: int) -> None:
    with site.app.session() as session:
        letter(session, case_id, "collateral_demand", "collateral_demand", date(2026, 11, 10), None)
    with site.app.session() as session:
        actions.sign_agreement(
            session=session,
            actor=actor(site, "wangfang"),
            case_id=case_id,
            today=date(2026, 11, 20),
            signed_on=date(2026, 11, 20),
            instalments=[
                (date(2026, 11, 25), Decimal("4000.00")),
                (date(2027, 1, 15), Decimal("6000.00")),
            ],
            policy=site.app.policy,
        )
    with site.app.session() as session:
        actions.record_payment(
            session=session,
            actor=actor(site, "wangfang"),
            case_id=case_id,
            today=TODAY,
            amount=Decimal("4000.00"),
            paid_on=date(2026, 11, 24),
            reference="BOC-20261124-7",
            policy=site.app.policy,
        )
    site.login("wangfang")
    text = page(site, case_id)
    table = re.search(r"<th class=\"num\">期次</th>.*?</table>", text, re.S)
    assert table is not None
    first, second = re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)
    assert "已缴" in first and '¥4,000.00</td><td class="num">¥4,000.00' in first
    assert "2026年11月24日" in first
    assert "未到期" in second and "¥0.00" in second


# --- legal challenges ---------------------------------------------------------------------------


def test_a_challenge_is_recorded_and_decided(site: Site, case_id: int) -> None:
    site.login("wangfang")
    first = page(site, case_id)
    assert form_of(first, case_id, "challenge")
    assert not form_of(first, case_id, "challenge-outcome")  # none open
    form = {
        "kind": "reconsideration",
        "filed_on": "2026-11-27",
        "body": "天津市人民政府",
        "reference": "津政复〔2026〕101号",
        "against": "强制划拨决定",
    }
    bad = refused(site, case_id, "challenge", form)
    assert error_text(bad).startswith("提出日期：")
    assert count(site, LegalChallenge) == 0

    text = done(site, case_id, "challenge", {**form, "filed_on": "2026-11-20"})
    assert "行政复议/行政诉讼已登记：强制执行待其结果。" in text
    with site.app.session() as session:
        (challenge,) = session.execute(select(LegalChallenge)).scalars()
        assert (challenge.kind, challenge.filed_on, challenge.outcome) == (
            "reconsideration",
            date(2026, 11, 20),
            None,
        )
    listed = re.search(r"<h3>未结的行政复议、行政诉讼</h3>\s*<ul>(.*?)</ul>", text, re.S)
    assert listed is not None
    assert "2026年11月20日向天津市人民政府提起行政复议 津政复〔2026〕101号" in listed.group(1)
    assert "强制划拨决定" in listed.group(1)

    assert form_of(text, case_id, "challenge-outcome")
    outcome = {
        "challenge_id": str(challenge.id),
        "outcome": "upheld",
        "decided_on": "2026-11-19",
        "note": "维持原决定",
    }
    bad = refused(site, case_id, "challenge-outcome", outcome)
    assert error_text(bad).startswith("作出日期：")
    with site.app.session() as session:
        still = session.get(LegalChallenge, challenge.id)
        assert still is not None and still.outcome is None

    text = done(site, case_id, "challenge-outcome", {**outcome, "decided_on": "2026-11-25"})
    assert "结果已登记。" in text
    with site.app.session() as session:
        decided = session.get(LegalChallenge, challenge.id)
        assert decided is not None
        assert (decided.outcome, decided.decided_on) == ("upheld", date(2026, 11, 25))
    assert "未结的行政复议、行政诉讼" not in text
    assert not form_of(text, case_id, "challenge-outcome")


# --- deferrals: a supervisor's ------------------------------------------------------------------


def test_an_officer_may_not_grant_end_or_revoke_a_deferral(site: Site, case_id: int) -> None:
    site.login("wangfang")
    assert not form_of(page(site, case_id), case_id, "deferral")
    form = {
        "starts_on": "2026-11-01",
        "ends_on": "2026-11-10",
        "approval_reference": "津人社缓〔2026〕3号",
        "reason": "厂房火灾停产",
    }
    assert site.post(f"/cases/{case_id}/deferral", form).status_code == 403
    assert count(site, Deferral) == 0
    with site.app.session() as session:
        granted = actions.grant_deferral(
            session=session,
            actor=actor(site, "liqiang"),
            case_id=case_id,
            today=TODAY,
            starts_on=date(2026, 11, 1),
            ends_on=date(2026, 11, 30),
            approval_reference="津人社缓〔2026〕3号",
            reason="厂房火灾停产",
        )
        deferral_id = str(granted.id)
    text = page(site, case_id)
    assert "津人社缓〔2026〕3号" in text  # the officer sees the deferral…
    assert not form_of(text, case_id, "end-deferral")  # …but not the forms
    assert not form_of(text, case_id, "revoke-deferral")
    ending = {"deferral_id": deferral_id, "ended_on": "2026-11-20", "reason": "已复产"}
    assert site.post(f"/cases/{case_id}/end-deferral", ending).status_code == 403
    revoking = {"deferral_id": deferral_id, "reason": "误批"}
    assert site.post(f"/cases/{case_id}/revoke-deferral", revoking).status_code == 403
    with site.app.session() as session:
        (kept,) = session.execute(select(Deferral)).scalars()
        assert (kept.status, kept.ends_on) == ("active", date(2026, 11, 30))


def test_a_supervisor_grants_ends_and_revokes_deferrals(site: Site, case_id: int) -> None:
    site.login("liqiang")
    first = page(site, case_id)
    assert form_of(first, case_id, "deferral")
    assert not form_of(first, case_id, "end-deferral")  # none in force
    form = {
        "starts_on": "2026-11-01",
        "ends_on": "2027-11-01",
        "approval_reference": "津人社缓〔2026〕3号",
        "reason": "厂房火灾停产",
    }
    bad = refused(site, case_id, "deferral", form)
    assert error_text(bad).startswith("至（最后一日）：")
    assert count(site, Deferral) == 0

    text = done(site, case_id, "deferral", {**form, "ends_on": "2026-11-30"})
    assert "缓缴已批准。" in text
    with site.app.session() as session:
        (granted,) = session.execute(select(Deferral)).scalars()
        assert (granted.starts_on, granted.ends_on, granted.status) == (
            date(2026, 11, 1),
            date(2026, 11, 30),
            "active",
        )
    listed = re.search(r"<h3>因不可抗力缓缴</h3>\s*<ul>(.*?)</ul>", text, re.S)
    assert listed is not None
    assert (
        "2026年11月1日至2026年11月30日，批准文号 津人社缓〔2026〕3号：厂房火灾停产"
        in listed.group(1)
    )
    assert "有效" in listed.group(1)

    ending = {"deferral_id": str(granted.id), "ended_on": "2026-11-30", "reason": "已复产"}
    bad = refused(site, case_id, "end-deferral", ending)
    assert error_text(bad).startswith("缓缴最后一日：")
    with site.app.session() as session:
        kept = session.get(Deferral, granted.id)
        assert kept is not None and (kept.status, kept.ends_on) == ("active", date(2026, 11, 30))
    text = done(site, case_id, "end-deferral", {**ending, "ended_on": "2026-11-20"})
    assert "缓缴已提前终止。" in text
    with site.app.session() as session:
        ended = session.get(Deferral, granted.id)
        assert ended is not None and (ended.status, ended.ends_on) == ("ended", date(2026, 11, 20))
    assert "提前终止" in text and not form_of(text, case_id, "end-deferral")

    again = {
        **form,
        "starts_on": "2026-11-21",
        "ends_on": "2026-12-31",
        "approval_reference": "津人社缓〔2026〕9号",
    }
    text = done(site, case_id, "deferral", again)
    with site.app.session() as session:
        second = session.execute(
            select(Deferral).where(col(Deferral.approval_reference) == "津人社缓〔2026〕9号")
        ).scalar_one()
    bad = refused(site, case_id, "revoke-deferral", {"deferral_id": str(second.id), "reason": " "})
    assert error_text(bad).startswith("理由：必填")
    with site.app.session() as session:
        kept = session.get(Deferral, second.id)
        assert kept is not None and kept.status == "active"
    text = done(site, case_id, "revoke-deferral", {"deferral_id": str(second.id), "reason": "误批"})
    assert "缓缴已撤销。" in text
    with site.app.session() as session:
        revoked = session.get(Deferral, second.id)
        assert revoked is not None and revoked.status == "revoked"
    assert "已撤销" in text


# --- the bank's forced transfer -----------------------------------------------------------------


def test_a_forced_transfer_result_is_recorded_and_applied(site: Site, case_id: int) -> None:
    site.login("wangfang")
    assert not form_of(page(site, case_id), case_id, "transfer")  # nothing was ordered
    issued = date(2026, 11, 20)
    with site.app.session() as session:
        letter(
            session,
            case_id,
            "forced_transfer",
            "forced_transfer_decision",
            issued,
            "津和社保划〔2026〕第000011号",
        )
        letter(
            session,
            case_id,
            "forced_transfer",
            "bank_transfer_notice",
            issued,
            "津和社保划〔2026〕第000012号",
        )
    ordered = page(site, case_id)
    assert form_of(ordered, case_id, "transfer")
    # 10,000.00 due 2026-09-15 and 66 days of late fee at 0.05% by the notice's date: 10,330.00.
    assert (
        "银行对2026年11月20日协助划拨通知书津和社保划〔2026〕第000012号的回复；"
        "该通知书要求划拨¥10,330.00，全额划拨即为此数。"
    ) in ordered
    form = {
        "result": "full",
        "amount": "5000.00",
        "executed_on": "2026-11-24",
        "reference": "ICBC-TR-0001",
        "bank_name": "中国银行天津和平支行",
        "account_number": "6216 6012 3456 7890",
        "note": "",
    }
    bad = refused(site, case_id, "transfer", form)
    assert error_text(bad).startswith("划拨金额（元）：¥5,000.00：全额划拨应为")
    assert count(site, TransferExecution) == 0 and count(site, Payment) == 0

    text = done(site, case_id, "transfer", {**form, "result": "partial"})
    assert "强制划拨结果已登记。" in text
    with site.app.session() as session:
        (execution,) = session.execute(select(TransferExecution)).scalars()
        (payment,) = session.execute(select(Payment)).scalars()
        assert (execution.result, execution.amount_fen, execution.payment_id) == (
            "partial",
            500_000,
            payment.id,
        )
        assert (payment.amount_fen, payment.paid_on) == (500_000, date(2026, 11, 24))
        requested = execution.requested_fen
    table = re.search(r"<h3>强制划拨</h3>\s*<table.*?</table>", text, re.S)
    assert table is not None
    row = table.group(0)
    assert "部分划拨" in row and "¥5,000.00" in row
    assert requested == 1_033_000 and "¥10,330.00" in row
    assert "中国银行天津和平支行，账号尾号 7890" in row and "ICBC-TR-0001" in row
    timeline = text.split("<h2>办理记录</h2>")[-1]
    assert "依津和社保划〔2026〕第000012号强制划拨：部分划拨" in timeline
    assert "实际划拨¥5,000.00，于2026年11月24日自中国银行天津和平支行尾号7890的账户划拨" in timeline


def test_nothing_transferred_needs_no_amount(site: Site, case_id: int) -> None:
    issued = date(2026, 11, 20)
    with site.app.session() as session:
        letter(session, case_id, "forced_transfer", "forced_transfer_decision", issued, "划1")
        letter(session, case_id, "forced_transfer", "bank_transfer_notice", issued, "划2")
    site.login("wangfang")
    form = {
        "result": "none",
        "amount": "",
        "executed_on": "2026-11-24",
        "reference": "ICBC-TR-0002",
        "bank_name": "中国银行天津和平支行",
        "account_number": "6216601234567890",
        "note": "账户余额为零",
    }
    assert "未划拨" in done(site, case_id, "transfer", form)
    with site.app.session() as session:
        (execution,) = session.execute(select(TransferExecution)).scalars()
        assert (execution.result, execution.amount_fen, execution.payment_id) == ("none", 0, None)


# --- fines --------------------------------------------------------------------------------------


def serve_order(site: Site, case_id: int) -> None:
    with site.app.session() as session:
        letter(
            session,
            case_id,
            "order_to_pay",
            "order_to_pay",
            date(2026, 10, 30),
            "津和社保限缴〔2026〕第000001号",
            served_on=date(2026, 11, 2),
            service_method="in_person",
            deadline_on=date(2026, 11, 16),
        )


def test_an_officer_proposes_a_fine_and_another_supervisor_decides(
    site: Site, case_id: int
) -> None:
    site.login("wangfang")
    assert not form_of(page(site, case_id), case_id, "fine")  # no order to pay served
    serve_order(site, case_id)
    assert form_of(page(site, case_id), case_id, "fine")
    form = {"multiple": "4", "reason": "逾期仍不缴纳，且拒不配合"}
    bad = refused(site, case_id, "fine", form)
    assert error_text(bad) == "罚款倍数（一至三倍）：4：罚款为欠缴数额的一倍以上三倍以下"
    word = refused(site, case_id, "fine", {**form, "multiple": "一倍半"})
    assert error_text(word).startswith("罚款倍数（一至三倍）：")
    assert count(site, Fine) == 0

    text = done(site, case_id, "fine", {**form, "multiple": "1.5"})
    assert "罚款已提请科长/主任审批。" in text
    with site.app.session() as session:
        (fine,) = session.execute(select(Fine)).scalars()
        assert (fine.status, fine.multiple_pct, fine.amount_fen, fine.proposed_by) == (
            "proposed",
            150,
            1_500_000,
            "wangfang",
        )
    table = re.search(r"<h3>罚款</h3>\s*<table.*?</table>", text, re.S)
    assert table is not None
    assert "1.50" in table.group(0) and "¥15,000.00" in table.group(0)
    assert "待审批" in table.group(0)
    assert not form_of(text, case_id, "fine")  # one proposal waits at a time
    assert not form_of(text, case_id, "decide-fine")  # an officer does not decide
    verdict = {"fine_id": str(fine.id), "verdict": "impose", "reason": "情节严重"}
    assert site.post(f"/cases/{case_id}/decide-fine", verdict).status_code == 403

    site.post("/logout")
    site.login("liqiang")
    assert form_of(page(site, case_id), case_id, "decide-fine")
    bad = refused(site, case_id, "decide-fine", {**verdict, "reason": ""})
    assert error_text(bad).startswith("审批意见：必填")
    with site.app.session() as session:
        waiting = session.get(Fine, fine.id)
        assert waiting is not None and waiting.status == "proposed"
        assert session.execute(select(Notice).where(col(Notice.step) == "fine")).first() is None

    text = done(site, case_id, "decide-fine", verdict)
    assert "罚款已审批。" in text
    with site.app.session() as session:
        imposed = session.get(Fine, fine.id)
        assert imposed is not None
        assert (imposed.status, imposed.decided_by, imposed.decided_on) == (
            "imposed",
            "liqiang",
            TODAY,
        )
        assert imposed.notice_id is not None  # its penalty decision, planned as a letter
    assert "已决定处罚" in text and not form_of(text, case_id, "decide-fine")
    timeline = text.split("<h2>办理记录</h2>")[-1]
    assert (
        "提请罚款¥15,000.00（欠缴数额¥10,000.00的1.5倍）。理由：逾期仍不缴纳，且拒不配合"
        in timeline
    )
    assert "决定罚款¥15,000.00。理由：情节严重" in timeline


def test_the_supervisor_who_proposed_a_fine_may_not_decide_it(site: Site, case_id: int) -> None:
    serve_order(site, case_id)
    site.login("liqiang")
    done(site, case_id, "fine", {"multiple": "2", "reason": "拒不缴纳"})
    with site.app.session() as session:
        (fine,) = session.execute(select(Fine)).scalars()
    verdict = {"fine_id": str(fine.id), "verdict": "reject", "reason": "证据不足"}
    bad = refused(site, case_id, "decide-fine", verdict)
    assert error_text(bad) == "罚款：该罚款由您本人提出：须由另一位科长决定"
    site.post("/logout")
    site.login("zhaomin")
    text = done(site, case_id, "decide-fine", verdict)
    with site.app.session() as session:
        rejected = session.get(Fine, fine.id)
        assert rejected is not None and (rejected.status, rejected.notice_id) == ("rejected", None)
    assert "未批准" in text


# --- the court application ----------------------------------------------------------------------


def test_a_court_application_is_filed_and_decided(site: Site, case_id: int) -> None:
    served = date(2026, 3, 20)
    opens_on, closes_on = court_window(served, site.app.policy.calendar)
    assert opens_on <= date(2026, 11, 20) <= closes_on  # the window stands open today
    with site.app.session() as session:
        letter(
            session,
            case_id,
            "order_to_pay",
            "order_to_pay",
            date(2026, 3, 10),
            "津和社保限缴〔2026〕第000002号",
            served_on=served,
            service_method="in_person",
        )
    site.login("wangfang")
    assert not form_of(page(site, case_id), case_id, "court-filing")  # no application letter
    with site.app.session() as session:
        letter(
            session,
            case_id,
            "court_application",
            "court_application",
            date(2026, 11, 18),
            "津和社保执申〔2026〕第000003号",
        )
    assert form_of(page(site, case_id), case_id, "court-filing")
    form = {
        "filed_on": "2026-11-17",
        "court": "天津市和平区人民法院",
        "court_reference": "（2026）津0101行审88号",
    }
    bad = refused(site, case_id, "court-filing", form)
    assert error_text(bad).startswith("提出日期：")
    with site.app.session() as session:
        assert (
            session.execute(
                select(CourtApplication).where(col(CourtApplication.filed_on).is_not(None))
            ).first()
            is None
        )

    text = done(site, case_id, "court-filing", {**form, "filed_on": "2026-11-20"})
    assert "申请法院强制执行已登记。" in text
    with site.app.session() as session:
        (application,) = session.execute(select(CourtApplication)).scalars()
        assert (application.filed_on, application.court, application.window_closes_on) == (
            date(2026, 11, 20),
            "天津市和平区人民法院",
            closes_on,
        )
    table = re.search(r"<h3>申请法院强制执行</h3>\s*<table.*?</table>", text, re.S)
    assert table is not None
    row = table.group(0)
    assert "2026年11月20日" in row and "天津市和平区人民法院" in row
    assert "（2026）津0101行审88号" in row and "待裁定" in row
    closes = f"{closes_on.year}年{closes_on.month}月{closes_on.day}日"
    assert closes in row
    assert not form_of(text, case_id, "court-filing")  # filed: not twice

    decision = {
        "application_id": str(application.id),
        "outcome": "refused",
        "decided_on": "2026-11-25",
        "note": "",
    }
    bad = refused(site, case_id, "court-outcome", decision)
    assert error_text(bad).startswith("备注：必填")
    with site.app.session() as session:
        undecided = session.get(CourtApplication, application.id)
        assert undecided is not None and undecided.outcome is None

    text = done(site, case_id, "court-outcome", {**decision, "outcome": "accepted"})
    assert "法院裁定已登记。" in text
    with site.app.session() as session:
        accepted = session.get(CourtApplication, application.id)
        assert accepted is not None
        assert (accepted.outcome, accepted.decided_on) == ("accepted", date(2026, 11, 25))
    assert "法院已受理 · 2026年11月25日" in text
    assert form_of(text, case_id, "court-outcome")  # accepted: it may still be enforced


# --- what officers typed, escaped ---------------------------------------------------------------


def test_what_officers_typed_on_the_track_is_escaped(site: Site, case_id: int) -> None:
    serve_order(site, case_id)
    issued = date(2026, 11, 20)
    with site.app.session() as session:
        letter(session, case_id, "forced_transfer", "forced_transfer_decision", issued, "划3")
        letter(session, case_id, "forced_transfer", "bank_transfer_notice", issued, "划4")
    site.login("wangfang")
    posts = {
        "guarantee": {
            "kind": "pledge",
            "asset": HOSTILE,
            "appraised_value": "1000",
            "registration_number": "ZD-1",
            "registered_on": "2026-11-18",
            "registered_with": HOSTILE,
        },
        "challenge": {
            "kind": "lawsuit",
            "filed_on": "2026-11-20",
            "body": HOSTILE,
            "reference": "（2026）津0101行初1号",
            "against": HOSTILE,
        },
        "transfer": {
            "result": "none",
            "amount": "0",
            "executed_on": "2026-11-24",
            "reference": "TR-HOSTILE",
            "bank_name": HOSTILE,
            "account_number": "6216601234567890",
        },
        "fine": {"multiple": "1", "reason": HOSTILE},
    }
    for name, form in posts.items():
        done(site, case_id, name, form)
    with site.app.session() as session:
        actions.grant_deferral(
            session=session,
            actor=actor(site, "liqiang"),
            case_id=case_id,
            today=TODAY,
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 31),
            approval_reference=HOSTILE,
            reason=HOSTILE,
        )
    text = page(site, case_id)
    assert "<script>" not in text
    enforcement = re.search(r'<section class="panel enforcement">(.*?)</section>', text, re.S)
    assert enforcement is not None
    # Asset, authority, body, decision challenged, bank, deferral approval and reason, fine reason.
    assert enforcement.group(1).count(ESCAPED) >= 8
    # A refused post shows what was typed back, escaped too.
    bad = refused(site, case_id, "guarantee", {**posts["guarantee"], "appraised_value": "x"})
    assert "<script>" not in bad.text and ESCAPED in bad.text


def test_timeline_events_are_written_once_per_action(site: Site, case_id: int) -> None:
    """Each form writes its one event: a refused post none."""
    site.login("wangfang")
    form = {
        "kind": "reconsideration",
        "filed_on": "2026-11-20",
        "body": "天津市人民政府",
        "reference": "",
    }
    refused(site, case_id, "challenge", form)
    done(site, case_id, "challenge", {**form, "reference": "津政复〔2026〕7号"})
    with site.app.session() as session:
        kinds = session.execute(
            select(col(CaseEvent.kind)).where(col(CaseEvent.case_id) == case_id)
        ).scalars()
        assert [k for k in kinds if k.startswith("challenge")] == ["challenge_filed"]


def test_a_deadline_in_a_year_no_calendar_knows_is_a_refusal_naming_the_year(
    site: Site, case_id: int
) -> None:
    # The order served in October 2026: its court window ends in 2027, which the shipped
    # calendars do not know yet. The officer gets the reason on the case page, not an error.
    with site.app.session() as session:
        letter(
            session,
            case_id,
            "order_to_pay",
            "order_to_pay",
            date(2026, 10, 8),
            "津和社保限缴〔2026〕第000012号",
            served_on=date(2026, 10, 9),
            service_method="in_person",
        )
        letter(
            session,
            case_id,
            "court_application",
            "court_application",
            date(2026, 11, 18),
            "津和社保执申〔2026〕第000013号",
        )
    site.login("wangfang")
    form = {
        "filed_on": "2026-11-20",
        "court": "天津市和平区人民法院",
        "court_reference": "（2026）津0101行审99号",
    }
    bad = refused(site, case_id, "court-filing", form)
    assert "2027" in error_text(bad) and "holidays.toml" in error_text(bad)
