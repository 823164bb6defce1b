"""Use case: take in the bank's reply file to the agency's balance inquiries.

Each line of the file is one account's balance on a date; it becomes a bank inquiry
(``source="bank_file"``) on the employer's open case, which forced transfer and collateral read.
A reference (the bank's serial number of the line) is unique: a line seen before is skipped when
it matches the stored inquiry and refused when it does not, so importing the same file twice
changes nothing. Any bad line refuses the whole file: the caller writes nothing unless
``BankReplyCheck.errors`` is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases import locks, review
from cases.accounts import chunked
from cases.casework import add_events, event_row
from cases.importers import BankReplyRow, RowError
from cases.models import BankInquiry, Case, Employer, ImportBatch
from cases.money import format_yuan

IMPORT_KIND = "bank_replies"


@dataclass
class BankReplyCheck:
    """Lines that can be written (with their case), lines already imported, and bad lines."""

    new: list[tuple[BankReplyRow, int]] = field(default_factory=list)  # (row, case id)
    already: list[BankReplyRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class BankReplyImportResult:
    rows: int = 0
    inquiries_new: int = 0
    inquiries_already_imported: int = 0
    cases: int = 0
    changed: bool = False
    import_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "import_id"}


def check_bank_replies(
    session: Session, rows: Sequence[BankReplyRow], *, file_name: str, today: date
) -> BankReplyCheck:
    """What needs the store: the employer and its open case, the date, references seen before.

    Holds the imports lock, as a payment file does, so two imports cannot both take a reference.
    """
    locks.hold(session, locks.IMPORTS, holder=f"bank replies {file_name}")
    check = BankReplyCheck()
    codes = sorted({r.employer_code for r in rows})
    employers: dict[str, int] = {}
    open_cases: dict[int, int] = {}
    for part in chunked(codes):
        for employer_id, code in session.execute(
            select(col(Employer.id), col(Employer.code)).where(col(Employer.code).in_(part))
        ):
            employers[code] = employer_id
    for ids in chunked(sorted(employers.values())):
        for employer_id, case_id in session.execute(
            select(col(Case.employer_id), col(Case.id)).where(
                col(Case.employer_id).in_(ids), col(Case.closed_on).is_(None)
            )
        ):
            open_cases[employer_id] = case_id
    known: dict[str, tuple[BankInquiry, str]] = {}  # reference -> (inquiry, employer code)
    for refs in chunked(sorted({r.reference for r in rows})):
        for inquiry, code in session.execute(
            select(BankInquiry, col(Employer.code))
            .join(Case, col(Case.id) == col(BankInquiry.case_id))
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(col(BankInquiry.reference).in_(refs))
        ):
            known[inquiry.reference or ""] = (inquiry, code)
    for r in rows:

        def err(column: str, value: str, reason: str, r: BankReplyRow = r) -> None:
            check.errors.append(RowError(file_name, r.line, column, value, reason))

        seen = known.get(r.reference)
        if seen is not None:
            old, old_code = seen
            same = (
                old_code,
                old.account_number,
                old.balance_fen,
                old.inquired_on,
            ) == (r.employer_code, r.account_number, r.balance, r.inquired_on)
            if same:
                check.already.append(r)
            else:
                err(
                    "reference",
                    r.reference,
                    f"this reference was already imported for case {old.case_id}: account "
                    f"ending {old.account_number[-4:]}, ¥{format_yuan(old.balance_fen)} on "
                    f"{old.inquired_on}",
                )
            continue
        employer_id = employers.get(r.employer_code)
        if employer_id is None:
            err("employer_code", r.employer_code, "no employer with this code in the case store")
        elif employer_id not in open_cases:
            err("employer_code", r.employer_code, "the employer has no open case")
        elif r.inquired_on > today:
            err("inquired_on", str(r.inquired_on), f"dated after today ({today})")
        else:
            check.new.append((r, open_cases[employer_id]))
    return check


def import_bank_replies(
    *,
    session: Session,
    check: BankReplyCheck,
    file_name: str,
    sha256: str,
    actor: str = "system:import",
    today: date,
) -> BankReplyImportResult:
    """Write the new inquiries of a checked file; the caller commits. Refuses a file with errors."""
    if check.errors:
        raise ValueError(f"{file_name}: {len(check.errors)} bad line(s); nothing may be written")
    result = BankReplyImportResult(
        rows=len(check.new) + len(check.already), inquiries_already_imported=len(check.already)
    )
    if not check.new:
        return result
    batch = ImportBatch(kind=IMPORT_KIND, file_name=file_name, sha256=sha256, rows=result.rows)
    session.add(batch)
    session.flush()
    events: list[dict[str, Any]] = []
    for r, case_id in check.new:
        session.add(
            BankInquiry(
                case_id=case_id,
                bank_name=r.bank_name,
                account_number=r.account_number,
                balance_fen=r.balance,
                inquired_on=r.inquired_on,
                recorded_by=actor,
                source="bank_file",
                reference=r.reference,
                import_id=batch.id,
            )
        )
        events.append(
            event_row(
                case_id=case_id,
                kind="bank_inquiry_recorded",
                message=(
                    f"the bank's reply {r.reference} ({file_name}): {r.bank_name} account ending "
                    f"{r.account_number[-4:]} held ¥{format_yuan(r.balance)} on {r.inquired_on}"
                ),
                on_date=today,
                actor=actor,
                data={
                    "bank_name": r.bank_name,
                    "account_number": r.account_number,
                    "balance": format_yuan(r.balance),
                    "inquired_on": str(r.inquired_on),
                    "source": "bank_file",
                    "reference": r.reference,
                    "import_id": batch.id,
                },
            )
        )
    session.flush()
    add_events(session, events)
    touched = {case_id for _, case_id in check.new}
    review.clear(session, case_ids=touched)
    result.inquiries_new = len(check.new)
    result.cases = len(touched)
    result.changed = True
    result.import_id = batch.id
    batch.stats = result.as_dict()
    session.add(batch)
    return result
