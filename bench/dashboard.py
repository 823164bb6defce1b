"""Benchmark: the supervisors' dashboard over 100,000 cases, and its four charts.

Run from the repository root:

    .venv/bin/python bench/dashboard.py [--cases 100000] [--backend sqlite|postgres|both]
        [--pg-url URL] [--runs 5]

For each backend it builds one migrated store by bulk inserts (not the importer): employers
spread over Tianjin's 16 districts, one case each (85 % open along the ladder, 10 % closed paid,
5 % written off), 3 arrears items per case over the past two years, a payment with its
allocations for two employers in five, and a target per district. It then times
``cases.dashboard.dashboard`` as an admin (every district) and as a supervisor of one district,
``--runs`` times each (the median counts; the first run, with cold caches, is shown apart), and
the four charts drawn from the admin's figures. PostgreSQL's store is ANALYZEd, as autovacuum
would have done; SQLite's is not, as nothing in the application runs ANALYZE there.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `python bench/dashboard.py` puts bench/ first

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from arrears.db import make_engine, upgrade  # noqa: E402
from cases.access import Actor, Role  # noqa: E402
from cases.bulk import insert_returning, insert_rows  # noqa: E402
from cases.dashboard import dashboard  # noqa: E402
from cases.models import (  # noqa: E402
    Allocation,
    ArrearsItem,
    Case,
    DistrictTarget,
    Employer,
    Payment,
)

AS_OF = date(2026, 11, 26)
SEED = 2016
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DISTRICTS = (
    "和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区",
    "津南区", "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区",
)  # fmt: skip
STEPS = ((0, None), (1, "sms_reminder"), (2, "phone_reminder"), (3, "reminder_letter"),
         (4, "interview"), (6, "order_to_pay"), (7, "enforcement_demand"))  # fmt: skip
INSURANCES = ("pension", "medical", "work_injury")


def build(engine: Any, cases: int) -> None:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with Session(engine) as session:
        employers = insert_returning(
            session,
            Employer,
            (
                {
                    "code": f"9112{i:014d}",
                    "name": f"天津第{i}商贸有限公司",
                    "district": DISTRICTS[i % len(DISTRICTS)],
                    "contact_name": None,
                    "mobile": None,
                    "address": None,
                    "sms_opted_out": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(cases)
            ),
            ["id"],
        )
        case_rows = []
        fates = []
        for (employer_id,) in employers:
            first = AS_OF - timedelta(days=rng.randint(1, 720))
            roll = rng.random()
            fate = "open" if roll < 0.85 else "closed_paid" if roll < 0.95 else "written_off"
            closed = AS_OF - timedelta(days=rng.randint(0, 300)) if fate != "open" else None
            level, step = rng.choice(STEPS)
            fates.append((employer_id, first, fate, closed))
            case_rows.append(
                {
                    "employer_id": employer_id,
                    "status": fate if fate != "open" else rng.choice(["open"] * 8 + ["promised"]),
                    "stage": level,
                    "stage_step": step,
                    "opened_on": first,
                    "closed_on": closed,
                    "first_overdue_on": first,
                    "policy_name": "tianjin-2016",
                    "policy_version": "bench",
                    "officer_id": None,
                    "claimed_at": None,
                    "priority": 0,
                    "uncooperative": False,
                    "malicious": False,
                    "next_review_on": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        case_ids = [cid for (cid,) in insert_returning(session, Case, case_rows, ["id"])]
        item_rows = []
        for (employer_id, first, _, _), case_id in zip(fates, case_ids, strict=True):
            for k, insurance in enumerate(INSURANCES):
                due = first - timedelta(days=1) + timedelta(days=30 * k)
                item_rows.append(
                    {
                        "employer_id": employer_id,
                        "case_id": case_id,
                        "period": f"{due.year:04d}-{due.month:02d}",
                        "insurance": insurance,
                        "kind": "declared_unpaid",
                        "amount_due_fen": rng.randint(50_000, 5_000_000),
                        "due_date": due,
                        "principal_paid_fen": 0,
                        "fee_paid_fen": 0,
                        "settled_on": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        item_ids = insert_returning(session, ArrearsItem, item_rows, ["id"])
        payment_rows, payers = [], []
        for index, (employer_id, _first, fate, closed) in enumerate(fates):
            if fate == "closed_paid" or rng.random() < 0.35:
                items = item_rows[3 * index : 3 * index + 3]
                paid_on = min(AS_OF, max(i["due_date"] for i in items) + timedelta(days=20))
                if closed:
                    paid_on = min(paid_on, closed)
                share = 1.0 if fate == "closed_paid" else rng.uniform(0.1, 0.9)
                principal = [int(i["amount_due_fen"] * share) for i in items]
                payers.append((employer_id, index, principal, paid_on))
                payment_rows.append(
                    {
                        "employer_id": employer_id,
                        "amount_fen": sum(principal) + 1000,
                        "paid_on": paid_on,
                        "reference": f"SN{employer_id:012d}",
                        "import_id": None,
                        "created_at": now,
                    }
                )
        payment_ids = insert_returning(session, Payment, payment_rows, ["id"])
        allocation_rows = []
        for (payment_id,), (employer_id, index, principal, paid_on) in zip(
            payment_ids, payers, strict=True
        ):
            for k, part in enumerate(principal):
                allocation_rows.append(
                    {
                        "payment_id": payment_id,
                        "employer_id": employer_id,
                        "item_id": item_ids[3 * index + k][0],
                        "principal_fen": part,
                        "fee_fen": 1000 if k == 0 else 0,
                        "credit_fen": 0,
                        "paid_on": paid_on,
                    }
                )
        insert_rows(session, Allocation, allocation_rows)
        insert_rows(
            session,
            DistrictTarget,
            (
                {
                    "district": d,
                    "year": 2026,
                    "quarter": 4,
                    "recovery_fen": 100_000_000_00,
                    "cases_closed": 500,
                    "set_by": "bench",
                    "created_at": now,
                }
                for d in DISTRICTS
            ),
        )
        session.commit()
    print(
        f"  built: {cases} cases, {len(item_rows)} items, {len(payment_rows)} payments, "
        f"{len(allocation_rows)} allocations",
        file=sys.stderr,
    )


def timed(runs: int, work: Callable[[], Any]) -> tuple[float, float, Any]:
    seconds = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return seconds[0], statistics.median(seconds[1:] or seconds), result


def measure(backend: str, engine: Any, runs: int) -> None:
    admin = Actor(0, "admin", Role.ADMIN, frozenset())
    supervisor = Actor(1, "sup", Role.SUPERVISOR, frozenset({"南开区"}))

    def figures(actor: Actor) -> Any:
        with Session(engine) as session:
            return dashboard(session, actor=actor, as_of=AS_OF, months=12)

    load = os.getloadavg()[0]
    for label, actor in (("admin, 16 districts", admin), ("supervisor, 1 district", supervisor)):
        first, median, result = timed(runs, lambda a=actor: figures(a))
        print(
            f"{backend:8} {label:24} first {first:6.2f} s   median {median:6.2f} s   "
            f"open {result.open_cases:,}  owed ¥{result.owed_fen // 100:,}   load {load:.1f}"
        )
    from web import charts

    d = figures(admin)
    drawings: dict[str, Callable[[], str]] = {
        "stage_bars": lambda: charts.stage_bars(
            d.stages, title="在办案件", step_labels={}, value_label="案件数"
        ),
        "aging_bars": lambda: charts.aging_bars(
            d.aging, title="欠费账龄", band_labels={}, value_label="欠费本金"
        ),
        "owed_recovered_lines": lambda: charts.owed_recovered_lines(
            d.months, title="欠费与追回", owed_label="欠费", recovered_label="追回"
        ),
        "district_progress_bars": lambda: charts.district_progress_bars(
            d.progress,
            title="本季度进度",
            recovered_label="已追回",
            cases_label="已结案",
            target_label="目标",
        ),
    }
    for name, draw in drawings.items():
        first, median, svg = timed(max(runs, 10), draw)
        print(
            f"{'chart':8} {name:24} first {first * 1000:6.1f} ms  median {median * 1000:6.1f} ms"
            f"  {len(svg.encode()) / 1000:.1f} kB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("ARREARS_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
            upgrade(engine)
            build(engine, args.cases)
            measure("sqlite", engine, args.runs)
            engine.dispose()
    if args.backend in ("postgres", "both"):
        name = f"arrears_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
            engine = make_engine(url)
            upgrade(engine)
            build(engine, args.cases)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
            measure("postgres", engine, args.runs)
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
