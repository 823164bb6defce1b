"""Two imports at once over the same employers: both land whole, one after the other."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from arrears.wiring import App
from cases.importers import read_ledger
from cases.intake import import_ledger
from cases.models import ArrearsItem, Case, Employer
from tests.factories import CODES, ledger_row, write_ledger


def test_concurrent_ledger_imports_do_not_collide(store: App, tmp_path: Path) -> None:
    # Both files create the same ten employers, each with a different month of arrears.
    files = [
        write_ledger(
            tmp_path / f"{month}.csv",
            [
                ledger_row(code, period=f"2026-0{month}", due_date=f"2026-0{month + 1}-15")
                for code in CODES[:10]
            ],
        )
        for month in (7, 8)
    ]
    parsed = [read_ledger(f) for f in files]
    assert all(p.ok for p in parsed)
    store.init_db()
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            with store.session() as session:
                import_ledger(
                    session=session,
                    rows=parsed[index].rows,
                    file_name=files[index].name,
                    sha256=str(index),
                    today=date(2026, 10, 1),
                    policy=store.policy_ref,
                )
        except BaseException as exc:  # reported below, with the thread's own traceback lost
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    with store.session() as session:
        employers = session.execute(select(func.count()).select_from(Employer)).scalar_one()
        items = session.execute(select(func.count()).select_from(ArrearsItem)).scalar_one()
        cases = session.execute(select(func.count()).select_from(Case)).scalar_one()
    assert (employers, items, cases) == (10, 20, 10)
