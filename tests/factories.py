"""Test data in one place: ledger and payment files, valid employer codes."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from pathlib import Path

from arrears.sample import make_uscc
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
