"""A small district office for the case-action tests: three employers, their cases, the staff,
and the nights that move the cases up the ladder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlmodel import Session, col

from arrears.wiring import App
from cases.access import Actor
from cases.importers import read_ledger
from cases.intake import import_ledger
from cases.models import Case, CaseEvent, Employer, Notice, User
from cases.notices import number_letter
from notifications.escalation import NightSummary
from tests.factories import CODES, add_user, ledger_row, write_ledger

DAY1 = date(2026, 9, 16)  # the first overdue day of arrears due 2026-09-15 (10,000.00 each)
FAR = date(2027, 6, 30)
T = TypeVar("T")


def day(n: int) -> date:
    """Day ``n`` of the arrears, day 1 being the first overdue day (as the ladder counts)."""
    return DAY1 + timedelta(days=n - 1)


@dataclass
class World:
    store: App
    a: int  # 和平区
    b: int  # 和平区
    hexi: int  # 河西区: no 和平区 user may see it
    officer: Actor  # 和平区
    colleague: Actor  # 和平区
    hexi_officer: Actor  # 河西区
    supervisor: Actor  # 和平区
    idle_officer_id: int  # 和平区, deactivated

    def act(self, action: Callable[..., T], **fields: Any) -> T:
        """Run one action in its own unit of work, committed as the web app would."""
        with self.store.session() as session:
            return action(session=session, **fields)

    def night(self, on: date) -> NightSummary:
        """Plan the night ``on`` in 和平区: decide the cases due and write their steps (nothing is
        sent). The 河西区 case stays where it is: it is there to be invisible."""
        summary = NightSummary(on)
        self.store.escalation().plan(on, summary, "和平区")
        return summary

    def nights(self, *days: int) -> None:
        for n in days:
            self.night(day(n))

    def park(self, *case_ids: int) -> None:
        """Review these cases far ahead: only a new fact brings one back to the next night."""
        with self.store.session() as session:
            session.execute(
                update(Case).where(col(Case.id).in_(case_ids)).values(next_review_on=FAR)
            )

    def case(self, case_id: int) -> Case:
        with self.store.session() as session:
            case = session.get(Case, case_id)
            assert case is not None
            return case

    def events(self, case_id: int, kind: str | None = None) -> list[CaseEvent]:
        with self.store.session() as session:
            query = select(CaseEvent).where(col(CaseEvent.case_id) == case_id)
            if kind is not None:
                query = query.where(col(CaseEvent.kind) == kind)
            return list(session.execute(query.order_by(col(CaseEvent.id))).scalars())

    def steps(self, case_id: int) -> list[str]:
        """The ladder steps planned for the case, in order."""
        with self.store.session() as session:
            taken = session.execute(
                select(col(Notice.step))
                .where(col(Notice.case_id) == case_id)
                .order_by(col(Notice.id))
            ).scalars()
            return list(dict.fromkeys(taken))

    def print_letter(self, case_id: int, step: str) -> Notice:
        """Give the case's letter of ``step`` its document number, as printing does."""
        with self.store.session() as session:
            notice = session.execute(
                select(Notice).where(
                    col(Notice.case_id) == case_id,
                    col(Notice.step) == step,
                    col(Notice.channel) == "letter",
                )
            ).scalar_one()
            agency = self.store.settings.agency
            code = agency.document_codes[notice.document_type or step]
            number_letter(session, notice, prefix=agency.document_prefix + code)
            return notice


def make_world(store: App, tmp_path: Path) -> World:
    rows = [
        ledger_row(CODES[0], employer_name="天津甲商贸有限公司", mobile="13800000001"),
        ledger_row(CODES[1], employer_name="天津乙商贸有限公司", mobile="13800000002"),
        ledger_row(CODES[2], employer_name="天津丙商贸有限公司", district="河西区"),
    ]
    parsed = read_ledger(write_ledger(tmp_path / "ledger.csv", rows))
    assert not parsed.errors
    with store.session() as session:
        import_ledger(
            session=session,
            rows=parsed.rows,
            file_name="ledger.csv",
            sha256="0" * 64,
            today=DAY1,
            policy=store.policy_ref,
        )
        ids = _case_ids(session)
        officer = add_user(session, "officer1", "officer", ["和平区"])
        colleague = add_user(session, "officer2", "officer", ["和平区"])
        hexi_officer = add_user(session, "officer3", "officer", ["河西区"])
        supervisor = add_user(session, "chief", "supervisor", ["和平区"])
        idle = add_user(session, "retired", "officer", ["和平区"])
        session.execute(update(User).where(col(User.id) == idle.user_id).values(active=False))
    return World(
        store=store,
        a=ids[CODES[0]],
        b=ids[CODES[1]],
        hexi=ids[CODES[2]],
        officer=officer,
        colleague=colleague,
        hexi_officer=hexi_officer,
        supervisor=supervisor,
        idle_officer_id=idle.user_id,
    )


def _case_ids(session: Session) -> dict[str, int]:
    return {
        code: case_id
        for case_id, code in session.execute(
            select(col(Case.id), col(Employer.code)).join(
                Employer, col(Employer.id) == col(Case.employer_id)
            )
        )
    }
