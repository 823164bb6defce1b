"""An employer's account in the store: its items, payments and how the payments were applied.

The allocation of payments is derived data: ``rebuild_allocations`` replays an employer's payments
over the items known now (``cases.ledger.allocate``) and rewrites the allocation rows and the paid
amounts cached on the items. Everything here works on many employers at once, in chunks, because
imports and the nightly run touch tens of thousands of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import Session, col

from cases import ledger
from cases.bulk import among, insert_rows, table
from cases.models import Allocation, ArrearsItem, Deferral, Payment

# A deferral's days stay fee-free once it ended early (its ends_on moved back); a revoked one
# never counted.
FEE_FREE_STATUSES = ("active", "ended")

# Well under the bound-parameter limits of SQLite and PostgreSQL, and few round trips.
CHUNK = 900

T = TypeVar("T")


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class ItemRow:
    id: int
    employer_id: int
    case_id: int
    period: str
    insurance: str
    kind: str
    amount_due_fen: int
    due_date: date
    principal_paid_fen: int
    fee_paid_fen: int
    settled_on: date | None

    def as_ledger_item(self) -> ledger.Item:
        return ledger.Item(
            item_id=self.id,
            period=self.period,
            insurance=self.insurance,
            due_date=self.due_date,
            amount_due=self.amount_due_fen,
        )


@dataclass
class Book:
    """One employer's items and payments, enough to compute its position on any date.

    ``deferrals`` holds, by case, the periods a force-majeure deferral keeps fee-free: an item
    accrues no late fee on the days a deferral of its case covers.
    """

    employer_id: int
    items: list[ItemRow] = field(default_factory=list)
    payments: list[ledger.Payment] = field(default_factory=list)
    deferrals: dict[int, list[ledger.FeeFree]] = field(default_factory=dict)

    def fee_free(self) -> dict[int, list[ledger.FeeFree]]:
        """The fee-free periods by item_id, as ``cases.ledger`` takes them."""
        return {
            item.id: self.deferrals[item.case_id]
            for item in self.items
            if item.case_id in self.deferrals
        }

    def position(self, as_of: date, rules: ledger.FeeRules) -> ledger.EmployerPosition:
        return ledger.position(
            [item.as_ledger_item() for item in self.items],
            self.payments,
            as_of,
            rules,
            self.fee_free(),
        )


_item = table(ArrearsItem)
# The columns a book reads of each item (SQLAlchemy Core: plain rows).
_ITEM_COLUMNS = (
    _item.c.id,
    _item.c.employer_id,
    _item.c.case_id,
    _item.c.period,
    _item.c.insurance,
    _item.c.kind,
    _item.c.amount_due_fen,
    _item.c.due_date,
    _item.c.principal_paid_fen,
    _item.c.fee_paid_fen,
    _item.c.settled_on,
)


def load_books(session: Session, employer_ids: Iterable[int]) -> dict[int, Book]:
    ids = sorted(set(employer_ids))
    books = {employer_id: Book(employer_id) for employer_id in ids}
    for part in chunked(ids):
        item_rows = session.execute(select(*_ITEM_COLUMNS).where(among(_item.c.employer_id, part)))
        for row in item_rows:
            books[row.employer_id].items.append(ItemRow(*row))
        payment_rows = session.execute(
            select(
                col(Payment.id),
                col(Payment.employer_id),
                col(Payment.amount_fen),
                col(Payment.paid_on),
            ).where(among(col(Payment.employer_id), part))
        )
        for pid, employer_id, amount, paid_on in payment_rows:
            books[employer_id].payments.append(
                ledger.Payment(payment_id=pid, amount=amount, paid_on=paid_on)
            )
    _load_deferrals(session, books.values())
    return books


def _load_deferrals(session: Session, books: Iterable[Book]) -> None:
    """Put on each book the fee-free periods of the deferrals of its items' cases."""
    owner: dict[int, Book] = {}
    for book in books:
        for item in book.items:
            owner[item.case_id] = book
    case_ids = sorted(owner)
    for part in chunked(case_ids):
        rows = session.execute(
            select(col(Deferral.case_id), col(Deferral.starts_on), col(Deferral.ends_on))
            .where(
                among(col(Deferral.case_id), part),
                col(Deferral.status).in_(FEE_FREE_STATUSES),
            )
            .order_by(col(Deferral.case_id), col(Deferral.starts_on), col(Deferral.id))
        )
        for case_id, starts_on, ends_on in rows:
            owner[case_id].deferrals.setdefault(case_id, []).append(
                ledger.FeeFree(starts_on, ends_on)
            )


_ONE_BOOK_ITEMS = select(*_ITEM_COLUMNS).where(_item.c.employer_id == bindparam("employer_id"))
_ONE_BOOK_DEFERRALS = (
    select(col(Deferral.case_id), col(Deferral.starts_on), col(Deferral.ends_on))
    .where(
        col(Deferral.case_id).in_(
            select(col(ArrearsItem.case_id))
            .where(col(ArrearsItem.employer_id) == bindparam("employer_id"))
            .scalar_subquery()
        ),
        col(Deferral.status).in_(FEE_FREE_STATUSES),
    )
    .order_by(col(Deferral.case_id), col(Deferral.starts_on), col(Deferral.id))
)


def load_book(
    session: Session,
    employer_id: int,
    payments: Iterable[ledger.Payment],
    *,
    deferrals: bool,
) -> Book:
    """One employer's book, for a reader that has its payments already and knows whether any
    of its cases has a fee-free deferral (``deferrals``): a query or two instead of three."""
    book = Book(employer_id, payments=list(payments))
    found = session.connection().execute(_ONE_BOOK_ITEMS, {"employer_id": employer_id})
    book.items.extend(ItemRow(*row) for row in found)
    if deferrals:
        for case_id, starts_on, ends_on in session.execute(
            _ONE_BOOK_DEFERRALS, {"employer_id": employer_id}
        ):
            book.deferrals.setdefault(case_id, []).append(ledger.FeeFree(starts_on, ends_on))
    return book


def rebuild_allocations(
    session: Session, books: Iterable[Book], rules: ledger.FeeRules
) -> dict[int, list[ledger.Allocation]]:
    """Replay each employer's payments and store the result; returns the allocations by employer."""
    result: dict[int, list[ledger.Allocation]] = {}
    allocation_rows: list[dict[str, Any]] = []
    item_updates: list[dict[str, Any]] = []
    employer_ids: list[int] = []
    for book in books:
        employer_ids.append(book.employer_id)
        allocations = ledger.allocate(
            [item.as_ledger_item() for item in book.items],
            book.payments,
            rules,
            book.fee_free(),
        )
        result[book.employer_id] = allocations
        principal: dict[int, int] = defaultdict(int)
        fee: dict[int, int] = defaultdict(int)
        last_part: dict[int, date] = {}
        for a in allocations:
            allocation_rows.append(
                {
                    "payment_id": a.payment_id,
                    "employer_id": book.employer_id,
                    "item_id": a.item_id,
                    "principal_fen": a.principal,
                    "fee_fen": a.fee,
                    "credit_fen": a.credit,
                    "paid_on": a.paid_on,
                }
            )
            if a.item_id is not None:
                principal[a.item_id] += a.principal
                fee[a.item_id] += a.fee
                if a.principal:
                    last_part[a.item_id] = max(a.paid_on, last_part.get(a.item_id, a.paid_on))
        for item in book.items:
            paid = principal.get(item.id, 0)
            settled_on = last_part.get(item.id) if paid >= item.amount_due_fen else None
            new = (paid, fee.get(item.id, 0), settled_on)
            if new != (item.principal_paid_fen, item.fee_paid_fen, item.settled_on):
                item_updates.append(
                    {"b_id": item.id, "b_pp": new[0], "b_fp": new[1], "b_so": new[2]}
                )
    for part in chunked(employer_ids):
        session.execute(delete(Allocation).where(among(col(Allocation.employer_id), part)))
    if allocation_rows:
        insert_rows(session, Allocation, allocation_rows)
    if item_updates:
        session.connection().execute(
            update(ArrearsItem)
            .where(col(ArrearsItem.id) == bindparam("b_id"))
            .values(
                principal_paid_fen=bindparam("b_pp"),
                fee_paid_fen=bindparam("b_fp"),
                settled_on=bindparam("b_so"),
            ),
            item_updates,
        )
    return result


def case_position(
    book: Book, case_id: int, as_of: date, rules: ledger.FeeRules
) -> ledger.EmployerPosition:
    """The employer's position restricted to one case's items.

    Payments are always replayed over all of the employer's items (that is how the money was
    applied), and only then narrowed to the case, so a closed case keeps its own history and an
    open one is not credited with money that went to an earlier episode.
    """
    whole = book.position(as_of, rules)
    own = {i.id for i in book.items if i.case_id == case_id}
    items = {item_id: p for item_id, p in whole.items.items() if item_id in own}
    principal = sum(p.principal_outstanding for p in items.values())
    fee = sum(p.fee_outstanding for p in items.values())
    return ledger.EmployerPosition(
        items=items,
        principal_outstanding=principal,
        fee_outstanding=fee,
        total_due=principal + fee,
        credit=whole.credit,
        settled=principal == 0 and fee == 0,
    )


@dataclass(frozen=True)
class ItemLine:
    """One arrears item of a case as screens list it: what it is and where it stands."""

    period: str
    insurance: str
    kind: str
    due_date: date
    amount_due: int
    principal_paid: int
    principal_outstanding: int
    fee_accrued: int
    fee_paid: int
    fee_outstanding: int
    total_outstanding: int
    days_overdue: int
    settled_on: date | None


def case_items(
    book: Book, case_id: int, as_of: date, rules: ledger.FeeRules
) -> tuple[ledger.EmployerPosition, list[ItemLine]]:
    """The case's position and its items in allocation order, as of ``as_of``."""
    pos = case_position(book, case_id, as_of, rules)
    kinds = {i.id: i.kind for i in book.items}
    own = [i.as_ledger_item() for i in book.items if i.case_id == case_id]
    lines = []
    for item in ledger.allocation_order(own, rules.insurance_order):
        p = pos.items[item.item_id]
        lines.append(
            ItemLine(
                period=item.period,
                insurance=item.insurance,
                kind=kinds[item.item_id],
                due_date=item.due_date,
                amount_due=p.amount_due,
                principal_paid=p.principal_paid,
                principal_outstanding=p.principal_outstanding,
                fee_accrued=p.fee_accrued,
                fee_paid=p.fee_paid,
                fee_outstanding=p.fee_outstanding,
                total_outstanding=p.total_outstanding,
                days_overdue=p.days_overdue,
                settled_on=p.settled_on,
            )
        )
    return pos, lines
