"""PostgreSQL statements run on the event loop by asyncpg: for the web app's busiest requests.

The web app reads the signed-in user on every request, and officers take cases from the queue
back to back. Through the ORM in the web server's thread pool, each such request handed work to
a thread and back and spent most of its time in Python around the database (on a two-core
machine, some 5 ms of a worker's time for a take-next request, see bench/README.md). Here the
same statements, built with SQLAlchemy as everywhere else, are compiled once and executed by
asyncpg on the serving process's event loop: no thread, and a prepared statement per
connection.

* :class:`Direct` is one statement compiled for asyncpg. Its parameters go through the same
  SQLAlchemy type processing as through an engine (time zones, JSON); so do the result's columns
  of a ``SELECT`` (a data-modifying statement returns plain integers and text here).
* :class:`DirectStore` is a pool of autocommit connections: each statement is a transaction of
  its own, so only a statement that is atomic alone may run here (a claim and its chained event
  are one statement, ``cases.claims``).

A store belongs to the event loop it was opened on; ``usable()`` says whether the running loop
is that one. Callers fall back to the ORM when it is not (SQLite, or an app served without its
lifespan).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Executable, Select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

IDLE_SECONDS = 10.0
APPLICATION_NAME = "arrears web (direct)"  # as pg_stat_activity shows the pool's connections
DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
Row = tuple[Any, ...]


class Direct:
    """``statement`` compiled for asyncpg once: its SQL, its parameters' order and processors."""

    def __init__(self, statement: Executable) -> None:
        compiled = statement.compile(dialect=DIALECT)  # type: ignore[attr-defined]
        if compiled.positiontup is None:
            raise ValueError("a statement without positional parameters cannot run on asyncpg")
        self.sql: str = str(compiled)
        self._compiled = compiled
        self._order: list[str] = list(compiled.positiontup)
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(DIALECT).bind_processor(DIALECT)
            if process is not None:
                self._binds[name] = process
        self._results: list[Callable[[Any], Any] | None] = []
        if isinstance(statement, Select):
            for column in statement.selected_columns:
                impl = column.type.dialect_impl(DIALECT)
                self._results.append(impl.result_processor(DIALECT, None))

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The statement's parameters in order, from ``values`` by name (and its own literals),
        each as SQLAlchemy would send it. ``KeyError``-like ``InvalidRequestError`` when one is
        missing."""
        params = self._compiled.construct_params(dict(values))
        out = []
        for name in self._order:
            value = params[name]
            process = self._binds.get(name)
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def row(self, record: Sequence[Any] | None) -> Row | None:
        if record is None:
            return None
        if not self._results:
            return tuple(record)
        return tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(record, self._results, strict=True)
        )


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL of a PostgreSQL store as asyncpg takes it (no driver name, and no
    ``connect_timeout``: asyncpg would send it to the server as a setting, see
    :func:`connect_timeout`)."""
    url = make_url(database_url)
    query = {k: v for k, v in url.query.items() if k != "connect_timeout"}
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def connect_timeout(database_url: str) -> float | None:
    """libpq's ``connect_timeout`` of the URL in seconds (asyncpg's ``timeout``), if it has one."""
    value = make_url(database_url).query.get("connect_timeout")
    if isinstance(value, tuple):
        value = value[-1]
    return float(value) if value else None


async def _json_codecs(connection: Any) -> None:
    """JSON as SQLAlchemy's asyncpg dialect passes it: its bind processors send JSON text, and a
    column read back is decoded here (asyncpg alone hands the text over)."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name,
            encoder=_unchanged,
            decoder=json.loads,
            schema="pg_catalog",
            format="text",
        )


async def _nothing_to_reset(_connection: Any) -> None:
    return None


def _unchanged(text: str) -> str:
    return text


class DirectStore:
    """A small pool of asyncpg connections to the store, in autocommit, on one event loop."""

    def __init__(self, database_url: str, *, size: int = 8) -> None:
        if make_url(database_url).get_backend_name() != "postgresql":
            raise ValueError("statements run directly on PostgreSQL only")
        self._dsn = asyncpg_dsn(database_url)
        self._timeout = connect_timeout(database_url)
        self._size = size
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        """Open the pool on the running loop (its connections are made as they are needed)."""
        if self._pool is not None:
            return
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._size,
            # A connection unused this long is closed, and the next request connects afresh: a
            # restarted server or a firewall that dropped an idle connection costs no request.
            max_inactive_connection_lifetime=IDLE_SECONDS,
            init=_json_codecs,
            # asyncpg resets a returned connection's session state with a round trip of its
            # own; a single autocommit statement leaves none behind.
            reset=_nothing_to_reset,
            server_settings={"application_name": APPLICATION_NAME},
            **({} if self._timeout is None else {"timeout": self._timeout}),
        )
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    def usable(self) -> bool:
        """Open, and on the loop that is running now."""
        if self._pool is None:
            return False
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def one(self, direct: Direct, values: Mapping[str, Any]) -> Row | None:
        """Run ``direct`` (a transaction of its own) and return its first row, or None."""
        if not self.usable():
            raise RuntimeError("the direct store is not open on this event loop")
        arguments = direct.arguments(values)
        async with self._pool.acquire() as connection:
            record = await connection.fetchrow(direct.sql, *arguments)
        return direct.row(record)
