"""How many SMS parts a text costs: GSM-7 for plain Latin text, UCS-2 as soon as one character
is outside it (every Chinese text). A single UCS-2 message holds 70 characters; a longer one is
split into parts of 67, the other 3 going to the concatenation header (GSM-7: 160, then 153).
"""

from __future__ import annotations

from dataclasses import dataclass

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"  # each costs two septets (escape + character)
_GSM = frozenset(_GSM_BASIC)
_GSM_EXT = frozenset(_GSM_EXTENDED)


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


_GSM_ANY = _GSM | _GSM_EXT


def count(text: str) -> Segments:
    # Sets of the text's distinct characters, not a loop over every character: the nightly run
    # counts thousands of texts.
    if _GSM_ANY.issuperset(text):
        units = len(text) + sum(text.count(ch) for ch in _GSM_EXT.intersection(text))
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # Characters outside the Basic Multilingual Plane take two UTF-16 units.
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return Segments(encoding, 0, 0)
    parts = 1 if units <= single else -(-units // multi)
    return Segments(encoding, units, parts)
