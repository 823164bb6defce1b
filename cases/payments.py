"""Use case: take in the bank's payment file and apply the money to the arrears.

A bank serial number (``reference``) is unique: a payment seen before is skipped when it matches
the stored one and refused when it does not. Allocation follows the policy (principal before late
fee, oldest due date first) and is replayed from the employer's whole payment history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from cases import locks
from cases.accounts import Book, chunked, load_books, rebuild_allocations
from cases.agreement_nights import after_payments
from cases.bulk import insert_returning
from cases.casework import (
    PolicyRef,
    ReconcileResult,
    add_events,
    event_row,
    load_open_cases,
    reconcile,
)
from cases.importers import PaymentRow, RowError
from cases.models import Case, Employer, ImportBatch, Payment, PromiseToPay, utcnow
from cases.money import format_yuan
from cases.states import CaseStatus


@dataclass
class PaymentImportResult:
    rows: int = 0
    payments_new: int = 0
    payments_already_imported: int = 0
    amount_new: str = "0.00"
    employers: int = 0
    cases_closed: int = 0
    promises_kept: int = 0
    changed: bool = False
    import_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "import_id"}


@dataclass
class PaymentCheck:
    """Rows that can be written, rows already imported, and rows that contradict the store."""

    new: list[tuple[PaymentRow, int]] = field(default_factory=list)  # (row, employer id)
    already: list[PaymentRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def check_payments(
    session: Session, rows: Sequence[PaymentRow], *, file_name: str, today: date
) -> PaymentCheck:
    """Errors that need the store: unknown employer, reused reference, payment dated later."""
    locks.hold(session, locks.IMPORTS, holder=f"payments {file_name}")
    check = PaymentCheck()
    codes = sorted({r.employer_code for r in rows})
    employer_ids: dict[str, int] = {}
    for part in chunked(codes):
        for employer_id, code in session.execute(
            select(col(Employer.id), col(Employer.code)).where(col(Employer.code).in_(part))
        ):
            employer_ids[code] = employer_id
    known: dict[str, Any] = {}
    refs = sorted({r.reference for r in rows})
    for part in chunked(refs):
        for row in session.execute(
            select(
                col(Payment.reference),
                col(Employer.code),
                col(Payment.amount_fen),
                col(Payment.paid_on),
            )
            .join(Employer, col(Employer.id) == col(Payment.employer_id))
            .where(col(Payment.reference).in_(part))
        ):
            known[row.reference] = row
    for r in rows:

        def err(column: str, value: str, reason: str, r: PaymentRow = r) -> None:
            check.errors.append(RowError(file_name, r.line, column, value, reason))

        old = known.get(r.reference)
        if old is not None:
            if (old.code, old.amount_fen, old.paid_on) == (r.employer_code, r.amount, r.paid_on):
                check.already.append(r)
            else:
                err(
                    "reference",
                    r.reference,
                    "this bank reference was already imported for "
                    f"{old.code}, ¥{format_yuan(old.amount_fen)} paid on {old.paid_on}",
                )
            continue
        if r.employer_code not in employer_ids:
            err("employer_code", r.employer_code, "no employer with this code in the case store")
        elif r.paid_on > today:
            err("paid_on", str(r.paid_on), f"payment dated after today ({today})")
        else:
            check.new.append((r, employer_ids[r.employer_code]))
    return check


def import_payments(
    *,
    session: Session,
    check: PaymentCheck,
    file_name: str,
    sha256: str,
    today: date,
    policy: PolicyRef,
    actor: str = "system:import",
) -> PaymentImportResult:
    """Write the new payments of a checked file and apply them; the caller commits."""
    result = PaymentImportResult(
        rows=len(check.new) + len(check.already), payments_already_imported=len(check.already)
    )
    if not check.new:
        return result
    batch = ImportBatch(kind="payments", file_name=file_name, sha256=sha256, rows=result.rows)
    session.add(batch)
    session.flush()
    applied = apply_payments(
        session,
        [NewPayment(employer_id, r.amount, r.paid_on, r.reference) for r, employer_id in check.new],
        import_id=batch.id,
        today=today,
        policy=policy,
        actor=actor,
        source=f"payments {file_name}",
    )
    result.payments_new = len(check.new)
    result.amount_new = format_yuan(sum(r.amount for r, _ in check.new))
    result.employers = applied.employers
    result.promises_kept = applied.promises_kept
    result.cases_closed = applied.cases_closed
    result.changed = True
    result.import_id = batch.id
    batch.stats = result.as_dict()
    session.add(batch)
    return result


@dataclass(frozen=True)
class NewPayment:
    """A payment not yet stored, from a bank file or from a receipt an officer saw."""

    employer_id: int
    amount: int  # fen
    paid_on: date
    reference: str  # bank serial number, unique


@dataclass(frozen=True)
class AppliedPayments:
    employers: int
    cases_closed: int
    promises_kept: int
    # payment reference -> the case its payment_received event was logged on
    logged_on: dict[str, int]


def apply_payments(
    session: Session,
    payments: Sequence[NewPayment],
    *,
    import_id: int | None,
    today: date,
    policy: PolicyRef,
    actor: str,
    source: str,
    note: str | None = None,
) -> AppliedPayments:
    """Store payments and apply them: the one path for imported payments and officers' receipts.

    Allocations are replayed over each employer's whole history, every payment is logged on the
    employer's case, promises the money now covers are kept, and settled cases close. ``note``
    ends each payment's event message (who saw the receipt, say). The caller has checked the
    references and holds the imports lock.
    """
    now = utcnow()
    inserted = insert_returning(
        session,
        Payment,
        [
            {
                "employer_id": p.employer_id,
                "amount_fen": p.amount,
                "paid_on": p.paid_on,
                "reference": p.reference,
                "import_id": import_id,
                "created_at": now,
            }
            for p in payments
        ],
        ("id",),
    )
    new_ids = {pid: p for (pid,), p in zip(inserted, payments, strict=True)}
    employer_ids = {p.employer_id for p in payments}

    books = load_books(session, employer_ids)
    allocations = rebuild_allocations(session, books.values(), policy.fee_rules)
    cases = load_open_cases(session, employer_ids)
    latest = _latest_cases(session, employer_ids - set(cases))
    item_labels = {
        item.id: f"{item.period} {item.insurance}" for book in books.values() for item in book.items
    }

    events: list[dict[str, Any]] = []
    logged_on: dict[str, int] = {}
    for employer_id in sorted(employer_ids):
        case_id = cases[employer_id].id if employer_id in cases else latest.get(employer_id)
        if case_id is None:
            continue
        pos = books[employer_id].position(today, policy.fee_rules)
        for a_pid in sorted({a.payment_id for a in allocations[employer_id]} & set(new_ids)):
            row = new_ids[a_pid]
            parts = [a for a in allocations[employer_id] if a.payment_id == a_pid]
            principal = sum(a.principal for a in parts)
            fee = sum(a.fee for a in parts)
            credit = sum(a.credit for a in parts)
            logged_on[row.reference] = case_id
            events.append(
                event_row(
                    case_id=case_id,
                    kind="payment_received",
                    message=(
                        f"payment ¥{format_yuan(row.amount)} on {row.paid_on} "
                        f"(ref {row.reference}): principal ¥{format_yuan(principal)}, "
                        f"late fee ¥{format_yuan(fee)}"
                        + (f", credit ¥{format_yuan(credit)}" if credit else "")
                        + f"; now owed ¥{format_yuan(pos.total_due)}"
                        + (f"; {note}" if note else "")
                    ),
                    on_date=today,
                    actor=actor,
                    data={
                        "reference": row.reference,
                        "amount": format_yuan(row.amount),
                        "paid_on": str(row.paid_on),
                        "principal": format_yuan(principal),
                        "late_fee": format_yuan(fee),
                        "credit": format_yuan(credit),
                        "allocations": [
                            {
                                "item": item_labels.get(a.item_id, "credit")
                                if a.item_id is not None
                                else "credit",
                                "principal": format_yuan(a.principal),
                                "late_fee": format_yuan(a.fee),
                            }
                            for a in parts
                            if a.item_id is not None
                        ],
                        "principal_outstanding": format_yuan(pos.principal_outstanding),
                        "late_fee_outstanding": format_yuan(pos.fee_outstanding),
                        "total_due": format_yuan(pos.total_due),
                    },
                )
            )
    add_events(session, events)
    kept, outcome = settle_employers(
        session, books, cases, today=today, policy=policy, actor=actor, source=source
    )
    return AppliedPayments(
        employers=len(employer_ids),
        cases_closed=outcome.cases_closed,
        promises_kept=kept,
        logged_on=logged_on,
    )


def _latest_cases(session: Session, employer_ids: set[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for part in chunked(sorted(employer_ids)):
        for employer_id, case_id in session.execute(
            select(col(Case.employer_id), func.max(col(Case.id)))
            .where(col(Case.employer_id).in_(part))
            .group_by(col(Case.employer_id))
        ):
            found[employer_id] = case_id
    return found


def settle_employers(
    session: Session,
    books: Mapping[int, Book],
    cases: dict[int, Any],
    *,
    today: date,
    policy: PolicyRef,
    actor: str,
    source: str,
) -> tuple[int, ReconcileResult]:
    """What follows once the employers' payments were applied (again) to their books: promises
    the money now covers are kept, each open case is made to match its position (closing a
    settled one as paid), and the instalments of deferred-payment agreements are settled.

    ``cases``: the employers' open cases (``load_open_cases``). Returns the promises kept and
    the reconciling's result.
    """
    kept = _settle_promises(session, cases, today=today, actor=actor)
    if kept:
        cases = load_open_cases(session, books.keys())
    outcome = reconcile(
        session, books, cases, today=today, policy=policy, actor=actor, source=source
    )
    after_payments(session, employer_ids=books.keys(), as_of=today)
    return kept, outcome


def _settle_promises(session: Session, cases: dict[int, Any], *, today: date, actor: str) -> int:
    """A promise is kept once the money paid since it was made reaches the promised amount."""
    by_case = {c.id: c for c in cases.values()}
    if not by_case:
        return 0
    kept = 0
    events: list[dict[str, Any]] = []
    promises = session.execute(
        select(PromiseToPay).where(
            col(PromiseToPay.case_id).in_(sorted(by_case)),
            col(PromiseToPay.status) == "open",
        )
    ).scalars()
    for promise in promises:
        case = by_case[promise.case_id]
        paid = session.execute(
            select(func.coalesce(func.sum(col(Payment.amount_fen)), 0)).where(
                col(Payment.employer_id) == case.employer_id,
                col(Payment.paid_on) >= promise.made_on,
                col(Payment.paid_on) <= today,
            )
        ).scalar_one()
        if paid < promise.amount_fen:
            continue
        promise.status = "kept"
        session.add(promise)
        kept += 1
        events.append(
            event_row(
                case_id=case.id,
                kind="promise_kept",
                message=(
                    f"promise of ¥{format_yuan(promise.amount_fen)} by {promise.due_on} kept: "
                    f"¥{format_yuan(paid)} paid since {promise.made_on}"
                ),
                on_date=today,
                actor=actor,
                data={
                    "promise_id": promise.id,
                    "amount": format_yuan(promise.amount_fen),
                    "due_on": str(promise.due_on),
                    "made_on": str(promise.made_on),
                    "paid": format_yuan(paid),
                },
            )
        )
        if case.status == CaseStatus.PROMISED.value:
            session.execute(
                update(Case)
                .where(col(Case.id) == case.id)
                .values(status=CaseStatus.OPEN.value, next_review_on=None)
            )
            events.append(
                event_row(
                    case_id=case.id,
                    kind="status_changed",
                    message=(
                        "promised to pay → open: promise kept, escalation resumes on what is left"
                    ),
                    on_date=today,
                    actor=actor,
                    data={"from": "promised", "to": "open", "cause": "promise_kept"},
                )
            )
    add_events(session, events)
    return kept
