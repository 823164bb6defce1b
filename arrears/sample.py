"""Synthetic but realistic Tianjin arrears ledgers and payment files.

Used by the demo, the tests and the benchmarks. Everything is drawn from one ``random.Random``
seeded by the caller, so a seed always gives the same file. The employers are invented: codes have
valid check digits but belong to no real company.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Literal

from stdnum.cn import uscc

from cases import ledger as fees
from cases.districts import TIANJIN_DISTRICTS
from cases.importers import INSURANCES, LEDGER_COLUMNS, PAYMENT_COLUMNS, read_ledger
from cases.money import format_yuan

__all__ = [
    "TIANJIN_DISTRICTS",
    "SampleStats",
    "make_uscc",
    "sample_ledger_rows",
    "write_sample_ledger",
    "write_sample_payments",
]

# Rough share of registered employers; Binhai (TEDA, the port, the free-trade zone) dominates.
_DISTRICT_WEIGHTS = (7, 5, 10, 10, 5, 3, 6, 7, 5, 6, 6, 3, 22, 2, 3, 2)
_DISTRICT_CUM = list(accumulate(_DISTRICT_WEIGHTS))

_ROADS: dict[str, tuple[str, ...]] = {
    "和平区": ("南京路", "滨江道", "西康路", "成都道", "营口道", "大沽北路", "解放北路"),
    "河东区": ("十一经路", "津塘路", "六纬路", "卫国道", "大桥道", "华昌道"),
    "河西区": ("友谊路", "解放南路", "围堤道", "黑牛城道", "珠江道", "平山道", "梅江道"),
    "南开区": ("鞍山西道", "卫津路", "红旗路", "复康路", "白堤路", "长江道", "西湖道"),
    "河北区": ("中山路", "金纬路", "狮子林大街", "昆纬路", "五马路", "育红路"),
    "红桥区": ("西青道", "光荣道", "咸阳北路", "芥园道", "丁字沽一号路"),
    "东丽区": ("津塘公路", "东丽大道", "跃进路", "航双路", "先锋东路"),
    "西青区": ("津静公路", "中北大道", "赛达大道", "梨双路", "杨柳青大街"),
    "津南区": ("津沽公路", "津港公路", "双港路", "咸水沽大道", "辛庄大道"),
    "北辰区": ("京津公路", "北辰道", "龙洲道", "辰昌路", "宜兴埠大街"),
    "武清区": ("泉州路", "雍阳西道", "京津公路", "福源道", "翠亨路"),
    "宝坻区": ("南环路", "广阳路", "宝白公路", "建设路", "钰华街"),
    "滨海新区": ("第二大街", "泰达大街", "洞庭路", "新港路", "中央大道", "黄海路", "响螺湾路"),
    "宁河区": ("光明路", "沿河路", "津榆公路", "芦台大街"),
    "静海区": ("胜利大街", "静文路", "迎宾大道", "东方红路"),
    "蓟州区": ("人民西路", "渔阳北路", "迎宾路", "府君路"),
}

_TRADE_CHARS = (
    "华泰瑞鑫宏盛达通安丰恒海汇源隆兴昌富嘉诚信德利和顺祥旭远博峰腾亿金银宝联创新"
    "天凯佳美宇中益启明东方润沣沃航津港渤众康荣耀骏"
)
_INDUSTRIES = (
    ("商贸", 10),
    ("科技", 9),
    ("建筑工程", 6),
    ("物流", 6),
    ("餐饮管理", 5),
    ("机械制造", 5),
    ("电子", 4),
    ("物业服务", 5),
    ("医药", 3),
    ("化工", 3),
    ("食品", 4),
    ("汽车销售服务", 3),
    ("装饰工程", 4),
    ("文化传媒", 3),
    ("人力资源服务", 3),
    ("环保科技", 3),
    ("新材料", 2),
    ("信息技术", 4),
    ("劳务服务", 3),
    ("国际贸易", 3),
    ("钢铁制品", 2),
    ("印刷", 1),
    ("服装", 2),
    ("酒店管理", 2),
    ("港口服务", 1),
    ("房地产开发", 2),
    ("石油设备", 1),
    ("生物技术", 2),
    ("家具", 1),
    ("教育咨询", 2),
)
_INDUSTRY_NAMES = tuple(name for name, _ in _INDUSTRIES)
_INDUSTRY_CUM = list(accumulate(weight for _, weight in _INDUSTRIES))
_SUFFIXES = (
    ("有限公司", 70),
    ("有限责任公司", 15),
    ("股份有限公司", 8),
    ("集团有限公司", 2),
    ("分公司", 5),
)
_SUFFIX_NAMES = tuple(name for name, _ in _SUFFIXES)
_SUFFIX_CUM = list(accumulate(weight for _, weight in _SUFFIXES))

# fmt: off
_SURNAMES = (
    ("王", 72), ("李", 72), ("张", 70), ("刘", 55), ("陈", 45), ("杨", 32), ("赵", 22), ("黄", 22),
    ("周", 19), ("吴", 19), ("徐", 15), ("孙", 15), ("胡", 13), ("朱", 13), ("高", 12), ("林", 12),
    ("何", 12), ("郭", 12), ("马", 12), ("罗", 9), ("梁", 9), ("宋", 8), ("郑", 8), ("谢", 7),
    ("韩", 7), ("唐", 6), ("冯", 6), ("于", 6), ("董", 6), ("萧", 5), ("程", 5), ("曹", 5),
    ("袁", 5), ("邓", 5), ("许", 5), ("傅", 4), ("沈", 4), ("曾", 4), ("彭", 4), ("吕", 4),
    ("田", 4), ("魏", 4), ("邢", 2), ("闫", 3), ("欧阳", 1), ("司马", 1),
)
# fmt: on
_SURNAME_NAMES = tuple(name for name, _ in _SURNAMES)
_SURNAME_CUM = list(accumulate(weight for _, weight in _SURNAMES))
_GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏宇浩然欣怡子涵晨阳佳琪"
)

# Prefixes phonenumbers knows as CN mobile ranges (154 and 194 are not allocated).
# fmt: off
_MOBILE_PREFIXES = (
    *range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159,
    *range(180, 190), 191, 193, 195, 196, 198, 199,
)
# fmt: on

# Employer contribution rates (per mille of the wage base), roughly Tianjin's: pension is always
# the largest line of a month, work injury, unemployment and maternity are small.
_RATES_PERMILLE = {
    "pension": 160,
    "medical": 100,
    "work_injury": 6,
    "unemployment": 5,
    "maternity": 5,
}
_KIND_WEIGHTS = (("declared_unpaid", 80), ("undeclared", 15), ("audit_finding", 5))
_KIND_NAMES = tuple(name for name, _ in _KIND_WEIGHTS)
_KIND_CUM = list(accumulate(weight for _, weight in _KIND_WEIGHTS))

# GB 11714 organisation-code check digit, which forms characters 9-17 of a USCC.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class SampleStats:
    path: Path
    rows: int
    employers: int
    total_fen: int  # sum of amount_due (ledger) or amount (payments)


def _org_code(rng: random.Random) -> str:
    if rng.random() < 0.6:
        # Codes issued after the 2015 reform start with "MA" followed by the issuing office.
        body = "MA0" + "".join(rng.choice(_USCC_ALPHABET) for _ in range(5))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(ch, 36) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    digit = {10: "X", 11: "0"}.get(check, str(check))
    return body + digit


def make_uscc(rng: random.Random, division: str) -> str:
    """A USCC of a company ("91") registered in ``division`` with a correct check digit."""
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"division must be a 6-digit administrative code, not {division!r}")
    stem = "91" + division + _org_code(rng)
    return stem + str(uscc.calc_check_digit(stem))


def _pick(rng: random.Random, names: tuple[str, ...], cum: list[int]) -> str:
    return rng.choices(names, cum_weights=cum)[0]


def _month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


@dataclass(frozen=True)
class _Employer:
    code: str
    name: str
    district: str
    contact: str
    mobile: str
    address: str
    headcount: int
    wage_fen: int  # average monthly wage base per head


class _EmployerFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.mobiles: set[str] = set()

    def _name(self, district: str) -> str:
        rng = self.rng
        for attempt in range(200):
            size = 2 if attempt < 100 else 3
            trade = "".join(rng.choice(_TRADE_CHARS) for _ in range(size))
            if trade[0] == trade[1]:
                continue
            industry = _pick(rng, _INDUSTRY_NAMES, _INDUSTRY_CUM)
            suffix = _pick(rng, _SUFFIX_NAMES, _SUFFIX_CUM)
            place = rng.choices(("天津", "天津市", f"天津市{district}"), (70, 20, 10))[0]
            if suffix == "分公司":
                name = f"天津{trade}{industry}有限公司{district}分公司"
            else:
                name = f"{place}{trade}{industry}{suffix}"
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of distinct company names")  # pragma: no cover

    def _person(self) -> str:
        rng = self.rng
        surname = _pick(rng, _SURNAME_NAMES, _SURNAME_CUM)
        length = 1 if rng.random() < 0.35 else 2
        return surname + "".join(rng.choice(_GIVEN_CHARS) for _ in range(length))

    def _mobile(self) -> str:
        rng = self.rng
        while True:
            number = f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def make(self) -> _Employer:
        rng = self.rng
        district, division = TIANJIN_DISTRICTS[
            rng.choices(range(len(TIANJIN_DISTRICTS)), cum_weights=_DISTRICT_CUM)[0]
        ]
        code = make_uscc(rng, division)
        while code in self.codes:
            code = make_uscc(rng, division)
        self.codes.add(code)
        road = rng.choice(_ROADS[district])
        address = f"天津市{district}{road}{rng.randint(1, 999)}号"
        if rng.random() < 0.4:
            address += f"{rng.randint(1, 30)}{rng.choice('0123')}{rng.randint(1, 9)}室"
        # Mostly small firms; a long tail of large ones.
        headcount = max(1, min(800, round(rng.lognormvariate(2.5, 1.0))))
        wage_fen = rng.randint(3_800, 14_000) * 100
        return _Employer(
            code=code,
            name=self._name(district),
            district=district,
            contact=self._person(),
            mobile="" if rng.random() < 0.12 else self._mobile(),
            address=address,
            headcount=headcount,
            wage_fen=wage_fen,
        )


def _employer_rows(
    rng: random.Random, employer: _Employer, as_of: date
) -> Iterator[dict[str, str]]:
    # The newest period whose due date (the 15th of the next month) is already past on as_of.
    year, month = _month_add(as_of.year, as_of.month, -1 if as_of.day > 15 else -2)
    # Spread the arrears' age so the ladder has cases at every rung.
    back = min(int(rng.expovariate(1 / 3)), 18)
    last = _month_add(year, month, -back)
    periods = rng.choices((1, 2, 3, 4, 5, 6), (25, 20, 18, 14, 12, 11))[0]
    owed = rng.choices((1, 2, 3, 4, 5), (15, 10, 10, 10, 55))[0]
    insurances = (
        list(INSURANCES)
        if owed == 5
        else sorted([*rng.sample(INSURANCES[1:], owed - 1), "pension"], key=INSURANCES.index)
    )
    kind = _pick(rng, _KIND_NAMES, _KIND_CUM)
    headcount = employer.headcount
    for offset in range(periods - 1, -1, -1):
        p_year, p_month = _month_add(*last, -offset)
        d_year, d_month = _month_add(p_year, p_month, 1)
        headcount = max(1, headcount + rng.randint(-2, 2))
        base = headcount * employer.wage_fen
        for insurance in insurances:
            fen = base * _RATES_PERMILLE[insurance] // 1000 + rng.randint(0, 99)
            if kind == "undeclared":
                # Social Insurance Law art. 62: assessed at 110% of the last declared month.
                fen = fen * 11 // 10
            yield {
                "employer_code": employer.code,
                "employer_name": employer.name,
                "district": employer.district,
                "period": f"{p_year:04d}-{p_month:02d}",
                "insurance": insurance,
                "amount_due": format_yuan(fen),
                "due_date": date(d_year, d_month, 15).isoformat(),
                "kind": kind,
                "contact_name": employer.contact,
                "mobile": employer.mobile,
                "address": employer.address,
            }


def sample_ledger_rows(*, rows: int, as_of: date, seed: int = 2016) -> Iterator[dict[str, str]]:
    """Exactly ``rows`` ledger rows (the last employer may be cut short), keyed by column."""
    rng = random.Random(seed)
    factory = _EmployerFactory(rng)
    produced = 0
    while produced < rows:
        employer = factory.make()
        for row in _employer_rows(rng, employer, as_of):
            yield row
            produced += 1
            if produced == rows:
                return


def _write_xlsx(path: Path, header: tuple[str, ...], rows: Iterator[list[object]]) -> None:
    import openpyxl  # only the XLSX flavour needs it

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _xlsx_ledger_cells(row: dict[str, str]) -> list[object]:
    # Stored as Excel would after someone typed the file in: amounts as numbers, due dates as
    # dates; codes, periods and mobiles stay text.
    cells: list[object] = [row[c] for c in LEDGER_COLUMNS]
    cells[LEDGER_COLUMNS.index("amount_due")] = Decimal(row["amount_due"])
    cells[LEDGER_COLUMNS.index("due_date")] = date.fromisoformat(row["due_date"])
    return cells


def write_sample_ledger(
    path: Path,
    *,
    rows: int,
    as_of: date,
    seed: int = 2016,
    fmt: Literal["csv", "xlsx"] = "csv",
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"] = "utf-8",
) -> SampleStats:
    """Write a ledger in the interchange layout; CSV is streamed row by row."""
    path = Path(path)
    employers: set[str] = set()
    count = 0
    total = 0

    def tally(row: dict[str, str]) -> dict[str, str]:
        nonlocal count, total
        count += 1
        total += int(Decimal(row["amount_due"]) * 100)
        employers.add(row["employer_code"])
        return row

    source = (tally(row) for row in sample_ledger_rows(rows=rows, as_of=as_of, seed=seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(path, LEDGER_COLUMNS, (_xlsx_ledger_cells(row) for row in source))
    else:
        with path.open("w", encoding=encoding, newline="") as out:
            writer = csv.DictWriter(out, fieldnames=LEDGER_COLUMNS)
            writer.writeheader()
            writer.writerows(source)
    return SampleStats(path=path, rows=count, employers=len(employers), total_fen=total)


def write_sample_payments(
    ledger_path: Path,
    out: Path,
    *,
    as_of: date,
    seed: int = 2016,
    share_paying: float = 0.3,
) -> SampleStats:
    """Payments by ``share_paying`` of the ledger's employers: in full or in part, 1-2 transfers.

    Written as CSV (UTF-8), or XLSX when ``out`` ends in ``.xlsx``.
    """
    if not 0.0 <= share_paying <= 1.0:
        raise ValueError("share_paying must be between 0 and 1")
    ledger = read_ledger(Path(ledger_path))
    owed: dict[str, int] = {}
    first_due: dict[str, date] = {}
    items: dict[str, list[fees.Item]] = {}
    for number, item in enumerate(ledger.rows):
        items.setdefault(item.employer_code, []).append(
            fees.Item(number, item.period, item.insurance, item.due_date, item.amount_due)
        )
        owed[item.employer_code] = owed.get(item.employer_code, 0) + item.amount_due
        known = first_due.get(item.employer_code)
        if known is None or item.due_date < known:
            first_due[item.employer_code] = item.due_date
    rng = random.Random(f"payments-{seed}")
    latest = as_of - timedelta(days=1)
    payers = [code for code in owed if first_due[code] <= latest]
    chosen = rng.sample(payers, round(len(payers) * share_paying))
    chosen.sort(key=list(owed).index)  # keep the ledger's order so files diff nicely
    references: set[str] = set()
    rows: list[dict[str, str]] = []
    for code in chosen:
        total = owed[code]
        span = (latest - first_due[code]).days
        # 45% settle everything, late fees included, in one transfer; the rest pay part of the
        # principal in round hundreds of yuan, as people do, sometimes in two transfers.
        if rng.random() < 0.45 or total < 20_000:
            day = rng.randint(0, span)
            on = first_due[code] + timedelta(days=day)
            parts = [fees.position(items[code], [], on, fees.FeeRules()).total_due]
            days = [day]
        else:
            paid = max(10_000, total * rng.randint(10, 90) // 100 // 10_000 * 10_000)
            parts = [paid]
            if paid >= 20_000 and rng.random() < 0.35:
                first = max(100, paid * rng.randint(30, 70) // 100 // 100 * 100)
                parts = [first, paid - first]
            days = sorted(rng.randint(0, span) for _ in parts)
        for amount, day in zip(parts, days, strict=True):
            paid_on = first_due[code] + timedelta(days=day)
            reference = _bank_serial(rng, paid_on, references)
            rows.append(
                {
                    "employer_code": code,
                    "amount": format_yuan(amount),
                    "paid_on": paid_on.isoformat(),
                    "reference": reference,
                }
            )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        _write_xlsx(
            out,
            PAYMENT_COLUMNS,
            (
                [
                    r["employer_code"],
                    Decimal(r["amount"]),
                    date.fromisoformat(r["paid_on"]),
                    r["reference"],
                ]
                for r in rows
            ),
        )
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=PAYMENT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return SampleStats(
        path=out,
        rows=len(rows),
        employers=len(chosen),
        total_fen=sum(int(Decimal(r["amount"]) * 100) for r in rows),
    )


_BANKS = ("ICBC", "ABC", "BOC", "CCB", "BCM", "TJB")


def _bank_serial(rng: random.Random, paid_on: date, taken: set[str]) -> str:
    while True:
        serial = f"{rng.choice(_BANKS)}{paid_on:%Y%m%d}{rng.randrange(10**10):010d}"
        if serial not in taken:
            taken.add(serial)
            return serial
