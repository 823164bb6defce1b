"""Tianjin's districts (区), the units the city assesses and officers serve.

Each with its administrative division code (GB/T 2260), which is also characters 3-8 of the
unified social credit codes the district registers.
"""

from __future__ import annotations

TIANJIN_DISTRICTS: tuple[tuple[str, str], ...] = (
    ("和平区", "120101"),
    ("河东区", "120102"),
    ("河西区", "120103"),
    ("南开区", "120104"),
    ("河北区", "120105"),
    ("红桥区", "120106"),
    ("东丽区", "120110"),
    ("西青区", "120111"),
    ("津南区", "120112"),
    ("北辰区", "120113"),
    ("武清区", "120114"),
    ("宝坻区", "120115"),
    ("滨海新区", "120116"),
    ("宁河区", "120117"),
    ("静海区", "120118"),
    ("蓟州区", "120119"),
)

DISTRICT_NAMES: tuple[str, ...] = tuple(name for name, _ in TIANJIN_DISTRICTS)
