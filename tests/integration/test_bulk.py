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
