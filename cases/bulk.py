"""Bulk writes through SQLAlchemy Core: imports write tens of thousands of rows at a time.

The ORM's bulk path splits an insert wherever a row leaves a column out (a ``None`` it skips),
and stitches RETURNING results together at a cost that grows with the square of the row count;
Core executes one statement per chunk and streams the rows it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any, cast

from sqlalchemy import Boolean, Insert, Table, any_, bindparam, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session, SQLModel

CHUNK = 5000


def table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


@cache
def _insert_into(model: type[SQLModel]) -> Insert:
    """A plain INSERT into ``model``'s table, built once (its cache key then is computed once)."""
    return insert(table(model))


def insert_rows(
    session: Session, model: type[SQLModel], rows: Iterable[dict[str, Any]], chunk: int = CHUNK
) -> int:
    """Insert ``rows`` (dicts with every column given) chunk by chunk; returns how many."""
    connection = session.connection()
    count = 0
    chained = getattr(model, "__tablename__", None) == "case_event"
    for part in _chunks(rows, chunk):
        if chained and any(row.get("hash") is None for row in part):
            raise ValueError("case events are written through cases.casework.add_events (chained)")
        connection.execute(_insert_into(model), part)
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


class among(ColumnElement[bool]):
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter.

    A list of a thousand ids as a thousand parameters makes every query text different: psycopg
    parses each anew and the server plans each anew. One array parameter keeps the text the same
    and costs a third of the time (measured on the nightly run's batches of ids). The values are
    bound parameters (an expanding list elsewhere), so a statement using ``among`` is compiled
    once and taken from SQLAlchemy's cache after that, whatever the ids.
    """

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" where booleans are integers (SQLite)
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy declares it an instance variable)
        ("column", InternalTraversal.dp_clauseelement),
        ("listed", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self, column: Any, values: Iterable[Any] | None = None, *, key: str | None = None
    ) -> None:
        """``values`` now, or ``key``: the list is then the parameter of that name, given each
        time the statement runs (a statement built once and kept, as ``cases.direct`` needs)."""
        if (values is None) == (key is None):
            raise TypeError("among takes either the values or the name of their parameter")
        # a Core column or an ORM attribute (``col(Case.id)``): both compare and carry a type
        self.column: ColumnElement[Any] = column
        if key is not None:
            self.listed = bindparam(key, expanding=True, type_=column.type)
            self.array = bindparam(key, type_=ARRAY(column.type))
        else:
            listed = list(values or ())
            self.listed = bindparam(None, listed, expanding=True, type_=column.type)
            self.array = bindparam(None, listed, type_=ARRAY(column.type))


@compiles(among)
def _among_in(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.listed), **kw)


@compiles(among, "postgresql")
def _among_any(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column == any_(element.array), **kw)
