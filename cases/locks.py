"""Named locks held for the length of a transaction.

Two imports that touch the same employer must not interleave: both would insert the employer and
one would fail on the unique code half-way through. Each writer takes the lock first and the
second waits for the first to commit. On PostgreSQL this is an advisory transaction lock; on
SQLite, writing the lock row takes the database's write lock, which is held until commit.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from cases.bulk import table
from cases.models import StoreLock, utcnow

IMPORTS = "imports"


def hold(session: Session, name: str, *, holder: str) -> None:
    """Block until this transaction holds lock ``name``; it is released at commit or rollback."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))
        return
    if dialect == "sqlite":
        values = {"name": name, "held_by": holder, "taken_at": utcnow()}
        statement = sqlite_insert(table(StoreLock)).values(values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "held_by": statement.excluded.held_by,
                    "taken_at": statement.excluded.taken_at,
                },
            )
        )
        return
    raise NotImplementedError(f"no lock implementation for {dialect}")
