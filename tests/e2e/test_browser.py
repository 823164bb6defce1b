"""End to end in a real headless Chromium (Debian's, driven by Playwright) against the app served
by uvicorn on loopback: an officer signs in, takes the next case and records a promise; a
supervisor approves a forced transfer. Screenshots of the queue, the case page and the dashboard
are saved in ``ARREARS_SCREENSHOT_DIR`` (default ``var/screenshots``) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from sqlmodel import col

from arrears.settings import REPO_ROOT
from arrears.wiring import App
from cases.models import ApprovalRequest, EmployerStatement, Notice, PromiseToPay
from cases.priorities import refresh_priorities
from cases.users import add_user
from tests.factories import add_open_cases
from web.app import create_app

PASSWORD = "correct horse 42"
SCREENSHOTS = Path(os.environ.get("ARREARS_SCREENSHOT_DIR", REPO_ROOT / "var" / "screenshots"))


def chromium_path() -> str:
    found = os.environ.get("ARREARS_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is not installed: run `bash scripts/setup.sh` (it installs Debian's)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def served(store: App) -> Iterator[tuple[str, App, dict[str, int]]]:
    """The app on a free loopback port, with two officers' districts' cases and a supervisor."""
    today = store.today()
    with store.session() as session:
        for name, role in (("wangfang", "officer"), ("liqiang", "supervisor")):
            add_user(
                session,
                username=name,
                display_name={"wangfang": "王芳", "liqiang": "李强"}[name],
                role=role,
                districts=["和平区"],
                password=PASSWORD,
            )
        big, small, enforced = add_open_cases(
            session,
            [
                ("和平区", 8_765_432, today - timedelta(days=40)),
                ("和平区", 120_000, today - timedelta(days=10)),
                ("和平区", 2_500_000, today - timedelta(days=200)),
            ],
        )
        # The enforced case stands where the law lets a supervisor decide a forced transfer:
        # order to pay and written demand served, both deadlines passed, no statement made.
        for step, level, issued in (("order_to_pay", 6, 80), ("enforcement_demand", 7, 50)):
            session.add(
                Notice(
                    case_id=enforced,
                    business_key=f"e2e:{step}",
                    step=step,
                    level=level,
                    channel="letter",
                    document_type=step,
                    status="served",
                    document_number=f"津和社〔2026〕第{level:06d}号",
                    issued_on=today - timedelta(days=issued),
                    served_on=today - timedelta(days=issued - 2),
                )
            )
        session.add(
            EmployerStatement(
                case_id=enforced,
                kind="none_made",
                received_on=today - timedelta(days=20),
                summary="催告书期限内未提出陈述、申辩",
                recorded_by="wangfang",
            )
        )
        request = ApprovalRequest(
            case_id=enforced,
            step="forced_transfer",
            requested_on=today,
            reason="逾期未缴且账户余额充足",
        )
        session.add(request)
    with store.session() as session:
        refresh_priorities(session, as_of=today)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, {"big": big, "small": small, "enforced": enforced}
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form[action='/login'] button[type=submit]")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.e2e
def test_an_officer_takes_the_next_case_and_records_a_promise(
    browser: Browser, served: tuple[str, App, dict[str, int]]
) -> None:
    base, app, cases = served
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, base, "wangfang")
    expect(page).to_have_url(f"{base}/queue")
    expect(page.locator("h1")).to_have_text("案件队列")
    shot(page, "queue")
    page.click("#take-next")
    # The case with a task or deadline would come first; here the largest debt does.
    expect(page).to_have_url(f"{base}/cases/{cases['big']}")
    expect(page.locator(".owed .total")).to_contain_text("¥")
    page.click("text=登记承诺缴费")
    page.fill("#promise-amount", "30,000.00")
    due = app.today() + timedelta(days=14)
    page.fill("#promise-due", due.isoformat())
    page.click("form[action$='/promise'] button[type=submit]")
    expect(page.locator("p.done")).to_have_text("已登记承诺缴费。")
    expect(page.locator(".status")).to_have_text("承诺缴费")
    shot(page, "case")
    assert not errors, errors  # nothing blocked by the Content-Security-Policy, no script error
    with app.session() as session:
        promise = session.execute(
            select(PromiseToPay).where(col(PromiseToPay.case_id) == cases["big"])
        ).scalar_one()
        assert (promise.amount_fen, promise.due_on, promise.recorded_by) == (
            3_000_000,
            due,
            "wangfang",
        )


@pytest.mark.e2e
def test_a_supervisor_approves_a_forced_transfer(
    browser: Browser, served: tuple[str, App, dict[str, int]]
) -> None:
    base, app, cases = served
    page = browser.new_page(locale="zh-CN")
    sign_in(page, base, "liqiang")
    page.goto(f"{base}/approvals")
    card = page.locator(".approval").filter(has_text="强制划拨")  # the step by its title
    expect(card).to_contain_text("逾期未缴且账户余额充足")
    card.locator("textarea").fill("经审核，同意强制划拨")
    card.locator("button[value=approve]").click()
    expect(page.locator("p.done")).to_have_text("已批准。")
    expect(page.locator(".approval")).to_have_count(0)
    with app.session() as session:
        request = session.execute(
            select(ApprovalRequest).where(col(ApprovalRequest.case_id) == cases["enforced"])
        ).scalar_one()
        assert (request.status, request.decided_by, request.decided_on) == (
            "approved",
            "liqiang",
            app.today(),
        )
        assert request.decision_reason == "经审核，同意强制划拨"
    page.goto(f"{base}/dashboard")
    expect(page.locator("figure.chart svg")).to_have_count(4)
    shot(page, "dashboard")
