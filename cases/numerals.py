"""Amounts in Chinese capital numerals (大写金额), as written on bills and official letters.

The rules are those of the People's Bank of China for filling in bills and settlement vouchers
(《支付结算办法》, 银发〔1997〕393号, Annex 1 “正确填写票据和结算凭证的基本规定”), restated here in
our own words:

* Only the capital forms are used: 零壹贰叁肆伍陆柒捌玖, the place words 拾佰仟万亿, the money
  units 元角分 and the closing word 整 (正 is an accepted variant; this module writes 整). Everyday
  forms (一二三, 十, 两, 毛, 另 or a written 0) are not allowed, because they are easy to alter.
* An amount that stops at 元 is closed with 整. After 角 the 整 may be left out, and the PBOC's own
  example (¥1,409.50 → 壹仟肆佰零玖元伍角) leaves it out, so this module does too. An amount with
  分 never takes 整.
* Zeros, which the rules say to write by Chinese usage and so that nothing can be slipped in:
  a zero between two non-zero digits is written 零; a run of several zeros is written as one 零;
  when the 角 digit is 0 but the 分 digit is not, 零 follows 元 (¥325.04 → 叁佰贰拾伍元零肆分).
  Where the zeros end at the 万 or 元 place and the next digit (仟 or 角) is not zero, the PBOC
  lets the writer put one 零 or none (¥107,000.53 may be 壹拾万柒仟元零伍角叁分 or
  壹拾万零柒仟元伍角叁分). This module always writes it: the result follows one rule everywhere,
  reads as spoken Chinese (十万零七千), and leaves no gap where a digit could be added. The same
  holds across 亿: ¥100,010,000 → 壹亿零壹万元整.

  Put differently: every maximal run of 0 digits that lies between two non-zero digits of the
  amount in fen shows up as exactly one 零, and 零 appears nowhere else — except in 零元整, the
  amount zero.
* A leading ten is written 壹拾 (壹拾元整, 壹拾万元整), never a bare 拾: the PBOC's examples write
  it so (¥107,000.53 above), the same annex requires 壹 before 拾 when writing dates on bills, and
  a bare 拾 would leave room to write a digit in front of it. 拾, 佰, 仟 always follow a digit.
* Amounts under one yuan start at their first non-zero unit (¥0.05 → 伍分, not 零元零伍分).

The place words after 万 and 亿 nest as usual: 壹万亿 is 10¹² yuan, the largest amount accepted is
just under 10¹⁶ yuan. The currency word 人民币 that precedes the amount on a document is the
caller's to print.
"""

from __future__ import annotations

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")  # within a group of four digits
_MAX_FEN = 10**18  # 10^16 yuan: beyond 万亿 the words would need 亿亿 or 兆, which nobody writes

ZERO = "零"
CLOSE = "整"


def capital_yuan(fen: int) -> str:
    """Write an amount in fen in capital numerals, by the rules in the module docstring.

    ``1234567`` → ``"壹万贰仟叁佰肆拾伍元陆角柒分"``; ``1000000`` → ``"壹万元整"``.
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount in fen must be an int, not {type(fen).__name__}")
    if fen < 0:
        raise ValueError(f"a negative amount has no capital form: {fen} fen")
    if fen >= _MAX_FEN:
        raise ValueError(f"{fen} fen is too large to write in capital numerals")
    if fen == 0:
        return f"{ZERO}元{CLOSE}"

    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    out: list[str] = []
    written = False  # has any digit been written yet?
    pending_zero = False  # zeros were skipped since the last digit written

    def digit(d: int, unit: str) -> None:
        nonlocal written, pending_zero
        if d == 0:
            pending_zero = written
            return
        if pending_zero:
            out.append(ZERO)
            pending_zero = False
        out.append(DIGITS[d] + unit)
        written = True

    places = str(yuan) if yuan else ""
    top = len(places) - 1
    for index, char in enumerate(places):
        position = top - index  # 0 for 元, 4 for 万, 8 for 亿, 12 for 万亿
        digit(int(char), _PLACES[position % 4])
        if position == 0 or position % 4:
            continue
        # End of a group of four digits. 万 names its group only if the group has a digit; 亿
        # multiplies everything before it, which is never zero here (the leading digit is not).
        if position % 8 == 0:
            out.append("亿")
        elif yuan // 10**position % 10**4:
            out.append("万")
    if yuan:
        out.append("元")
    digit(jiao, "角")
    digit(cents, "分")
    if rest == 0:
        out.append(CLOSE)
    return "".join(out)
