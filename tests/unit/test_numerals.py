"""Capital numerals for money (大写金额): a hand-checked table and a round trip through a parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cases.numerals import capital_yuan

# fen → capital form; each row checked by hand against the PBOC rules (see cases/numerals.py).
TABLE = [
    # zero, and amounts under one yuan: no leading 零元
    (0, "零元整"),
    (1, "壹分"),
    (5, "伍分"),
    (10, "壹角"),
    (50, "伍角"),  # stops at 角: no 整 (PBOC's own example leaves it out)
    (55, "伍角伍分"),
    (99, "玖角玖分"),
    # whole yuan take 整; a leading ten is 壹拾
    (100, "壹元整"),
    (1000, "壹拾元整"),
    (1100, "壹拾壹元整"),
    (11000000, "壹拾壹万元整"),
    (1234567, "壹万贰仟叁佰肆拾伍元陆角柒分"),
    # PBOC examples: one zero in the middle, several zeros as one 零
    (140950, "壹仟肆佰零玖元伍角"),
    (600714, "陆仟零柒元壹角肆分"),
    (100105, "壹仟零壹元零伍分"),
    # 角 is 0 but 分 is not: 零 after 元 (PBOC examples)
    (1640902, "壹万陆仟肆佰零玖元零贰分"),
    (32504, "叁佰贰拾伍元零肆分"),
    (1005, "壹拾元零伍分"),
    (101, "壹元零壹分"),
    (100001, "壹仟元零壹分"),
    (2000000002, "贰仟万元零贰分"),
    # 元 digit is 0 and 角 is not: the optional 零 is always written
    (168032, "壹仟陆佰捌拾元零叁角贰分"),
    (1050, "壹拾元零伍角"),
    (100050, "壹仟元零伍角"),
    # 万 digit is 0 and 仟 is not: the optional 零 is always written
    (10500000, "壹拾万零伍仟元整"),
    (10700053, "壹拾万零柒仟元零伍角叁分"),
    (20030000, "贰拾万零叁佰元整"),
    (1000110, "壹万零壹元壹角"),
    # zeros inside the 万 group, and whole groups of zeros
    (101000000, "壹佰零壹万元整"),
    (1000000, "壹万元整"),
    (1000000000, "壹仟万元整"),
    (100000100, "壹佰万零壹元整"),
    # across 亿
    (10000000000, "壹亿元整"),
    (10001000000, "壹亿零壹万元整"),
    (10000000100, "壹亿零壹元整"),
    (101000000000, "壹拾亿零壹仟万元整"),
    (1000000000000, "壹佰亿元整"),
    (12345678901234, "壹仟贰佰叁拾肆亿伍仟陆佰柒拾捌万玖仟零壹拾贰元叁角肆分"),
    # 万亿: 亿 closes everything above it, 万 only a group that has a digit
    (100000000000000, "壹万亿元整"),
    (100010000000000, "壹万零壹亿元整"),
    (100000001000000, "壹万亿零壹万元整"),
    (
        999999999999999999,
        "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
]


@pytest.mark.parametrize(("fen", "expected"), TABLE)
def test_table(fen: int, expected: str) -> None:
    assert capital_yuan(fen) == expected
    assert parse_capital(expected) == fen  # the round trip's reader agrees with the table too


def test_table_is_large_and_checks_each_amount_once() -> None:
    assert len(TABLE) >= 25
    assert len({fen for fen, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize("fen", [-1, -100, -(10**12)])
def test_negative_amounts_are_refused(fen: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        capital_yuan(fen)


def test_too_large_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        capital_yuan(10**18)


@pytest.mark.parametrize("value", [True, 1.5, "100"])
def test_only_int_fen_is_accepted(value: object) -> None:
    with pytest.raises(TypeError):
        capital_yuan(value)  # type: ignore[arg-type]


# --- an independent reader of capital amounts, for the round trip ---------------------------

_DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_PLACE = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capital(text: str) -> int:
    """Read a capital amount back into fen, by accumulating digits into place-value registers."""
    eight = 0  # everything already multiplied by 亿
    four = 0  # the 万 part below 亿
    group = 0  # the part below 万
    pending = 0  # a digit waiting for its place word
    yuan = 0
    fen = 0
    for char in text:
        if char in _DIGIT:
            pending = _DIGIT[char]
        elif char in _PLACE:
            assert pending, f"{char} without a digit in {text}"
            group += pending * _PLACE[char]
            pending = 0
        elif char == "万":
            four += (group + pending) * 10**4
            group = pending = 0
        elif char == "亿":
            eight = (eight + four + group + pending) * 10**8
            four = group = pending = 0
        elif char == "元":
            yuan = eight + four + group + pending
            eight = four = group = pending = 0
        elif char == "角":
            fen += pending * 10
            pending = 0
        elif char == "分":
            fen += pending
            pending = 0
        else:
            assert char == "整", f"unexpected {char} in {text}"
    assert eight == four == group == pending == 0, f"digits left over in {text}"
    return yuan * 100 + fen


def internal_zero_runs(fen: int) -> int:
    """How many runs of 0 digits lie between two non-zero digits of the amount in fen."""
    return len(re.findall(r"(?<=[1-9])0+(?=[1-9])", str(fen)))


# Uniform integers rarely contain runs of zeros, so half the amounts are drawn digit by digit with
# zeros favoured: gaps at 万, 亿 and 元 and whole empty groups come up often.
zero_heavy = st.lists(st.sampled_from("0000000123456789"), min_size=1, max_size=12).map(
    lambda digits: int("".join(digits))
)


@given(st.one_of(st.integers(min_value=0, max_value=10**12), zero_heavy))
@example(0)
@example(10**12)
@example(10**12 - 1)
def test_round_trip_and_form(fen: int) -> None:
    text = capital_yuan(fen)
    assert parse_capital(text) == fen
    # Only capital characters are used.
    assert set(text) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    # 整 exactly when the amount stops at 元; an amount with 分 ends in 分, otherwise in 角.
    if fen % 100 == 0:
        assert text.endswith("元整")
    elif fen % 10:
        assert text.endswith("分")
    else:
        assert text.endswith("角")
    assert text.count("整") == (fen % 100 == 0)
    # 元 is written exactly when there are whole yuan (or the amount is zero).
    assert ("元" in text) == (fen >= 100 or fen == 0)
    if fen == 0:
        return
    # Each gap of zeros between two digits is one 零, and there are no other zeros.
    assert text.count("零") == internal_zero_runs(fen)
    assert not text.startswith("零")
    assert "零零" not in text
    assert re.search("零[拾佰仟万亿元角分整]", text) is None
    # Every 拾/佰/仟 follows a digit: 壹拾, never a bare 拾.
    assert re.search("(^|[^壹贰叁肆伍陆柒捌玖])[拾佰仟]", text) is None
