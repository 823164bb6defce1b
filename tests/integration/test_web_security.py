"""The web app's sign-in and defences through HTTP, on SQLite and PostgreSQL.

Cookies, CSRF, throttling, headers, redirects, escaping and the two languages, as a browser
meets them: every form is read from the page that carries it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from arrears.wiring import App
from cases.models import Case, Employer, Notice
from cases.users import add_user, set_active, set_password
from tests.factories import add_open_cases
from web.app import create_app
from web.security import (
    CONTENT_SECURITY_POLICY,
    SESSION_COOKIE,
    TWILIO_SIGNATURE,
    UndeclaredAccess,
    check_routes,
    route_access,
)

PASSWORD = "correct horse 42"
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin
HTML = {"Accept": "text/html,application/xhtml+xml"}
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    app: App
    client: TestClient
    clock: list[datetime]

    def add(self, username: str, role: str = "officer", **fields: Any) -> None:
        values: dict[str, Any] = {
            "display_name": "张伟",
            "districts": [] if role == "admin" else ["和平区"],
            "password": PASSWORD,
            **fields,
        }
        with self.app.session() as session:
            add_user(session, username=username, role=role, **values)

    def token(self, path: str = "/account/language") -> str:
        """The CSRF token from a form, as a browser holds it (that page shows to anyone)."""
        page = self.client.get(path, headers=HTML)
        found = TOKEN_FIELD.search(page.text)
        assert found, page.text
        return found.group(1)

    def login(self, username: str, password: str = PASSWORD, *, next: str = "") -> httpx.Response:
        form = {"username": username, "password": password, "next": next}
        return self.client.post("/login", data={**form, "csrf_token": self.token()}, headers=HTML)

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(
            path, data={**(data or {}), "csrf_token": self.token()}, headers=HTML
        )

    def travel(self, delta: timedelta) -> None:
        self.clock[0] += delta


def make_site(store: App, base_url: str = "http://testserver", **settings: Any) -> Site:
    app = App(store.settings.model_copy(update=settings))
    clock = [NOW]
    app.now = lambda: clock[0]  # type: ignore[method-assign]
    api = create_app(app)
    return Site(app, TestClient(api, base_url=base_url, follow_redirects=False), clock)


@pytest.fixture
def site(store: App) -> Iterator[Site]:
    s = make_site(store)
    with s.client:
        yield s
    s.app.engine.dispose()


def set_cookie(response: httpx.Response) -> str:
    (cookie,) = [v for v in response.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE)]
    return cookie.lower()


def error_text(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">\s*(.*?)\s*</p>', page.text, re.S)
    assert found, page.text
    return found.group(1)


# --- the session cookie ------------------------------------------------------------------------


def test_signing_in_sets_an_http_only_lax_cookie_not_secure_over_http(site: Site) -> None:
    site.add("zhangwei")
    response = site.login("zhangwei")
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    cookie = set_cookie(response)
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
    assert "secure" not in cookie
    assert site.client.get("/queue", headers=HTML).status_code == 200


def test_the_cookie_is_secure_under_an_https_base_url(store: App) -> None:
    s = make_site(store, "https://testserver", public_base_url="https://arrears.example.gov.cn")
    with s.client:
        s.add("zhangwei")
        response = s.login("zhangwei")
        assert response.status_code == 303
        assert "secure" in set_cookie(response)
        assert s.client.get("/queue", headers=HTML).status_code == 200
    s.app.engine.dispose()


def test_an_idle_session_expires_after_eight_hours(site: Site) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    raw = site.client.cookies[SESSION_COOKIE]
    payload = raw.rsplit(".", 2)[0].encode()
    session = json.loads(base64.b64decode(payload))
    assert set(session) == {"uid", "pw", "lang", "seen", "csrf"}
    assert "argon2" not in json.dumps(session)

    class Signer(TimestampSigner):
        age = 0

        def get_timestamp(self) -> int:
            return int(time.time()) - self.age

    for age, status in ((8 * 3600 - 60, 200), (8 * 3600 + 60, 303)):
        signer = Signer(site.app.secret_key)
        signer.age = age
        site.client.cookies.set(SESSION_COOKIE, signer.sign(payload).decode())
        assert site.client.get("/queue", headers=HTML).status_code == status


def test_a_forged_cookie_is_ignored(site: Site) -> None:
    site.add("zhangwei")
    forged = base64.b64encode(json.dumps({"uid": 1, "pw": "x"}).encode()).decode()
    site.client.cookies.set(
        SESSION_COOKIE, TimestampSigner("not the key" * 4).sign(forged).decode()
    )
    response = site.client.get("/queue", headers=HTML)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=%2Fqueue")


# --- CSRF --------------------------------------------------------------------------------------


def test_a_form_without_the_token_or_with_a_wrong_one_is_refused(site: Site) -> None:
    site.add("zhangwei")
    site.token()  # the browser has a session, as it would
    form = {"username": "zhangwei", "password": PASSWORD}
    for extra in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = site.client.post("/login", data={**form, **extra}, headers=HTML)
        assert response.status_code == 403
        assert "表单已过期" in response.text
    assert site.client.get("/queue", headers=HTML).status_code == 303  # not signed in
    assert site.login("zhangwei").status_code == 303


def test_the_token_may_come_in_a_header(site: Site) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    token = site.token("/queue")
    refused = site.client.post("/logout", headers={"X-CSRF-Token": "wrong"})
    assert refused.status_code == 403
    assert site.client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
    assert site.client.get("/queue", headers=HTML).status_code == 303


def test_a_token_from_another_session_is_refused(site: Site, store: App) -> None:
    other = make_site(store)
    with other.client:
        stolen = other.token()
    site.token()
    response = site.client.post("/logout", data={"csrf_token": stolen}, headers=HTML)
    assert response.status_code == 403


def test_only_the_twilio_webhooks_go_without_the_token(site: Site) -> None:
    entries = route_access(site.client.app)  # type: ignore[arg-type]
    exempt = sorted(e.path for e in entries if TWILIO_SIGNATURE in e.access)
    assert exempt == ["/twilio/inbound", "/twilio/status"]
    assert all(e.csrf_checked for e in entries)
    # Unsigned, the webhook is refused by its own check, not let through.
    assert site.client.post("/twilio/status", data={"MessageSid": "SM1"}).status_code == 403


# --- signing in --------------------------------------------------------------------------------


def test_five_failures_lock_the_user_then_the_window_passes(site: Site) -> None:
    site.add("zhangwei")
    for _ in range(5):
        assert site.login("zhangwei", "wrong password").status_code == 401
        site.travel(timedelta(minutes=1))
    locked = site.login("zhangwei")
    assert locked.status_code == 429
    # Failures at 10:00-10:04 and this refusal at 10:05: the second-oldest ages out at 10:16.
    assert error_text(locked) == "登录失败次数过多，请于2026年11月26日 10:16之后再试。"
    assert site.client.get("/queue", headers=HTML).status_code == 303
    site.travel(timedelta(minutes=11, seconds=1))
    assert site.login("zhangwei").status_code == 303


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(site: Site) -> None:
    site.add("zhangwei")
    unknown = site.login("nobody", "wrong password")
    wrong = site.login("zhangwei", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert error_text(unknown) == error_text(wrong) == "用户名或密码错误。"

    def answer(page: httpx.Response, typed: str) -> str:
        return TOKEN_FIELD.sub("", page.text).replace(f'value="{typed}"', 'value=""')

    assert answer(unknown, "nobody") == answer(wrong, "zhangwei")


def test_a_password_change_or_disabling_signs_the_user_out_everywhere(
    site: Site, store: App
) -> None:
    site.add("zhangwei")
    other = make_site(store)
    with other.client:
        assert site.login("zhangwei").status_code == 303
        assert other.login("zhangwei").status_code == 303
        with site.app.session() as session:
            set_password(session, username="zhangwei", password="a brand new one 9")
        for browser in (site, other):
            assert browser.client.get("/queue", headers=HTML).status_code == 303
        assert site.login("zhangwei", "a brand new one 9").status_code == 303
        assert site.client.get("/queue", headers=HTML).status_code == 200
        with site.app.session() as session:
            set_active(session, username="zhangwei", active=False)
        assert site.client.get("/queue", headers=HTML).status_code == 303
    other.app.engine.dispose()


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("https://evil.example/", "/queue"),
        ("//evil.example/", "/queue"),
        ("/\\evil.example", "/queue"),
        ("/queue?employer=x", "/queue?employer=x"),
    ],
)
def test_next_must_be_a_path_on_this_site(site: Site, target: str, lands: str) -> None:
    site.add("zhangwei")
    response = site.login("zhangwei", next=target)
    assert (response.status_code, response.headers["location"]) == (303, lands)


def test_the_sign_in_page_keeps_only_a_safe_next(site: Site) -> None:
    page = site.client.get("/login", params={"next": "https://evil.example"}, headers=HTML)
    assert 'name="next" value=""' in page.text
    page = site.client.get("/login", params={"next": "/approvals"}, headers=HTML)
    assert 'name="next" value="/approvals"' in page.text


def test_a_page_sends_the_anonymous_to_sign_in_and_a_script_gets_401(site: Site) -> None:
    page = site.client.get("/queue?employer=x", headers=HTML)
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/login?next=%2Fqueue%3Femployer%3Dx",
    )
    data = site.client.get("/queue", headers={"Accept": "application/json"})
    assert (data.status_code, data.json()) == (401, {"detail": "sign in first"})


def test_roles_are_required_where_declared(site: Site) -> None:
    site.add("zhangwei")
    site.add("boss", role="supervisor", display_name="王科长")
    site.add("root", role="admin", display_name="管理员")
    site.login("zhangwei")
    refused = site.client.get("/approvals", headers=HTML)
    assert refused.status_code == 403 and "您的角色无权打开此页面。" in refused.text
    for user in ("boss", "root"):
        site.login(user)
        assert site.client.get("/approvals", headers=HTML).status_code == 200


def test_a_route_that_declares_no_access_stops_the_app(site: Site) -> None:
    api: Any = site.client.app

    @api.get("/forgotten")
    def forgotten() -> str:
        return "case data"

    with pytest.raises(UndeclaredAccess, match=r"GET /forgotten \(forgotten\) declares no access"):
        check_routes(api)


# --- headers -----------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(site: Site) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    responses = {
        "page": site.client.get("/queue", headers=HTML),
        "login": site.client.get("/login", headers=HTML),
        "missing": site.client.get("/no/such/page", headers=HTML),
        "webhook": site.client.post("/twilio/status", data={}),
        "css": site.client.get("/static/app.css"),
    }
    assert responses["missing"].status_code == 404 and "未找到" in responses["missing"].text
    for name, response in responses.items():
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] == "same-origin", name
        assert headers["x-frame-options"] == "DENY", name
        if name != "css":
            assert headers["cache-control"] == "no-store", name
    assert "no-store" not in responses["css"].headers.get("cache-control", "")
    assert responses["css"].headers["content-type"].startswith("text/css")


def test_pages_hold_no_inline_script_or_style(site: Site) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    for path in ("/queue", "/login", "/account/language", "/nowhere"):
        text = site.client.get(path, headers=HTML).text
        assert "<script" not in text and "<style" not in text and "style=" not in text


# --- rendering ---------------------------------------------------------------------------------


def test_employer_data_is_escaped_on_every_page(site: Site) -> None:
    """Names, addresses and typed text come from ledgers and officers: every page escapes them."""
    hostile = '天津<script>alert(1)</script>"公司'
    with site.app.session() as session:
        (case_id,) = add_open_cases(session, [("和平区", 123_456, date(2026, 10, 16))])
        case = session.get(Case, case_id)
        assert case is not None
        employer = session.get(Employer, case.employer_id)
        assert employer is not None
        employer.name = employer.contact_name = employer.address = hostile
        session.add(employer)
        # A served order to pay: its reconsideration window (to 2026-12-09) is on the
        # dashboard's deadline-risk panel, under the employer's name.
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"{case_id}:order_to_pay:letter:2026-10-09",
                step="order_to_pay",
                level=6,
                channel="letter",
                document_type="order_to_pay",
                status="served",
                document_number="津社保征〔2026〕7号",
                issued_on=date(2026, 10, 9),
                served_on=date(2026, 10, 10),
            )
        )
    site.add("zhangwei", display_name="<script>alert('name')</script>")
    site.add("boss", role="supervisor")
    site.login("zhangwei")
    noted = site.post(f"/cases/{case_id}/note", {"note": hostile})
    assert noted.status_code == 303
    requested = site.post(
        f"/cases/{case_id}/write-off",
        {
            "reason": hostile,
            "kind": "bankruptcy_ruling",
            "issued_by": hostile,
            "reference": "（2026）津02破1号",
            "issued_on": "2026-11-01",
        },
    )
    assert requested.status_code == 303
    # The enforcement track shows what officers typed: an asset, an authority, a court.
    guaranteed = site.post(
        f"/cases/{case_id}/guarantee",
        {
            "kind": "mortgage",
            "asset": hostile,
            "appraised_value": "500000",
            "registration_number": "津(2026)和平区不动产证明第0000001号",
            "registered_on": "2026-11-02",
            "registered_with": hostile,
        },
    )
    assert guaranteed.status_code == 303
    challenged = site.post(
        f"/cases/{case_id}/challenge",
        {
            "kind": "lawsuit",
            "filed_on": "2026-11-20",
            "body": hostile,
            "reference": "（2026）津0101行初1号",
            "against": hostile,
        },
    )
    assert challenged.status_code == 303
    pages = {path: site.client.get(path, headers=HTML) for path in ("/queue", f"/cases/{case_id}")}
    site.post("/logout")
    site.login("boss")
    for path in ("/approvals", "/log", "/dashboard"):
        pages[path] = site.client.get(path, headers=HTML)
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert "<script>" not in page.text, path
        assert "天津&lt;script&gt;alert(1)&lt;/script&gt;&#34;公司" in page.text, path
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in pages["/queue"].text
    enforcement = re.search(
        r'<section class="panel enforcement">(.*?)</section>', pages[f"/cases/{case_id}"].text, re.S
    )
    assert enforcement is not None
    assert enforcement.group(1).count("天津&lt;script&gt;alert(1)&lt;/script&gt;&#34;公司") == 4


def test_the_sign_in_page_in_chinese_and_in_english(site: Site) -> None:
    zh = site.client.get("/login", headers=HTML)
    assert zh.status_code == 200
    assert '<html lang="zh-CN">' in zh.text
    for text in ("<title>登录 · 社保欠费征缴</title>", "用户名", "密码", ">English</button>"):
        assert text in zh.text
    switched = site.post("/account/language", {"language": "en", "next": "/login"})
    assert (switched.status_code, switched.headers["location"]) == (303, "/login")
    en = site.client.get("/login", headers=HTML)
    assert '<html lang="en">' in en.text
    for text in ("<title>Sign in · Arrears collection</title>", "User name", ">中文</button>"):
        assert text in en.text
    assert "登录" not in en.text


def test_a_users_language_is_kept_on_the_user(site: Site, store: App) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    page = site.client.get("/queue", headers=HTML)
    assert "征缴专管员" in page.text and "和平区" in page.text and "退出登录" in page.text
    assert 'href="/queue" aria-current="page"' in page.text and "/approvals" not in page.text
    site.post("/account/language", {"language": "en", "next": "/queue"})
    other = make_site(store)  # another browser, which never chose a language
    with other.client:
        other.login("zhangwei")
        page = other.client.get("/queue", headers=HTML)
        assert "Collection officer" in page.text and "Sign out" in page.text
    other.app.engine.dispose()
    refused = site.post("/account/language", {"language": "fr"})
    assert refused.status_code == 400


def test_signing_out_ends_the_session(site: Site) -> None:
    site.add("zhangwei")
    site.login("zhangwei")
    response = site.post("/logout")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert site.client.get("/queue", headers=HTML).status_code == 303
    assert '<html lang="zh-CN">' in site.client.get("/login", headers=HTML).text
