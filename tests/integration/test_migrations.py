"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import cases.models  # noqa: F401  (registers the tables)
from arrears.db import upgrade
from arrears.wiring import App


def test_migrated_schema_matches_the_models(store: App) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrade_is_idempotent(store: App) -> None:
    upgrade(store.engine)
    upgrade(store.engine)
    store.check_db()  # at head, so commands accept the store
