"""Keeping cases in step with the money: open, close and re-home items as the ledger changes.

A case is one collection episode for one employer. Whenever an employer's items or payments change,
``reconcile`` makes the cases agree with the new position: an employer that owes has exactly one
open case holding all its unsettled items; an open case whose debt is settled closes as paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from cases import eventlog, ledger, review
from cases.accounts import Book, chunked
from cases.bulk import insert_returning, insert_rows
from cases.models import ArrearsItem, Case, CaseEvent, utcnow
from cases.money import format_yuan
from cases.states import CLOSED, CaseStatus, can_transition


@dataclass(frozen=True)
class PolicyRef:
    """What a new case records about the policy it runs under, and the fee rules it uses."""

    name: str
    version: str
    fee_rules: ledger.FeeRules


@dataclass(frozen=True)
class OpenCase:
    id: int
    employer_id: int
    status: str
    first_overdue_on: date


def event_row(
    *,
    case_id: int,
    kind: str,
    message: str,
    on_date: date,
    actor: str,
    data: Mapping[str, Any] | None = None,
    step: str | None = None,
    policy_version: str | None = None,
) -> dict[str, Any]:
    """A case event as a row for a bulk insert (defaults of the model do not apply there)."""
    return {
        "case_id": case_id,
        "at": utcnow(),
        "on_date": on_date,
        "kind": kind,
        "actor": actor,
        "message": message,
        "step": step,
        "policy_version": policy_version,
        "data": dict(data or {}),
    }


def add_events(
    session: Session,
    rows: list[dict[str, Any]],
    locked: Mapping[int, tuple[int, str]] | None = None,
) -> None:
    """Write event rows (from :func:`event_row`), each chained onto its case's log (``locked``:
    the chain heads as the caller locked them, see ``cases.eventlog.chain_rows``)."""
    if rows:
        insert_rows(session, CaseEvent, eventlog.chain_rows(session.connection(), rows, locked))


def load_open_cases(session: Session, employer_ids: Iterable[int]) -> dict[int, OpenCase]:
    ids = sorted(set(employer_ids))
    found: dict[int, OpenCase] = {}
    for part in chunked(ids):
        rows = session.execute(
            select(
                col(Case.id), col(Case.employer_id), col(Case.status), col(Case.first_overdue_on)
            ).where(
                col(Case.employer_id).in_(part),
                col(Case.closed_on).is_(None),
            )
        )
        for row in rows:
            found[row.employer_id] = OpenCase(*row)
    return found


def open_cases(
    session: Session,
    first_due: Mapping[int, date],
    *,
    today: date,
    policy: PolicyRef,
) -> dict[int, OpenCase]:
    """Create an open case for each employer in ``first_due`` (employer id -> earliest due date)."""
    if not first_due:
        return {}
    now = utcnow()
    rows = [
        {
            "employer_id": employer_id,
            "status": CaseStatus.OPEN.value,
            "stage": 0,
            "opened_on": today,
            "first_overdue_on": due + timedelta(days=1),
            "policy_name": policy.name,
            "policy_version": policy.version,
            "uncooperative": False,
            "malicious": False,
            "created_at": now,
            "updated_at": now,
        }
        for employer_id, due in sorted(first_due.items())
    ]
    created: dict[int, OpenCase] = {}
    for case_id, employer_id in insert_returning(session, Case, rows, ("id", "employer_id")):
        created[employer_id] = OpenCase(
            case_id, employer_id, CaseStatus.OPEN.value, first_due[employer_id] + timedelta(days=1)
        )
    return created


@dataclass
class ReconcileResult:
    cases_closed: int = 0
    items_moved: int = 0


def reconcile(
    session: Session,
    books: Mapping[int, Book],
    cases: Mapping[int, OpenCase],
    *,
    today: date,
    policy: PolicyRef,
    actor: str,
    source: str,
) -> ReconcileResult:
    """Make each employer's open case match its position as of ``today``.

    ``cases`` holds the open case of every employer in ``books`` that has one. Unsettled items are
    moved into the open case; a case with nothing left to pay closes as paid.
    """
    result = ReconcileResult()
    # The books changed: every case of these employers is decided again at the next run.
    review.clear(session, employer_ids=books.keys())
    moves: list[dict[str, Any]] = []
    overdue_updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    to_close: list[tuple[int, str, ledger.EmployerPosition]] = []
    for employer_id, book in books.items():
        case = cases.get(employer_id)
        if case is None:
            continue
        pos = book.position(today, policy.fee_rules)
        if pos.settled:
            to_close.append((case.id, case.status, pos))
            continue
        unsettled = [i for i in book.items if pos.items[i.id].principal_outstanding > 0]
        for item in unsettled:
            if item.case_id != case.id:
                moves.append({"b_id": item.id, "b_case": case.id})
        if unsettled:
            first_overdue = min(i.due_date for i in unsettled) + timedelta(days=1)
            if first_overdue < case.first_overdue_on:
                overdue_updates.append({"b_id": case.id, "b_first": first_overdue})
                events.append(
                    event_row(
                        case_id=case.id,
                        kind="first_overdue_changed",
                        message=(
                            f"first overdue date moved from {case.first_overdue_on} to "
                            f"{first_overdue}: an older arrears item was added ({source})"
                        ),
                        on_date=today,
                        actor=actor,
                        data={"from": str(case.first_overdue_on), "to": str(first_overdue)},
                    )
                )
    if moves:
        session.connection().execute(
            update(ArrearsItem)
            .where(col(ArrearsItem.id) == bindparam("b_id"))
            .values(case_id=bindparam("b_case")),
            moves,
        )
        result.items_moved = len(moves)
    if overdue_updates:
        session.connection().execute(
            update(Case)
            .where(col(Case.id) == bindparam("b_id"))
            .values(first_overdue_on=bindparam("b_first")),
            overdue_updates,
        )
    now = utcnow()
    for case_id, status, pos in to_close:
        if CaseStatus(status) in CLOSED or not can_transition(status, CaseStatus.CLOSED_PAID):
            continue
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(status=CaseStatus.CLOSED_PAID.value, closed_on=today, updated_at=now)
        )
        events.append(
            event_row(
                case_id=case_id,
                kind="status_changed",
                message=f"{status} → closed (paid): principal and late fees settled ({source})",
                on_date=today,
                actor=actor,
                data={
                    "from": status,
                    "to": CaseStatus.CLOSED_PAID.value,
                    "credit": format_yuan(pos.credit),
                    "cause": "settled",
                },
            )
        )
        result.cases_closed += 1
    add_events(session, events)
    return result
