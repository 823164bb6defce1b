from __future__ import annotations

import pytest

from cases.segments import count


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),  # 153 per part once split
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice: 160 septets
        ("€" * 81, "GSM-7", 2),
        ("欠" * 70, "UCS-2", 1),
        ("欠" * 71, "UCS-2", 2),  # 67 per part once split
        ("欠" * 134, "UCS-2", 2),
        ("欠" * 135, "UCS-2", 3),
        ("a" * 159 + "欠", "UCS-2", 3),  # one Chinese character turns the whole text to UCS-2
        ("𠀀" * 35, "UCS-2", 1),  # outside the BMP: two units each
        ("𠀀" * 36, "UCS-2", 2),
    ],
)
def test_parts(text: str, encoding: str, parts: int) -> None:
    result = count(text)
    assert (result.encoding, result.parts) == (encoding, parts)
