"""The access matrix, built from the app's route table: every route, as every kind of user.

Users: anonymous, an officer of district A (和平区), an officer of district B (南开区), a
supervisor of A and an admin; every object named in a path (case, approval request, letter)
belongs to district A. What each user must get follows from what the route declares:

- a public route answers everyone;
- anyone else is sent to sign in (303 to /login);
- a role the route does not admit gets 403 (before anything is looked up);
- a user outside district A gets 404 for anything of district A: its existence is not disclosed;
- a role a case action does not admit gets 403 (after the case is found);
- everyone else gets past the checks (200, 303, or 422 when the sample input is refused later).

A route without a sample request below fails the test: a route added later is in the matrix
before it ships.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases.access import Role
from cases.models import ApprovalRequest, Case, Employer, Notice, User
from tests.factories import add_open_cases
from tests.integration.test_web_security import HTML, Site, make_site
from web.case_actions import ACTIONS
from web.security import PUBLIC, SIGNED_IN, TWILIO_SIGNATURE, route_access

A, B = "和平区", "南开区"
USERS = ("anonymous", "officer_a", "officer_b", "supervisor_a", "admin")
ALLOWED = {200, 303, 422}


@dataclass(frozen=True)
class Sample:
    path: str
    form: dict[str, str] = field(default_factory=dict)
    in_district_a: bool = False  # names an object of district A
    roles: tuple[Role, ...] | None = None  # narrower than the route declares (case actions)


@dataclass
class World:
    site: Site
    case_id: int
    request_id: int
    notice_id: int
    officer_a_id: int


def samples(w: World) -> dict[tuple[str, str], list[Sample]]:
    case = f"/cases/{w.case_id}"
    return {
        ("GET", "/"): [Sample("/")],
        ("GET", "/login"): [Sample("/login")],
        ("POST", "/login"): [Sample("/login", {"username": "nobody", "password": "x"})],
        ("POST", "/logout"): [Sample("/logout")],
        ("GET", "/account/language"): [Sample("/account/language")],
        ("POST", "/account/language"): [Sample("/account/language", {"language": "en"})],
        ("GET", "/queue"): [Sample("/queue")],
        ("POST", "/queue/take-next"): [Sample("/queue/take-next")],
        ("GET", "/approvals"): [Sample("/approvals")],
        ("POST", "/approvals/{request_id}"): [
            Sample(
                f"/approvals/{w.request_id}",
                {"case_id": str(w.case_id), "verdict": "reject", "reason": "not yet"},
                in_district_a=True,
            )
        ],
        ("POST", "/cases/reassign"): [
            Sample(
                "/cases/reassign",
                {"case_id": str(w.case_id), "officer_id": str(w.officer_a_id)},
                in_district_a=True,
            )
        ],
        ("GET", "/log"): [Sample("/log")],
        ("GET", "/log.csv"): [Sample("/log.csv")],
        ("GET", "/log.xlsx"): [Sample("/log.xlsx")],
        ("GET", "/dashboard"): [Sample("/dashboard")],
        ("GET", "/reports"): [Sample("/reports"), Sample("/reports?report=officers")],
        ("GET", "/reports/export"): [
            Sample("/reports/export?report=quarterly&format=xlsx"),
            Sample("/reports/export?report=log&format=csv"),
        ],
        ("GET", "/cases/{case_id}"): [Sample(case, in_district_a=True)],
        ("POST", "/cases/{case_id}/{name}"): [
            Sample(f"{case}/{name}", {}, in_district_a=True, roles=action.roles)
            for name, action in ACTIONS.items()
        ],
        ("GET", "/cases/{case_id}/notices/{notice_id}.pdf"): [
            Sample(f"{case}/notices/{w.notice_id}.pdf", in_district_a=True)
        ],
    }


def expected(user: str, declared: str, roles: tuple[Role, ...], sample: Sample) -> set[int]:
    """What ``user`` must get: the route's roles are checked first (they disclose nothing about
    the object), then the district of the object, then an action's own roles."""
    if declared == "public":
        return ALLOWED | {401}  # a failed sign-in is an answer too
    if user == "anonymous":
        return {303}
    role = {"officer": Role.OFFICER, "supervisor": Role.SUPERVISOR, "admin": Role.ADMIN}[
        user.split("_")[0]
    ]

    def admits(needed: tuple[Role, ...]) -> bool:
        return not needed or role is Role.ADMIN or role in needed

    if not admits(roles):
        return {403}
    if sample.in_district_a and user == "officer_b":
        return {404}
    if not admits(sample.roles or ()):
        return {403}
    return ALLOWED


@pytest.fixture
def world(store: App) -> Iterator[World]:
    site = make_site(store)
    with site.client:
        site.add("officer_a", districts=[A])
        site.add("officer_b", districts=[B])
        site.add("supervisor_a", role="supervisor", districts=[A])
        site.add("admin", role="admin")
        pdf = b"%PDF-1.7 a filed letter"
        sha = site.app.documents.put(pdf)
        assert sha == hashlib.sha256(pdf).hexdigest()
        with site.app.session() as session:
            (case_id,) = add_open_cases(session, [(A, 500_000, date(2026, 9, 16))])
            add_open_cases(session, [(B, 700_000, date(2026, 9, 16))])
            request = ApprovalRequest(
                case_id=case_id, step="write_off", requested_on=date(2026, 11, 20), reason="破产"
            )
            notice = Notice(
                case_id=case_id,
                business_key=f"{case_id}:order_to_pay:letter:2026-11-20",
                step="order_to_pay",
                level=6,
                channel="letter",
                document_type="order_to_pay",
                status="printed",
                document_number="津社保征〔2026〕1号",
                issued_on=date(2026, 11, 20),
                content_sha256=sha,
            )
            session.add_all([request, notice])
            session.flush()
            officer = session.execute(
                select(User).where(col(User.username) == "officer_a")
            ).scalar_one()
            assert request.id and notice.id and officer.id
            w = World(site, case_id, request.id, notice.id, officer.id)
        yield w
    site.app.engine.dispose()


def test_every_route_as_every_user(world: World) -> None:
    site = world.site
    table = samples(world)
    routes = route_access(site.client.app)  # type: ignore[arg-type]
    missing = []
    outcomes: list[str] = []
    for user in USERS:
        for route in routes:
            (access,) = route.access
            if access == TWILIO_SIGNATURE:
                continue  # Twilio's signature, not a user, admits these: test_twilio_webhooks
            for method in sorted(route.methods):
                cases = table.get((method, route.path))
                if cases is None:
                    missing.append(f"{method} {route.path}")
                    continue
                declared = "public" if access == PUBLIC else "signed_in"
                roles = () if access in (PUBLIC, SIGNED_IN) else tuple(access.roles)
                for sample in cases:
                    site.client.cookies.clear()
                    if user != "anonymous":
                        assert site.login(user).status_code == 303, user
                    if method == "GET":
                        answer = site.client.get(sample.path, headers=HTML)
                    else:
                        answer = site.post(sample.path, sample.form)
                    want = expected(user, declared, roles, sample)
                    got = answer.status_code
                    if got not in want or (
                        want == {303} and not answer.headers["location"].startswith("/login")
                    ):
                        outcomes.append(
                            f"{user} {method} {sample.path}: {got}, wanted {sorted(want)}"
                        )
    assert not missing, f"routes missing from the access matrix: {sorted(set(missing))}"
    assert not outcomes, "\n".join(outcomes)


def test_the_deadline_panel_shows_the_supervisors_districts_only(world: World) -> None:
    """Orders to pay served 2026-10-10 in both districts: their reconsideration windows close on
    2026-12-09, within 30 days of today (2026-11-26); each row links to its case."""
    site = world.site
    with site.app.session() as session:
        other = session.execute(
            select(col(Case.id))
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(col(Employer.district) == B)
        ).scalar_one()
        for case_id in (world.case_id, other):
            session.add(
                Notice(
                    case_id=case_id,
                    business_key=f"{case_id}:order_to_pay:letter:2026-10-09",
                    step="order_to_pay",
                    level=6,
                    channel="letter",
                    document_type="order_to_pay",
                    status="served",
                    document_number=f"津社保征〔2026〕{case_id + 100}号",
                    issued_on=date(2026, 10, 9),
                    served_on=date(2026, 10, 10),
                )
            )
    site.login("supervisor_a")
    page = site.client.get("/dashboard", headers=HTML)
    assert page.status_code == 200
    panel = page.text[page.text.index('id="deadline-risk"') :]
    assert "期限风险" in panel and "行政复议" in panel and "2026年12月9日" in panel
    assert f'href="/cases/{world.case_id}"' in panel
    assert f'href="/cases/{other}"' not in panel
    site.post("/logout")
    site.login("admin")
    panel = site.client.get("/dashboard", headers=HTML).text
    assert f'href="/cases/{world.case_id}"' in panel and f'href="/cases/{other}"' in panel
