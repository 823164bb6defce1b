"""The synthetic Tianjin ledger: realistic, deterministic, and clean for the importer."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import phonenumbers
import pytest
from stdnum.cn import uscc

from arrears.sample import (
    TIANJIN_DISTRICTS,
    make_uscc,
    sample_ledger_rows,
    write_sample_ledger,
    write_sample_payments,
)
from cases import ledger
from cases.importers import INSURANCES, KINDS, LEDGER_COLUMNS, read_ledger, read_payments

AS_OF = date(2026, 9, 20)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return list(sample_ledger_rows(rows=6000, as_of=AS_OF, seed=7))


def by_employer(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["employer_code"]].append(row)
    return grouped


def month_index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:]) - 1


def test_districts() -> None:
    assert len(TIANJIN_DISTRICTS) == 16
    assert len({name for name, _ in TIANJIN_DISTRICTS}) == 16
    assert dict(TIANJIN_DISTRICTS)["滨海新区"] == "120116"
    assert dict(TIANJIN_DISTRICTS)["和平区"] == "120101"
    assert dict(TIANJIN_DISTRICTS)["蓟州区"] == "120119"
    assert all(code.startswith("1201") and len(code) == 6 for _, code in TIANJIN_DISTRICTS)


def test_make_uscc_is_valid_and_placed_in_the_division() -> None:
    rng = random.Random(1)
    codes = [make_uscc(rng, division) for _, division in TIANJIN_DISTRICTS for _ in range(50)]
    assert all(uscc.is_valid(code) for code in codes)
    assert all(code.startswith("91") for code in codes)
    assert [code[2:8] for code in codes[::50]] == [division for _, division in TIANJIN_DISTRICTS]
    assert len(set(codes)) == len(codes)


def test_make_uscc_is_deterministic_and_checks_the_division() -> None:
    assert make_uscc(random.Random(5), "120104") == make_uscc(random.Random(5), "120104")
    with pytest.raises(ValueError, match="6-digit"):
        make_uscc(random.Random(5), "1201")


def test_exact_row_count_and_columns(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 6000
    assert all(tuple(row) == LEDGER_COLUMNS for row in rows)
    assert len(list(sample_ledger_rows(rows=1, as_of=AS_OF))) == 1


def test_deterministic_for_a_seed(rows: list[dict[str, str]]) -> None:
    assert list(sample_ledger_rows(rows=6000, as_of=AS_OF, seed=7)) == rows
    assert list(sample_ledger_rows(rows=50, as_of=AS_OF, seed=8)) != rows[:50]


def test_employers_are_consistent_and_unique(rows: list[dict[str, str]]) -> None:
    grouped = by_employer(rows)
    names = set()
    for code, items in grouped.items():
        details = {
            tuple(
                row[c] for c in ("employer_name", "district", "contact_name", "mobile", "address")
            )
            for row in items
        }
        assert len(details) == 1, code
        name, district, _, _, address = details.pop()
        assert name not in names
        names.add(name)
        assert name.startswith("天津")
        assert name.endswith(("公司",))
        assert address.startswith(f"天津市{district}")
        assert code[2:8] == dict(TIANJIN_DISTRICTS)[district]
        assert uscc.is_valid(code)


def test_contacts_and_mobiles(rows: list[dict[str, str]]) -> None:
    employers = [items[0] for items in by_employer(rows).values()]
    mobiles = [row["mobile"] for row in employers if row["mobile"]]
    assert 0 < len(employers) - len(mobiles) < len(employers) * 0.3  # some have no mobile
    for mobile in mobiles:
        number = phonenumbers.parse(mobile, "CN")
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, mobile
        assert mobile[:2] in ("13", "15", "18", "19")
    assert all(2 <= len(row["contact_name"]) <= 4 for row in employers)


def test_periods_insurances_and_due_dates(rows: list[dict[str, str]]) -> None:
    latest_due = AS_OF - timedelta(days=1)
    for code, items in list(by_employer(rows).items())[:-1]:  # the last one may be cut short
        periods = sorted({month_index(row["period"]) for row in items})
        assert 1 <= len(periods) <= 6, code
        assert periods == list(range(periods[0], periods[0] + len(periods))), code
        insurances = {row["insurance"] for row in items}
        assert 1 <= len(insurances) <= 5
        assert len(items) == len(periods) * len(insurances)  # every insurance in every period
        assert len({row["kind"] for row in items}) == 1
    for row in rows:
        period = month_index(row["period"])
        due = date.fromisoformat(row["due_date"])
        assert (due.day, due.year * 12 + due.month - 1) == (15, period + 1)
        assert due <= latest_due
        assert row["insurance"] in INSURANCES
        assert row["kind"] in KINDS


def test_amounts_are_plausible(rows: list[dict[str, str]]) -> None:
    for row in rows:
        whole, _, cents = row["amount_due"].partition(".")
        assert len(cents) == 2 and whole.isdigit() and int(whole + cents) > 0
    per_item: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for row in rows:
        fen = int(row["amount_due"].replace(".", ""))
        per_item[row["employer_code"], row["period"]][row["insurance"]] = fen
    for amounts in per_item.values():
        assert amounts["pension"] == max(amounts.values())
    pensions = sorted(v["pension"] for v in per_item.values())
    median = pensions[len(pensions) // 2]
    assert 100_000 <= median <= 5_000_000  # 1,000 to 50,000 yuan


def test_spread_over_districts_and_kinds(rows: list[dict[str, str]]) -> None:
    employers = [items[0] for items in by_employer(rows).values()]
    districts = Counter(row["district"] for row in employers)
    assert districts.most_common(1)[0][0] == "滨海新区"
    assert len(districts) >= 14
    assert districts["南开区"] > districts["宁河区"] and districts["河西区"] > districts["蓟州区"]
    kinds = Counter(row["kind"] for row in employers)
    assert kinds["declared_unpaid"] > kinds["undeclared"] > kinds["audit_finding"] > 0


@pytest.mark.parametrize(
    ("fmt", "encoding"),
    [("csv", "utf-8"), ("csv", "utf-8-sig"), ("csv", "gb18030"), ("xlsx", "utf-8")],
)
def test_written_ledger_reads_back_clean(
    tmp_path: Path,
    fmt: Literal["csv", "xlsx"],
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"],
) -> None:
    path = tmp_path / f"ledger.{fmt}"
    stats = write_sample_ledger(path, rows=1500, as_of=AS_OF, seed=3, fmt=fmt, encoding=encoding)
    parsed = read_ledger(path)
    assert parsed.errors == []
    assert stats.rows == parsed.total_rows == len(parsed.rows) == 1500
    assert stats.employers == len({r.employer_code for r in parsed.rows})
    assert stats.total_fen == sum(r.amount_due for r in parsed.rows)
    source = list(sample_ledger_rows(rows=1500, as_of=AS_OF, seed=3))
    assert [r.employer_name for r in parsed.rows] == [row["employer_name"] for row in source]
    assert [r.amount_due for r in parsed.rows] == [
        int(row["amount_due"].replace(".", "")) for row in source
    ]


def test_gb18030_sample_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    write_sample_ledger(path, rows=20, as_of=AS_OF, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")


def test_payments(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.csv"
    write_sample_ledger(ledger_path, rows=3000, as_of=AS_OF, seed=11)
    out = tmp_path / "payments.csv"
    stats = write_sample_payments(ledger_path, out, as_of=AS_OF, seed=11, share_paying=0.3)
    parsed = read_payments(out)
    assert parsed.errors == []
    assert stats.rows == len(parsed.rows)
    assert stats.total_fen == sum(p.amount for p in parsed.rows)

    items = read_ledger(ledger_path).rows
    owed: Counter[str] = Counter()
    first_due: dict[str, date] = {}
    for item in items:
        owed[item.employer_code] += item.amount_due
        first_due[item.employer_code] = min(
            first_due.get(item.employer_code, date.max), item.due_date
        )
    paid: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for payment in parsed.rows:
        assert payment.employer_code in owed
        assert first_due[payment.employer_code] <= payment.paid_on < AS_OF
        paid[payment.employer_code] += payment.amount
        count[payment.employer_code] += 1
    assert stats.employers == len(paid) == round(len(owed) * 0.3)
    # Settlers pay principal and late fee as of their payment day, in one transfer; the others
    # pay part of the principal.
    by_employer: dict[str, list[ledger.Item]] = defaultdict(list)
    for n, item in enumerate(items):
        by_employer[item.employer_code].append(
            ledger.Item(n, item.period, item.insurance, item.due_date, item.amount_due)
        )
    settled = 0
    for payment in parsed.rows:
        code = payment.employer_code
        due = ledger.position(by_employer[code], [], payment.paid_on, ledger.FeeRules())
        if count[code] == 1 and payment.amount == due.total_due:
            settled += 1
        else:
            assert paid[code] < owed[code]
    assert 0 < settled < len(paid)
    assert set(count.values()) == {1, 2}
    assert len({p.reference for p in parsed.rows}) == len(parsed.rows)

    again = tmp_path / "again.csv"
    write_sample_payments(ledger_path, again, as_of=AS_OF, seed=11, share_paying=0.3)
    assert again.read_bytes() == out.read_bytes()


def test_payments_as_xlsx(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.csv"
    write_sample_ledger(ledger_path, rows=500, as_of=AS_OF)
    csv_stats = write_sample_payments(ledger_path, tmp_path / "p.csv", as_of=AS_OF)
    xlsx_stats = write_sample_payments(ledger_path, tmp_path / "p.xlsx", as_of=AS_OF)
    parsed = read_payments(tmp_path / "p.xlsx")
    assert parsed.errors == []
    assert (xlsx_stats.rows, xlsx_stats.total_fen) == (csv_stats.rows, csv_stats.total_fen)
    assert [p.reference for p in parsed.rows] == [
        p.reference for p in read_payments(tmp_path / "p.csv").rows
    ]
