"""A case's record: every table that holds rows of a case, and how a row names its case.

The archive writes a case's record out from here and the retention purge removes it from here,
so the two can never disagree about what "the case's record" is. The order is children first:
deleting in this order never leaves a row pointing at a removed one.

Payments belong to the employer, not to a case: the record holds the payments applied to the
case's items and how they were applied (``allocation``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Table, select
from sqlmodel import Session, SQLModel

from cases.bulk import among, table
from cases.models import (
    Allocation,
    ApprovalRequest,
    ArrearsItem,
    BankInquiry,
    Case,
    CaseEvent,
    CaseLogHead,
    CourtApplication,
    Deferral,
    EmployerStatement,
    Fine,
    Guarantee,
    Instalment,
    LegalChallenge,
    Notice,
    OfficerTask,
    PaymentAgreement,
    PromiseToPay,
    TransferExecution,
    WriteOffDocument,
)


@dataclass(frozen=True)
class RecordTable:
    model: type[SQLModel]
    # How a row names its case: its own column, or through its parent (an instalment's agreement,
    # a write-off document's request, an allocation's item).
    owner: str  # "case_id" | "id" | "agreement" | "request" | "item"

    @property
    def name(self) -> str:
        return str(self.model.__tablename__)

    @property
    def table(self) -> Table:
        return table(self.model)


# Children first: the order the purge deletes in.
RECORD: tuple[RecordTable, ...] = (
    RecordTable(Instalment, "agreement"),
    RecordTable(WriteOffDocument, "request"),
    RecordTable(TransferExecution, "case_id"),
    RecordTable(Fine, "case_id"),
    RecordTable(CourtApplication, "case_id"),
    RecordTable(PaymentAgreement, "case_id"),
    RecordTable(Guarantee, "case_id"),
    RecordTable(LegalChallenge, "case_id"),
    RecordTable(Deferral, "case_id"),
    RecordTable(EmployerStatement, "case_id"),
    RecordTable(BankInquiry, "case_id"),
    RecordTable(PromiseToPay, "case_id"),
    RecordTable(ApprovalRequest, "case_id"),
    RecordTable(OfficerTask, "case_id"),
    RecordTable(Notice, "case_id"),
    RecordTable(Allocation, "item"),
    RecordTable(ArrearsItem, "case_id"),
    RecordTable(CaseEvent, "case_id"),
    RecordTable(CaseLogHead, "case_id"),
    RecordTable(Case, "id"),
)


def owned_by(entry: RecordTable, case_ids: Collection[int]) -> Any:
    """The WHERE clause selecting ``entry``'s rows of these cases."""
    t = entry.table
    ids = sorted(case_ids)
    if entry.owner == "agreement":
        parent = table(PaymentAgreement)
        return t.c.agreement_id.in_(select(parent.c.id).where(among(parent.c.case_id, ids)))
    if entry.owner == "request":
        parent = table(ApprovalRequest)
        return t.c.request_id.in_(select(parent.c.id).where(among(parent.c.case_id, ids)))
    if entry.owner == "item":
        parent = table(ArrearsItem)
        return t.c.item_id.in_(select(parent.c.id).where(among(parent.c.case_id, ids)))
    return among(t.c[entry.owner], ids)


def case_of(session: Session, entry: RecordTable, rows: list[dict[str, Any]]) -> dict[int, int]:
    """For rows of ``entry`` (as dicts), each row's case, by the row's id."""
    if entry.owner in ("case_id", "id"):
        return {row["id"] if "id" in row else row["case_id"]: row[entry.owner] for row in rows}
    parent, column = {
        "agreement": (table(PaymentAgreement), "agreement_id"),
        "request": (table(ApprovalRequest), "request_id"),
        "item": (table(ArrearsItem), "item_id"),
    }[entry.owner]
    wanted = sorted({row[column] for row in rows if row[column] is not None})
    owners = {
        r[0]: r[1]
        for r in session.execute(
            select(parent.c.id, parent.c.case_id).where(among(parent.c.id, wanted))
        )
    }
    return {row["id"]: owners[row[column]] for row in rows if row[column] in owners}


def rows(session: Session, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in session.execute(query).mappings()]


def record_rows(
    session: Session, entry: RecordTable, case_ids: Collection[int]
) -> list[dict[str, Any]]:
    t = entry.table
    order = t.c.id if "id" in t.c else t.c.case_id
    return rows(session, select(t).where(owned_by(entry, case_ids)).order_by(order))


def plain(value: Any) -> Any:
    """A column's value as JSON: dates as YYYY-MM-DD, instants as ISO 8601 with their offset."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def to_json(document: Any) -> bytes:
    """Stable, readable JSON (sorted keys, UTF-8 text as is, a final newline)."""
    return (
        json.dumps(plain(document), ensure_ascii=False, sort_keys=True, indent=1, allow_nan=False)
        + "\n"
    ).encode("utf-8")


def by_case(
    session: Session, entry: RecordTable, found: Iterable[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    found = list(found)
    owners = case_of(session, entry, found)
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in found:
        key = row["id"] if "id" in row else row["case_id"]
        if key in owners:
            grouped.setdefault(owners[key], []).append(row)
    return grouped
