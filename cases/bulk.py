"""Bulk writes through SQLAlchemy Core: imports write tens of thousands of rows at a time.

The ORM's bulk path splits an insert wherever a row leaves a column out (a ``None`` it skips),
and stitches RETURNING results together at a cost that grows with the square of the row count;
Core executes one statement per chunk and streams the rows it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlmodel import Session, SQLModel

CHUNK = 5000


def table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(
    session: Session, model: type[SQLModel], rows: Iterable[dict[str, Any]], chunk: int = CHUNK
) -> int:
    """Insert ``rows`` (dicts with every column given) chunk by chunk; returns how many."""
    connection = session.connection()
    count = 0
    for part in _chunks(rows, chunk):
        connection.execute(insert(table(model)), part)
        count += len(part)
    return count


def insert_returning(
    session: Session,
    model: type[SQLModel],
    rows: Iterable[dict[str, Any]],
    columns: Iterable[str],
    chunk: int = CHUNK,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` and return the requested columns, in the order the rows were given."""
    t = table(model)
    statement = insert(t).returning(*(t.c[name] for name in columns), sort_by_parameter_order=True)
    connection = session.connection()
    result: list[tuple[Any, ...]] = []
    for part in _chunks(rows, chunk):
        result.extend(tuple(row) for row in connection.execute(statement, part))
    return result
