"""Document numbers (文号): one sequence per notice type and year, without gaps or duplicates.

A number is taken by one statement, ``INSERT ... ON CONFLICT (notice_type, year) DO UPDATE SET
last = document_sequence.last + 1 RETURNING last``, run in the caller's transaction:

* The first number of a year inserts the row with ``last = 1``; later ones increment it. Two
  transactions that start a new year at once do not collide: the second waits on the first's key
  and then takes the update branch.
* On PostgreSQL the statement locks the sequence row until the caller's transaction ends, so a
  second issuer of the same type and year waits, then reads the committed value and goes on from
  it. On SQLite it takes the database's write lock, held until commit, and other writers wait
  (the busy timeout in ``arrears.db``). Either way no two transactions can hold the same number.
* Because the increment belongs to the caller's transaction, a notice whose transaction rolls back
  gives its number back as well: the next issue gets the same number, and no gap appears.

The price of gap-free numbers is that issuers of one type and year take turns for the rest of
their transactions (on SQLite every writer does). Take the number late, just before the notice is
written and committed, and keep those transactions short. A transaction that takes numbers of
several types should take them in a fixed order (e.g. sorted by type) so that two such
transactions cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from cases.bulk import table
from cases.models import DocumentSequence

_MIN_YEAR = 1900
_MAX_YEAR = 9999


def next_number(session: Session, *, notice_type: str, year: int) -> int:
    """Take the next document number of ``notice_type`` in ``year`` (1 for the year's first).

    The number is taken inside the session's current transaction and is only final when that
    transaction commits; until then other issuers of the same type and year wait.
    """
    if not notice_type:
        raise ValueError("a document number needs a notice type")
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(f"{year} is not a plausible year for a document number")
    values = {"notice_type": notice_type, "year": year, "last": 1}
    key = [col(DocumentSequence.notice_type), col(DocumentSequence.year)]
    increment = {"last": col(DocumentSequence.last) + 1}
    last = col(DocumentSequence.last)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = (
            postgresql_insert(table(DocumentSequence))
            .values(values)
            .on_conflict_do_update(index_elements=key, set_=increment)
            .returning(last)
        )
    elif dialect == "sqlite":
        statement = (
            sqlite_insert(table(DocumentSequence))
            .values(values)
            .on_conflict_do_update(index_elements=key, set_=increment)
            .returning(last)
        )
    else:
        raise NotImplementedError(f"no document numbering for {dialect}")
    number: int = session.connection().execute(statement).scalar_one()
    return number


def format_number(prefix: str, year: int, number: int) -> str:
    """``("津社保催", 2026, 123)`` → ``"津社保催〔2026〕第000123号"``.

    The year goes in the hexagonal brackets 〔〕 that official document numbers use (not 【】 or
    ()), and the number is padded to six digits, wider only past 999999.
    """
    if not prefix:
        raise ValueError("a document number needs a prefix, e.g. 津社保催")
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(f"{year} is not a plausible year for a document number")
    if number < 1:
        raise ValueError(f"document numbers start at 1, not {number}")
    return f"{prefix}〔{year}〕第{number:06d}号"
