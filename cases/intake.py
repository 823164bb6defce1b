"""Use case: take in the nightly arrears ledger.

The caller validates the file first (``cases.importers.read_ledger``); this module writes the
valid rows in one transaction. Re-importing a file changes nothing; a changed amount, due date or
kind is a correction with its own event; an employer that owes gets an open case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from cases import locks, review
from cases.accounts import chunked, load_books, rebuild_allocations
from cases.bulk import insert_returning, insert_rows
from cases.casework import PolicyRef, add_events, event_row, load_open_cases, open_cases, reconcile
from cases.importers import LedgerRow
from cases.models import ArrearsItem, Employer, ImportBatch, utcnow
from cases.money import format_yuan

EMPLOYER_FIELDS = ("name", "district", "contact_name", "mobile", "address")


@dataclass
class LedgerImportResult:
    rows: int = 0
    employers_new: int = 0
    employers_updated: int = 0
    items_new: int = 0
    items_corrected: int = 0
    items_unchanged: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    changed: bool = False
    import_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in {"notes", "import_id"}}


Progress = Callable[[int], None]


def import_ledger(
    *,
    session: Session,
    rows: Sequence[LedgerRow],
    file_name: str,
    sha256: str,
    today: date,
    policy: PolicyRef,
    actor: str = "system:import",
    progress: Progress | None = None,
) -> LedgerImportResult:
    """Write validated ledger rows; the caller commits (or rolls back) the session."""
    locks.hold(session, locks.IMPORTS, holder=f"{actor} {file_name}")
    result = LedgerImportResult(rows=len(rows))
    source = f"ledger file {file_name}"
    by_code: dict[str, list[LedgerRow]] = defaultdict(list)
    for row in rows:
        by_code[row.employer_code].append(row)

    employer_ids, employer_events = _upsert_employers(session, by_code, result)
    if progress:
        progress(len(rows) // 4)

    existing: dict[tuple[int, str, str], Any] = {}
    for part in chunked(sorted(employer_ids.values())):
        for item in session.execute(
            select(
                col(ArrearsItem.id),
                col(ArrearsItem.employer_id),
                col(ArrearsItem.period),
                col(ArrearsItem.insurance),
                col(ArrearsItem.amount_due_fen),
                col(ArrearsItem.due_date),
                col(ArrearsItem.kind),
                col(ArrearsItem.case_id),
            ).where(col(ArrearsItem.employer_id).in_(part))
        ):
            existing[(item.employer_id, item.period, item.insurance)] = item

    new_items: dict[int, list[LedgerRow]] = defaultdict(list)
    corrections: list[tuple[Any, LedgerRow]] = []
    for row in rows:
        employer_id = employer_ids[row.employer_code]
        old = existing.get((employer_id, row.period, row.insurance))
        if old is None:
            new_items[employer_id].append(row)
        elif (old.amount_due_fen, old.due_date, old.kind) != (
            row.amount_due,
            row.due_date,
            row.kind,
        ):
            corrections.append((old, row))
        else:
            result.items_unchanged += 1

    affected = set(new_items) | {old.employer_id for old, _ in corrections}
    cases = load_open_cases(session, affected | set(employer_events))
    first_due = {
        employer_id: min(
            [r.due_date for r in new_items.get(employer_id, [])]
            + [r.due_date for old, r in corrections if old.employer_id == employer_id]
        )
        for employer_id in affected
        if employer_id not in cases
    }
    created = open_cases(session, first_due, today=today, policy=policy)
    cases.update(created)
    result.cases_opened = len(created)
    if progress:
        progress(len(rows) // 2)

    now = utcnow()
    item_rows = (
        {
            "employer_id": employer_id,
            "case_id": cases[employer_id].id,
            "period": r.period,
            "insurance": r.insurance,
            "kind": r.kind,
            "amount_due_fen": r.amount_due,
            "due_date": r.due_date,
            "principal_paid_fen": 0,
            "fee_paid_fen": 0,
            "settled_on": None,
            "created_at": now,
            "updated_at": now,
        }
        for employer_id, new in new_items.items()
        for r in new
    )
    result.items_new = insert_rows(session, ArrearsItem, item_rows)

    events: list[dict[str, Any]] = []
    for employer_id, new in new_items.items():
        case = cases[employer_id]
        total = sum(r.amount_due for r in new)
        opened = employer_id in created
        events.append(
            event_row(
                case_id=case.id,
                kind="case_opened" if opened else "items_added",
                message=(
                    f"{'case opened with' if opened else 'added'} {len(new)} arrears item(s), "
                    f"¥{format_yuan(total)} principal, from {source}"
                ),
                on_date=today,
                actor=actor,
                policy_version=f"{policy.name} {policy.version}" if opened else None,
                data={
                    "source": file_name,
                    "items": [
                        {
                            "period": r.period,
                            "insurance": r.insurance,
                            "kind": r.kind,
                            "amount_due": format_yuan(r.amount_due),
                            "due_date": str(r.due_date),
                            "line": r.line,
                        }
                        for r in new
                    ],
                },
            )
        )
    if corrections:
        session.connection().execute(
            update(ArrearsItem)
            .where(col(ArrearsItem.id) == bindparam("b_id"))
            .values(
                amount_due_fen=bindparam("b_amount"),
                due_date=bindparam("b_due"),
                kind=bindparam("b_kind"),
                updated_at=bindparam("b_now"),
            ),
            [
                {
                    "b_id": old.id,
                    "b_amount": r.amount_due,
                    "b_due": r.due_date,
                    "b_kind": r.kind,
                    "b_now": now,
                }
                for old, r in corrections
            ],
        )
        for old, r in corrections:
            changes = {
                name: {"from": str(before), "to": str(after)}
                for name, before, after in (
                    ("amount_due", format_yuan(old.amount_due_fen), format_yuan(r.amount_due)),
                    ("due_date", old.due_date, r.due_date),
                    ("kind", old.kind, r.kind),
                )
                if before != after
            }
            described = ", ".join(f"{k} {v['from']} → {v['to']}" for k, v in changes.items())
            events.append(
                event_row(
                    case_id=cases[old.employer_id].id,
                    kind="item_corrected",
                    message=f"{r.period} {r.insurance} corrected: {described} ({source})",
                    on_date=today,
                    actor=actor,
                    data={
                        "period": r.period,
                        "insurance": r.insurance,
                        "changes": changes,
                        "line": r.line,
                    },
                )
            )
    result.items_corrected = len(corrections)
    for employer_id, employer_changes in employer_events.items():
        open_case = cases.get(employer_id)
        if open_case is None:
            continue  # details of an employer with nothing open: kept on the employer only
        described = ", ".join(
            f"{k} {v['from']!r} → {v['to']!r}" for k, v in employer_changes.items()
        )
        events.append(
            event_row(
                case_id=open_case.id,
                kind="employer_updated",
                message=f"employer details changed: {described} ({source})",
                on_date=today,
                actor=actor,
                data={"changes": employer_changes},
            )
        )
    add_events(session, events)
    if progress:
        progress(3 * len(rows) // 4)

    if affected:
        books = load_books(session, affected)
        with_payments = [book for book in books.values() if book.payments]
        rebuild_allocations(session, with_payments, policy.fee_rules)
        outcome = reconcile(
            session,
            books,
            {e: cases[e] for e in affected},
            today=today,
            policy=policy,
            actor=actor,
            source=source,
        )
        result.cases_closed = outcome.cases_closed

    result.changed = bool(affected or employer_events or result.employers_new)
    if result.changed:
        batch = ImportBatch(
            kind="ledger",
            file_name=file_name,
            sha256=sha256,
            rows=len(rows),
            stats=result.as_dict(),
        )
        session.add(batch)
        session.flush()
        result.import_id = batch.id
    if progress:
        progress(len(rows))
    return result


def _upsert_employers(
    session: Session, by_code: dict[str, list[LedgerRow]], result: LedgerImportResult
) -> tuple[dict[str, int], dict[int, dict[str, dict[str, str | None]]]]:
    """Insert new employers and update changed details; returns ids by code and the changes."""
    codes = sorted(by_code)
    ids: dict[str, int] = {}
    current: dict[str, Any] = {}
    for part in chunked(codes):
        for row in session.execute(
            select(
                col(Employer.id),
                col(Employer.code),
                *(getattr(Employer, f) for f in EMPLOYER_FIELDS),
            ).where(col(Employer.code).in_(part))
        ):
            current[row.code] = row
            ids[row.code] = row.id
    now = utcnow()
    fresh = []
    updates = []
    changes_by_employer: dict[int, dict[str, dict[str, str | None]]] = {}
    for code in codes:
        first = by_code[code][0]
        wanted = {
            "name": first.employer_name,
            "district": first.district,
            "contact_name": first.contact_name,
            "mobile": first.mobile,
            "address": first.address,
        }
        old = current.get(code)
        if old is None:
            fresh.append(
                {
                    "code": code,
                    **wanted,
                    "sms_opted_out": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        changes = {
            f: {"from": getattr(old, f), "to": wanted[f]}
            for f in EMPLOYER_FIELDS
            if getattr(old, f) != wanted[f]
        }
        if changes:
            changes_by_employer[old.id] = changes
            updates.append(
                {"b_id": old.id, "b_now": now, **{f"b_{f}": wanted[f] for f in EMPLOYER_FIELDS}}
            )
    if fresh:
        for employer_id, code in insert_returning(session, Employer, fresh, ("id", "code")):
            ids[code] = employer_id
    if updates:
        session.connection().execute(
            update(Employer)
            .where(col(Employer.id) == bindparam("b_id"))
            .values(
                updated_at=bindparam("b_now"), **{f: bindparam(f"b_{f}") for f in EMPLOYER_FIELDS}
            ),
            updates,
        )
        # A new mobile number (or none) changes how their cases are reached.
        review.clear(session, employer_ids=changes_by_employer)
    result.employers_new = len(fresh)
    result.employers_updated = len(updates)
    return ids, changes_by_employer
