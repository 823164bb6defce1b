"""Legal windows about to close, and the court application filed and decided, on SQLite and
PostgreSQL.

The windows below are counted by hand (tests/unit/test_deadlines.py checks the arithmetic):

    order to pay served 2025-08-31  appeal windows end 2025-10-30 and 2026-02-28 (a make-up
                                    Saturday); the court window runs 2026-03-01 to 2026-05-28
    forced transfer served 2026-03-10  reconsideration ends 2026-05-09 (a make-up Saturday);
                                    lawsuit 2026-09-10
    fine decision served 2026-03-20    reconsideration ends 2026-05-19
    demand printed 2026-04-10, not served: at risk until 2026-05-10 (30 days)

As of 2026-05-01, within 30 days (to 2026-05-31).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import Session, col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.access import Actor, CaseNotFound
from cases.actions import ActionRefused, record_court_filing, record_court_outcome
from cases.deadlines import (
    LegalWindow,
    court_window,
    deadline_risk,
    latest_served_orders,
    service_documents,
)
from cases.models import (
    Case,
    CaseEvent,
    CourtApplication,
    Employer,
    Fine,
    LegalChallenge,
    Notice,
)
from tests.factories import add_open_cases, add_user
from tests.integration.test_web_security import HTML, make_site

runner = CliRunner()
AS_OF = date(2026, 5, 1)
A, B = "和平区", "南开区"
_numbers = iter(range(1, 1000))


def letter(
    session: Session,
    case_id: int,
    step: str,
    document_type: str,
    issued_on: date,
    served_on: date | None = None,
    **fields: Any,
) -> Notice:
    n = next(_numbers)
    notice = Notice(
        case_id=case_id,
        business_key=f"test:{n}",
        step=step,
        level=0,
        channel="letter",
        document_type=document_type,
        status="served" if served_on else "printed",
        document_number=f"津测〔2026〕第{n:06d}号",
        issued_on=issued_on,
        served_on=served_on,
        service_method="in_person" if served_on else None,
        **fields,
    )
    session.add(notice)
    session.flush()
    return notice


def order(session: Session, case_id: int, served_on: date = date(2025, 8, 31)) -> Notice:
    issued = date(served_on.year, served_on.month, 1)
    return letter(session, case_id, "order_to_pay", "order_to_pay", issued, served_on)


def risk(store: App, *, districts: list[str] | None = None, as_of: date = AS_OF) -> list[Any]:
    with store.session() as session:
        rows = deadline_risk(
            session,
            as_of=as_of,
            within_days=30,
            calendar=store.policy.calendar,
            service_documents=service_documents(store.policy),
            districts=districts,
        )
    return rows


def brief(rows: list[LegalWindow]) -> list[tuple[Any, ...]]:
    return [(w.case_id, w.kind, w.opens_on, w.closes_on, w.days_left) for w in rows]


def test_deadline_risk_lists_the_windows_closing_soon(store: App) -> None:
    with store.session() as session:
        ids = add_open_cases(session, [(A, 100_000, date(2025, 6, 1))] * 7)
        court, transfer, fined, unserved, filed, closed, challenged = ids
        (other,) = add_open_cases(session, [(B, 100_000, date(2025, 6, 1))])
        order(session, court)
        order(session, transfer, served_on=date(2026, 1, 20))  # its windows all lie outside
        letter(
            session,
            transfer,
            "forced_transfer",
            "forced_transfer_decision",
            date(2026, 3, 9),
            date(2026, 3, 10),
        )
        # The bank's copy is not served on the employer and states no appeal rights.
        letter(session, transfer, "forced_transfer", "bank_transfer_notice", date(2026, 3, 9))
        fine_notice = letter(
            session, fined, "fine", "fine_decision", date(2026, 3, 18), date(2026, 3, 20)
        )
        session.add(
            Fine(
                case_id=fined,
                proposed_on=date(2026, 3, 1),
                arrears_fen=100_000,
                multiple_pct=100,
                amount_fen=100_000,
                reason="逾期未缴",
                proposed_by="officer1",
                status="imposed",
                decided_by="chief",
                decided_on=date(2026, 3, 15),
                notice_id=fine_notice.id,
            )
        )
        letter(session, unserved, "enforcement_demand", "enforcement_demand", date(2026, 4, 10))
        # Printed long ago and still not served: past the 30 days already, not "closing soon".
        letter(session, unserved, "reminder_letter", "reminder_letter", date(2026, 3, 1))
        order(session, filed)
        session.add(
            CourtApplication(case_id=filed, filed_on=date(2026, 3, 5), court="天津市和平区人民法院")
        )
        order(session, closed)
        session.execute(
            update(Case)
            .where(col(Case.id) == closed)
            .values(status="closed_paid", closed_on=date(2026, 4, 1))
        )
        letter(
            session,
            challenged,
            "forced_transfer",
            "forced_transfer_decision",
            date(2026, 3, 9),
            date(2026, 3, 10),
        )
        session.add(
            LegalChallenge(
                case_id=challenged,
                kind="reconsideration",
                filed_on=date(2026, 4, 2),
                body="天津市人民政府",
                reference="津复〔2026〕1号",
                against="forced_transfer",
                recorded_by="officer1",
            )
        )
        order(session, other)

    rows = risk(store)
    assert brief(rows) == [
        (transfer, "reconsideration", date(2026, 3, 10), date(2026, 5, 9), 8),
        (unserved, "service", date(2026, 4, 10), date(2026, 5, 10), 9),
        (fined, "reconsideration", date(2026, 3, 20), date(2026, 5, 19), 18),
        (court, "court_application", date(2026, 3, 1), date(2026, 5, 28), 27),
        (other, "court_application", date(2026, 3, 1), date(2026, 5, 28), 27),
    ]
    first = rows[0]
    assert first.district == A and first.employer_name.startswith("天津第")
    assert first.document_type == "forced_transfer_decision"
    assert first.served_on == date(2026, 3, 10) and first.provisional_year is None
    assert "served 2026-03-10" in first.basis
    assert rows[3].basis.startswith("order_to_pay 津测〔2026〕第") and rows[3].served_on == date(
        2025, 8, 31
    )
    assert [w.case_id for w in risk(store, districts=[B])] == [other]
    # On the window's last day it is still listed, with 0 days left; the day after, it is gone.
    assert (court, 0) in [(w.case_id, w.days_left) for w in risk(store, as_of=date(2026, 5, 28))]
    assert court not in [w.case_id for w in risk(store, as_of=date(2026, 5, 29))]


def test_the_latest_served_order_fixes_the_court_window(store: App) -> None:
    with store.session() as session:
        reissued, once, never = add_open_cases(session, [(A, 100_000, date(2025, 6, 1))] * 3)
        order(session, reissued, served_on=date(2025, 7, 1))
        order(session, reissued, served_on=date(2025, 8, 31))
        letter(session, reissued, "order_to_pay", "order_to_pay", date(2025, 12, 1))  # unserved
        order(session, once, served_on=date(2025, 4, 1))
        letter(session, never, "order_to_pay", "order_to_pay", date(2025, 12, 1))
        served = latest_served_orders(session, [reissued, once, never])
    assert served == {reissued: date(2025, 8, 31), once: date(2025, 4, 1)}
    calendar = store.policy.calendar
    assert court_window(served[reissued], calendar) == (date(2026, 3, 1), date(2026, 5, 28))
    assert court_window(served[once], calendar) == (date(2025, 10, 10), date(2026, 1, 9))


def test_a_window_reaching_an_unknown_year_is_listed_at_its_earliest(store: App) -> None:
    # Served 2026-10-10: the lawsuit window ends 2027-04-10 at the earliest; 2027's holidays are
    # not known to the calendar, so the row says so instead of failing the whole list.
    with store.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2026, 6, 1))])
        order(session, case_id, served_on=date(2026, 10, 10))
    (row,) = risk(store, as_of=date(2027, 4, 1))
    assert (row.kind, row.closes_on, row.provisional_year) == ("lawsuit", date(2027, 4, 10), 2027)


@pytest.fixture
def court_case(store: App) -> tuple[int, Actor, Actor]:
    """A 和平区 case whose order to pay was served 2025-08-31 (court window 2026-03-01 to
    05-28) and whose court application was issued 2026-02-20; its officer and a 河西区 one."""
    with store.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2025, 6, 1))])
        order(session, case_id)
        letter(session, case_id, "court_application", "court_application", date(2026, 2, 20))
        officer = add_user(session, "officer1", "officer", [A])
        stranger = add_user(session, "officer3", "officer", ["河西区"])
    return case_id, officer, stranger


def file_(store: App, case_id: int, actor: Actor, filed_on: date, today: date) -> Any:
    with store.session() as session:
        return record_court_filing(
            session=session,
            actor=actor,
            case_id=case_id,
            today=today,
            filed_on=filed_on,
            court="天津市和平区人民法院",
            court_reference="(2026)津0101行审1号",
            calendar=store.policy.calendar,
        )


def test_a_filing_after_the_window_closed_is_refused_naming_the_dates(
    store: App, court_case: tuple[int, Actor, Actor]
) -> None:
    case_id, officer, _ = court_case
    with pytest.raises(ActionRefused) as late:
        file_(store, case_id, officer, date(2026, 5, 29), date(2026, 6, 1))
    assert late.value.field == "filed_on"
    assert "closed on 2026-05-28" in late.value.reason and "2025-08-31" in late.value.reason
    with pytest.raises(ActionRefused) as early:
        file_(store, case_id, officer, date(2026, 2, 27), date(2026, 3, 2))
    assert "opens on 2026-03-01" in early.value.reason
    assert "until 2026-02-28" in early.value.reason
    with store.session() as session:
        assert session.execute(select(CourtApplication)).first() is None


def test_a_filing_needs_the_application_issued_and_a_visible_case(store: App) -> None:
    with store.session() as session:
        (case_id,) = add_open_cases(session, [(A, 100_000, date(2025, 6, 1))])
        order(session, case_id)
        officer = add_user(session, "officer1", "officer", [A])
        stranger = add_user(session, "officer3", "officer", ["河西区"])
    with pytest.raises(ActionRefused) as refused:
        file_(store, case_id, officer, date(2026, 3, 5), date(2026, 3, 5))
    assert "no court application letter issued" in refused.value.reason
    with pytest.raises(CaseNotFound):
        file_(store, case_id, stranger, date(2026, 3, 5), date(2026, 3, 5))


def test_filed_then_refused_by_the_court_puts_the_case_on_hold(
    store: App, court_case: tuple[int, Actor, Actor]
) -> None:
    case_id, officer, stranger = court_case
    application = file_(store, case_id, officer, date(2026, 3, 5), date(2026, 3, 6))
    assert application.window_closes_on == date(2026, 5, 28)
    assert application.notice_id is not None and application.recorded_by == "officer1"
    # Filed: the court window is no longer at risk.
    assert case_id not in [w.case_id for w in risk(store)]
    with pytest.raises(ActionRefused) as again:
        file_(store, case_id, officer, date(2026, 3, 7), date(2026, 3, 7))
    assert "already has an application filed on 2026-03-05" in again.value.reason

    def decide(outcome: str, note: str | None, on: date) -> CourtApplication:
        with store.session() as session:
            return record_court_outcome(
                session=session,
                actor=officer,
                case_id=case_id,
                today=date(2026, 4, 2),
                application_id=application.id,
                outcome=outcome,
                decided_on=on,
                note=note,
            )

    with pytest.raises(ActionRefused) as early:
        decide("accepted", None, date(2026, 3, 1))
    assert early.value.field == "decided_on"
    with pytest.raises(ActionRefused) as unexplained:
        decide("refused", "  ", date(2026, 4, 1))
    assert unexplained.value.field == "note"
    assert decide("accepted", None, date(2026, 3, 12)).outcome == "accepted"
    with store.session() as session:
        assert session.get(Case, case_id).status == "open"  # type: ignore[union-attr]
    assert decide("refused", "材料不全", date(2026, 4, 1)).outcome == "refused"
    with store.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "on_hold"
        kinds = list(
            session.execute(
                select(col(CaseEvent.kind))
                .where(col(CaseEvent.case_id) == case_id)
                .order_by(col(CaseEvent.id))
            ).scalars()
        )
    assert kinds == ["court_filed", "court_decided", "court_decided", "status_changed"]
    with pytest.raises(CaseNotFound), store.session() as session:
        record_court_outcome(
            session=session,
            actor=stranger,
            case_id=case_id,
            today=date(2026, 4, 2),
            application_id=application.id,
            outcome="enforced",
            decided_on=date(2026, 4, 2),
            note=None,
        )
    with pytest.raises(ActionRefused) as final:
        decide("enforced", None, date(2026, 4, 2))
    assert "already refused on 2026-04-01" in final.value.reason


def arrears(db_env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=db_env, catch_exceptions=False)


def test_cli_lists_deadlines_and_records_the_court(
    db_env: dict[str, str], store: App, court_case: tuple[int, Actor, Actor]
) -> None:
    case_id, _, _ = court_case
    with store.session() as session:
        (other,) = add_open_cases(session, [(B, 100_000, date(2025, 6, 1))])
        order(session, other)
        code = session.execute(
            select(col(Employer.code))
            .join(Case, col(Case.employer_id) == col(Employer.id))
            .where(col(Case.id) == case_id)
        ).scalar_one()
    table = arrears(db_env, "deadlines", "--within", "30", "--as-of", "2026-05-01")
    assert table.exit_code == 0, table.output
    assert "court_application" in table.stdout and "2026-05-28" in table.stdout
    assert code in table.stdout and "南开区" in table.stdout
    listed = arrears(
        db_env, "deadlines", "--within", "30", "--as-of", "2026-05-01", "--district", A, "--json"
    )
    rows = json.loads(listed.stdout)
    assert [(r["case_id"], r["window"], r["closes_on"], r["days_left"]) for r in rows] == [
        (case_id, "court_application", "2026-05-28", 27)
    ]
    late = arrears(
        db_env,
        "court",
        "file",
        code,
        "--filed-on",
        "2026-05-29",
        "--court",
        "天津市和平区人民法院",
        "--reference",
        "(2026)津0101行审1号",
        "--as-of",
        "2026-06-01",
    )
    assert late.exit_code == 1 and "closed on 2026-05-28" in late.stderr
    filed = arrears(
        db_env,
        "court",
        "file",
        str(case_id),
        "--filed-on",
        "2026-03-05",
        "--court",
        "天津市和平区人民法院",
        "--reference",
        "(2026)津0101行审1号",
        "--as-of",
        "2026-03-06",
    )
    assert filed.exit_code == 0, filed.output
    assert "window to apply closes 2026-05-28" in filed.stdout
    after = arrears(db_env, "deadlines", "--within", "30", "--as-of", "2026-05-01", "--json")
    assert [r["case_id"] for r in json.loads(after.stdout)] == [other]
    outcome = arrears(
        db_env,
        "court",
        "outcome",
        code,
        "--outcome",
        "withdrawn",
        "--decided-on",
        "2026-03-20",
        "--note",
        "单位已缴清部分欠款",
        "--as-of",
        "2026-03-20",
    )
    assert outcome.exit_code == 0, outcome.output
    assert "withdrawn on 2026-03-20; the case is on_hold" in outcome.stdout
    # Withdrawn: the window is at risk again until the agency files anew.
    again = arrears(db_env, "deadlines", "--within", "30", "--as-of", "2026-05-01", "--json")
    assert sorted(r["case_id"] for r in json.loads(again.stdout)) == sorted([case_id, other])
    wrong = arrears(
        db_env, "court", "outcome", code, "--outcome", "won", "--decided-on", "2026-03-21"
    )
    assert wrong.exit_code == 1 and "outcome" in wrong.stderr


def test_the_case_page_tells_the_court_story_in_chinese(
    store: App, court_case: tuple[int, Actor, Actor]
) -> None:
    case_id, officer, _ = court_case
    application = file_(store, case_id, officer, date(2026, 3, 5), date(2026, 3, 6))
    with store.session() as session:
        record_court_outcome(
            session=session,
            actor=officer,
            case_id=case_id,
            today=date(2026, 4, 2),
            application_id=application.id,
            outcome="refused",
            decided_on=date(2026, 4, 1),
            note="材料不全",
        )
    site = make_site(store)
    with site.client:
        site.add("chief", role="supervisor")
        site.login("chief")
        page = site.client.get(f"/cases/{case_id}", headers=HTML)
    site.app.engine.dispose()
    assert page.status_code == 200
    text = page.text
    assert "已于2026年3月5日向天津市和平区人民法院提出" in text
    assert "申请期限至2026年5月28日届满" in text
    assert "天津市和平区人民法院，2026年4月1日：法院不予受理" in text
    assert "法院申请结果：法院不予受理，由专管员决定后续处理" in text
