"""Field checks for ledger and payment cells, and the vocabularies they accept.

Each check takes one stripped cell and returns (value, None) or (None, reason), where the value is
what the domain stores: a compacted USCC, a "YYYY-MM" period, a date, an amount in fen, a canonical
insurance or kind, an E.164 mobile number, or the text itself. A check depends on nothing but the
cell, so the row loop (``cases.rows``) memoises it by cell text and each distinct value is checked
once per file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

import phonenumbers
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from cases.money import MoneyError, parse_yuan

__all__ = [
    "ACCOUNT_DIGITS",
    "INSURANCES",
    "KINDS",
    "Check",
    "check_account",
    "check_amount",
    "check_balance",
    "check_code",
    "check_date",
    "check_insurance",
    "check_kind",
    "check_mobile",
    "check_period",
    "compact_account",
    "optional_text",
    "required_text",
]

INSURANCES = ("pension", "medical", "work_injury", "unemployment", "maternity")
KINDS = ("declared_unpaid", "undeclared", "audit_finding")

# stripped cell -> (value, None) or (None, reason)
Check = Callable[[str], tuple[Any, str | None]]

_INSURANCE_NAMES: dict[str, str] = {
    **{name: name for name in INSURANCES},
    **dict.fromkeys(
        (
            "养老",
            "养老保险",
            "基本养老保险",
            "企业职工基本养老保险",
            "职工基本养老保险",
            "城镇企业职工基本养老保险",
        ),
        "pension",
    ),
    **dict.fromkeys(
        ("医疗", "医疗保险", "基本医疗保险", "职工基本医疗保险", "城镇职工基本医疗保险"),
        "medical",
    ),
    **dict.fromkeys(("工伤", "工伤保险"), "work_injury"),
    **dict.fromkeys(("失业", "失业保险"), "unemployment"),
    **dict.fromkeys(("生育", "生育保险"), "maternity"),
}
_KIND_NAMES: dict[str, str] = {
    **{name: name for name in KINDS},
    "申报未缴": "declared_unpaid",
    "已申报未缴": "declared_unpaid",
    "未申报": "undeclared",
    "稽核补缴": "audit_finding",
}

# Contributions to pooled enterprise pensions started in 1986; earlier periods are typos.
_FIRST_YEAR = 1986
# Far beyond any single arrears item or payment; catches pasted account numbers and keeps every
# amount well inside a 64-bit fen column.
_MAX_FEN = 100_000_000_000  # 1,000,000,000.00 yuan


_FORMAT_REASON = (
    "bad format: a USCC is 8 digits followed by 10 digits or capital letters (not I, O, S, V, Z)"
)


def check_code(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    code = uscc.compact(unicodedata.normalize("NFKC", raw))
    try:
        return str(uscc.validate(code)), None
    except InvalidLength:
        return None, f"wrong length: {len(code)} characters, a USCC has 18"
    except InvalidFormat:
        return None, _FORMAT_REASON
    except InvalidChecksum:
        return None, "wrong check digit (the last character does not match; mistyped code?)"
    except ValidationError:
        return None, "not a valid USCC"


_PERIOD_RE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})|(\d{2}))")
_DATE_RE = re.compile(
    r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T]00:00(?::00)?)?"
)


def check_period(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    match = _PERIOD_RE.fullmatch(raw)
    if match is None:
        return None, "not a period; expected YYYY-MM (or YYYYMM, YYYY/MM)"
    year = int(match[1])
    month = int(match[2] or match[3])
    if not 1 <= month <= 12:
        return None, "month must be 01-12"
    if year < _FIRST_YEAR:
        return None, f"year before {_FIRST_YEAR}"
    return f"{year:04d}-{month:02d}", None


def check_date(raw: str) -> tuple[date | None, str | None]:
    if not raw:
        return None, "required"
    match = _DATE_RE.fullmatch(raw)
    if match is None:
        return None, "not a date; expected YYYY-MM-DD (or YYYY/MM/DD, YYYYMMDD)"
    year = int(match[1])
    month = int(match[3] or match[5])
    day = int(match[4] or match[6])
    try:
        value = date(year, month, day)
    except ValueError:
        return None, "no such date"
    if year < _FIRST_YEAR:
        return None, f"year before {_FIRST_YEAR}"
    return value, None


_AMOUNT_RE = re.compile(r"(?P<neg>-)?\s*[¥￥]?\s*(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)")


def _amount(raw: str, *, zero_allowed: bool) -> tuple[int | None, str | None]:
    if not raw:
        return None, "required"
    match = _AMOUNT_RE.fullmatch(raw)
    if match is None:
        return None, "not an amount; expected yuan such as 12345.67 (thousands commas allowed)"
    try:
        fen = parse_yuan(match["num"])
    except MoneyError:
        return None, "more than two decimals"
    if match["neg"]:
        fen = -fen
    if zero_allowed and fen < 0:
        return None, "must be zero or more"
    if not zero_allowed and fen <= 0:
        return None, "must be positive"
    if fen > _MAX_FEN:
        return None, "implausibly large (over 1,000,000,000.00 yuan)"
    return fen, None


def check_amount(raw: str) -> tuple[int | None, str | None]:
    """An amount owed or paid: yuan, more than zero."""
    return _amount(raw, zero_allowed=False)


def check_balance(raw: str) -> tuple[int | None, str | None]:
    """An account balance a bank reports: yuan, zero or more."""
    return _amount(raw, zero_allowed=True)


# A bank account number: digits only once the spaces of its printed groups of four are gone.
ACCOUNT_DIGITS = (8, 30)


def compact_account(raw: str) -> str | None:
    """The account number without its spaces, or None when it is not 8 to 30 ASCII digits."""
    account = "".join(raw.split())
    low, high = ACCOUNT_DIGITS
    if account.isascii() and account.isdigit() and low <= len(account) <= high:
        return account
    return None


def check_account(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    account = compact_account(raw)
    if account is None:
        low, high = ACCOUNT_DIGITS
        return None, f"an account number is {low} to {high} digits"
    return account, None


def _word_key(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw).casefold()


_INSURANCE_LOOKUP = {_word_key(k): v for k, v in _INSURANCE_NAMES.items()}
_KIND_LOOKUP = {_word_key(k): v for k, v in _KIND_NAMES.items()}
_INSURANCE_REASON = (
    f"unknown insurance; expected one of {', '.join(INSURANCES)} or 养老, 医疗, 工伤, 失业, 生育"
)
_KIND_REASON = f"unknown kind; expected one of {', '.join(KINDS)} or 申报未缴, 未申报, 稽核补缴"


def check_insurance(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    found = _INSURANCE_LOOKUP.get(_word_key(raw))
    return (found, None) if found else (None, _INSURANCE_REASON)


def check_kind(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "required"
    found = _KIND_LOOKUP.get(_word_key(raw))
    return (found, None) if found else (None, _KIND_REASON)


# phonenumbers ignores trailing letters ("13812345678x" parses fine); only phone-like text may pass.
_PHONE_CHARS_RE = re.compile(r"\+?[\d\s\-().]{5,25}")


def check_mobile(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, None
    text = unicodedata.normalize("NFKC", raw)
    if _PHONE_CHARS_RE.fullmatch(text) is None:
        return None, "not a valid Chinese mobile number"
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None, "not a valid Chinese mobile number"
    if number.country_code != 86:
        return None, "not a Chinese number"
    if number.extension or not phonenumbers.is_valid_number(number):
        return None, "not a valid Chinese mobile number"
    kind = phonenumbers.number_type(number)
    if kind != phonenumbers.PhoneNumberType.MOBILE:
        if kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return None, "not a mobile number (a landline)"
        return None, "not a mobile number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def required_text(raw: str) -> tuple[Any, str | None]:
    return (raw, None) if raw else (None, "required")


def optional_text(raw: str) -> tuple[Any, str | None]:
    return (raw or None), None
