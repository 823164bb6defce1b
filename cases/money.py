"""Money at the edges of the domain: yuan as ``Decimal`` outside, integer fen inside.

Everything that stores or adds money works in whole fen (``int``); ``Decimal`` yuan appears only
where a person reads or types an amount. Rounding happens once, half-up, where a rate is applied.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")


class MoneyError(ValueError):
    """An amount that is not a valid sum of yuan with at most two decimals."""


def yuan_to_fen(amount: Decimal) -> int:
    """Exact conversion; refuses amounts with more than two decimals."""
    scaled = amount * FEN_PER_YUAN
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than two decimals")
    return int(scaled)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(_CENT)


def typed_yuan(text: str) -> Decimal:
    """A typed amount such as ``12345.67``, ``12,345.67`` or ``¥12,345.67``, as a ``Decimal``."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if cleaned.startswith(("¥", "￥")):
        cleaned = cleaned[1:].strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a number")
    return value


def parse_yuan(text: str) -> int:
    """Parse a typed amount such as ``12345.67`` or ``12,345.67`` into fen."""
    return yuan_to_fen(typed_yuan(text))


def format_yuan(fen: int) -> str:
    """``1234567`` -> ``"12345.67"``: the plain decimal string used in files and JSON."""
    return str(fen_to_yuan(fen))


def format_grouped(fen: int) -> str:
    """``1234567`` -> ``"12,345.67"``: amounts as letters and screens print them."""
    whole, _, cents = format_yuan(abs(fen)).partition(".")
    return f"{'-' if fen < 0 else ''}{int(whole):,}.{cents}"


def round_half_up(value: Decimal) -> int:
    """Round a fen amount to a whole fen, half away from zero (the agency's rounding)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
