"""Shared fixtures: a migrated case store on SQLite and on PostgreSQL for every storage test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from arrears.db import make_engine, upgrade
from arrears.settings import Settings, normalise_database_url
from arrears.wiring import App

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the whole session: an ephemeral one costs ~15 s to start."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "arrears.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated once."""
    admin_url = normalise_database_url(os.environ.get("ARREARS_TEST_POSTGRES_URL", DEFAULT_PG))
    name = f"arrears_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"PostgreSQL at {admin_url} is needed for the storage tests: {exc}")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        # The log's append-only triggers refuse TRUNCATE; a throwaway test database is emptied
        # with triggers off, as only a superuser can.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for one test's case store (ARREARS_DATA_DIR, and the URL on PostgreSQL)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    env = {"ARREARS_DATA_DIR": str(data_dir)}
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "arrears.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
        env["ARREARS_DATABASE_URL"] = url
    return env


@pytest.fixture
def store(db_env: dict[str, str]) -> Iterator[App]:
    """The application wired to this test's case store."""
    app = App(
        Settings(
            data_dir=Path(db_env["ARREARS_DATA_DIR"]),
            database_url=db_env.get("ARREARS_DATABASE_URL"),
        )
    )
    yield app
    app.engine.dispose()
