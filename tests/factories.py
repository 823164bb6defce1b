"""Test data in one place: ledger and payment files, valid employer codes, cases and users."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from arrears.sample import make_uscc
from cases.access import Actor
from cases.importers import LEDGER_COLUMNS, PAYMENT_COLUMNS

_rng = random.Random(86)
CODES = [make_uscc(_rng, "120101") for _ in range(20)]


def ledger_row(code: str = CODES[0], **fields: str) -> dict[str, str]:
    row = {
        "employer_code": code,
        "employer_name": "天津市和平区某某商贸有限公司",
        "district": "和平区",
        "period": "2026-08",
        "insurance": "pension",
        "amount_due": "10000.00",
        "due_date": "2026-09-15",
        "kind": "declared_unpaid",
        "contact_name": "张伟",
        "mobile": "13812345678",
        "address": "天津市和平区南京路1号",
    }
    row.update(fields)
    return row


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, str]],
    columns: Iterable[str] = LEDGER_COLUMNS,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_ledger(path: Path, rows: Iterable[Mapping[str, str]], encoding: str = "utf-8") -> Path:
    return write_csv(path, rows, LEDGER_COLUMNS, encoding)


def write_payments(path: Path, rows: Iterable[tuple[str, str, str, str]]) -> Path:
    return write_csv(
        path, (dict(zip(PAYMENT_COLUMNS, r, strict=True)) for r in rows), PAYMENT_COLUMNS
    )


def add_open_cases(
    session: Session,
    specs: Iterable[tuple[str, int, date]],
    *,
    policy: tuple[str, str] = ("tianjin-2016", "test"),
) -> list[int]:
    """Open cases straight into the store (no importer): one employer and one arrears item each.

    ``specs``: (district, fen owed, first overdue date) per case. Returns the case ids in order.
    """
    from stdnum.cn import uscc

    from cases.bulk import insert_returning, insert_rows
    from cases.models import ArrearsItem, Case, Employer, utcnow

    specs = list(specs)
    now = utcnow()
    start = session.execute(select(func.count()).select_from(Employer)).scalar_one()
    employers = []
    for i, (district, _, _) in enumerate(specs, start=start):
        stem = f"91120101{i:09d}"
        employers.append(
            {
                "code": stem + uscc.calc_check_digit(stem),
                "name": f"天津第{i}商贸有限公司",
                "district": district,
                "contact_name": None,
                "mobile": None,
                "address": None,
                "sms_opted_out": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    employer_ids = [r[0] for r in insert_returning(session, Employer, employers, ("id",))]
    cases = [
        {
            "employer_id": employer_id,
            "status": "open",
            "stage": 0,
            "stage_step": None,
            "opened_on": first,
            "closed_on": None,
            "first_overdue_on": first,
            "policy_name": policy[0],
            "policy_version": policy[1],
            "officer_id": None,
            "claimed_at": None,
            "priority": 0,
            "uncooperative": False,
            "malicious": False,
            "next_review_on": None,
            "created_at": now,
            "updated_at": now,
        }
        for employer_id, (_, _, first) in zip(employer_ids, specs, strict=True)
    ]
    case_ids = [r[0] for r in insert_returning(session, Case, cases, ("id",))]
    insert_rows(
        session,
        ArrearsItem,
        [
            {
                "employer_id": employer_id,
                "case_id": case_id,
                "period": "2026-08",
                "insurance": "pension",
                "kind": "declared_unpaid",
                "amount_due_fen": fen,
                "due_date": first - timedelta(days=1),
                "principal_paid_fen": 0,
                "fee_paid_fen": 0,
                "settled_on": None,
                "created_at": now,
                "updated_at": now,
            }
            for employer_id, case_id, (_, fen, first) in zip(
                employer_ids, case_ids, specs, strict=True
            )
        ],
    )
    return case_ids


def add_user(session: Session, username: str, role: str, districts: Iterable[str]) -> Actor:
    """A user of the web app, as services see them."""
    from cases.models import User

    user = User(username=username, display_name=username, role=role, districts=list(districts))
    session.add(user)
    session.flush()
    return Actor.of(user)


def tamper_log(store: Any, *statements: str, **params: Any) -> None:
    """Change the escalation log behind the application's back, as whoever holds the database's
    keys could: PostgreSQL's triggers switched off for the transaction, SQLite's dropped."""
    from sqlalchemy import text

    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for trigger in ("case_event_no_update", "case_event_no_delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        for statement in statements:
            connection.execute(text(statement), params)
