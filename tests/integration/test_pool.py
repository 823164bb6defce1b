"""Pooled PostgreSQL connections: one left idle is checked before use, one in use is not."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from arrears import db

pytestmark = pytest.mark.postgres


def _backend(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every connection counts as idle
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    first = _backend(engine)
    _terminate(postgres_url, first)  # a server restart, or a firewall dropping it
    second = _backend(engine)  # no error: the ping found it dead, the pool connected afresh
    assert second != first
    engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    first = _backend(engine)
    assert _backend(engine) == first
    assert pings == []
    _terminate(postgres_url, first)
    with pytest.raises(OperationalError):  # used a moment ago: not pinged, so this one fails
        _backend(engine)
    assert _backend(engine) != first  # and the pool has replaced it for the next request
    engine.dispose()
