"""``cases.bulk.among``: the same rows as ``IN``, on either store, for any number of ids."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases.bulk import among, insert_rows
from cases.models import Employer


def test_among_selects_the_rows_named(store: App) -> None:
    now = datetime.now(UTC)
    with store.session() as session:
        insert_rows(
            session,
            Employer,
            (
                {
                    "code": f"91120000{n:010d}",
                    "name": f"单位{n}",
                    "district": "和平区",
                    "sms_opted_out": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(3000)
            ),
        )
    with store.session() as session:
        ids = list(session.execute(select(col(Employer.id)).order_by(col(Employer.id))).scalars())

        def named(values: list[int]) -> list[int]:
            query = select(col(Employer.id)).where(among(col(Employer.id), values))
            return sorted(session.execute(query.order_by(col(Employer.id))).scalars())

        wanted = ids[::3]  # a thousand ids: one parameter on PostgreSQL, an IN list on SQLite
        assert named(wanted) == wanted
        assert named([*ids[:2], -1, 10**9]) == ids[:2]  # ids that match nothing are skipped
        assert named([]) == []
        assert session.execute(
            select(col(Employer.code)).where(among(col(Employer.code), ["911200000000000007"]))
        ).scalars().all() == ["911200000000000007"]


def test_among_looks_rows_up_by_index(store: App) -> None:
    """The condition stays a plain comparison the planner can search an index with."""
    query = select(col(Employer.code)).where(among(col(Employer.id), [3, 5, 8]))
    with store.engine.connect() as connection:
        sql = str(query.compile(connection, compile_kwargs={"render_postcompile": True}))
        params = query.compile(connection, compile_kwargs={"render_postcompile": True}).params
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params.values()))
            details = " ".join(str(row[-1]) for row in plan)
            assert "SEARCH employer USING INTEGER PRIMARY KEY" in details, details
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {sql}", params)
            details = " ".join(str(row[0]) for row in plan)
            assert "Index" in details and "= ANY" in details, details
