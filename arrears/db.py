"""Engines and schema migration for the case store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, inspect

from arrears.settings import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A web worker runs up to 40 requests at once in its thread pool, each checking a connection
    # out: keep 20 open rather than the default 5, so a busy minute does not open and close a
    # server connection per request.
    options: dict[str, Any] = {"pool_size": 20, "max_overflow": 20}
    engine = create_engine(url, **(options | kwargs))
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _pinger(engine.dialect))
    return engine


# A pooled connection that sat unused this long is pinged before it is handed out; one used since
# is not. The server restarted or a firewall dropped an idle connection: the ping finds it and the
# pool connects afresh, where a request would have failed. A connection in steady use costs no
# ping (``pool_pre_ping`` pings at every checkout: two of a request's round trips).
IDLE_PING_SECONDS = 10.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["checked_in_at"] = time.monotonic()


def _pinger(dialect: Any) -> Any:
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("checked_in_at")
        if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool throws this connection away and tries another (or a new one).
            raise exc.DisconnectionError(f"a pooled connection went stale: {error}") from error

    return ping_if_idle


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets officers read while the nightly run writes; SQLite leaves foreign keys off.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A night writes tens of thousands of rows and reads the open cases' books: 32 MB of page
    # cache (the default is 2 MB), and the WAL copied back to the database every 16 MB rather
    # than every 4 MB, so pages written several times in a night are copied back once.
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.execute("PRAGMA wal_autocheckpoint=4000")
    cursor.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
