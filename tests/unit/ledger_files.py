"""Small ledger and payment files for the importer tests, and helpers to read them back."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from cases.importers import LEDGER_COLUMNS, LedgerRow, Parsed, PaymentRow, RowError, read_ledger

# Valid USCCs (check digits computed per GB 32100-2015).
CODE_A = "91120101MA05J8XY12"
CODE_B = "91120116MA06XMN17C"
CODE_C = "91120104600037341P"


def ledger_row(**overrides: str) -> dict[str, str]:
    row = {
        "employer_code": CODE_A,
        "employer_name": "天津华泰商贸有限公司",
        "district": "和平区",
        "period": "2026-08",
        "insurance": "pension",
        "amount_due": "12345.67",
        "due_date": "2026-09-15",
        "kind": "declared_unpaid",
        "contact_name": "张伟",
        "mobile": "13812345678",
        "address": "天津市和平区南京路1号",
    }
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    rows: Sequence[dict[str, str] | list[str]],
    header: tuple[str, ...] | list[str] = LEDGER_COLUMNS,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header] if isinstance(row, dict) else row)
    return path


def ledger(tmp_path: Path, *rows: dict[str, str], name: str = "ledger.csv") -> Parsed[LedgerRow]:
    return read_ledger(write_csv(tmp_path / name, list(rows)))


def only_error(parsed: Parsed[LedgerRow] | Parsed[PaymentRow]) -> RowError:
    assert len(parsed.errors) == 1, [str(e) for e in parsed.errors]
    return parsed.errors[0]
