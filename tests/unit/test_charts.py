"""The dashboard's SVG charts: valid, self-contained, text kept as text, nothing a CSP refuses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest

from cases.dashboard import AGING_BANDS, AgingBucket, DistrictProgress, MonthFigures, StageCount
from web import charts

NS = "{http://www.w3.org/2000/svg}"

STAGES = (
    StageCount(0, None, 120),
    StageCount(1, "sms_reminder", 3400),
    StageCount(6, "order_to_pay", 81),
    StageCount(10, "court_application", 2),
)
AGING = tuple(
    AgingBucket(lo, hi, fen)
    for (lo, hi), fen in zip(
        AGING_BANDS, [123_456_789, 0, 5_000_000, 123_400, 99_887_766], strict=True
    )
)
MONTHS = tuple(
    MonthFigures(date(2026, m, 1), date(2026, m, 28), 100_000_000 + m * 3_000_000, 500_000 * m)
    for m in range(1, 13)
)
PROGRESS = (
    DistrictProgress("和平区", 1_405_000, 5_000_000, Decimal("0.2810"), 2, 4, Decimal("0.5000")),
    DistrictProgress("南开区", 100_000, None, None, 0, None, None),
)


def stage_chart(**labels: str) -> str:
    return charts.stage_bars(
        STAGES,
        title=labels.get("title", "在办案件（按催缴步骤）"),
        step_labels={"sms_reminder": "短信催缴", "order_to_pay": "限期缴纳通知书"},
        value_label="案件数",
        none_label="尚未催缴",
    )


def aging_chart() -> str:
    return charts.aging_bars(
        AGING,
        title="欠费账龄",
        band_labels={"0-30": "0–30天", "366+": "一年以上"},
        value_label="欠费本金",
    )


def lines_chart() -> str:
    return charts.owed_recovered_lines(
        MONTHS,
        title="Owed and recovered",
        owed_label="Owed",
        recovered_label="Recovered",
        month_labels=[f"{m}月" for m in range(1, 13)],
        amount_style="grouped",
    )


def progress_chart() -> str:
    return charts.district_progress_bars(
        PROGRESS,
        title="本季度目标进度",
        recovered_label="已追回",
        cases_label="已结案",
        target_label="目标",
        no_target_label="未设目标",
    )


CHARTS: dict[str, tuple[Callable[[], str], str, list[str]]] = {
    # name: (draw, title, what must be written on it as text)
    "stages": (
        stage_chart,
        "在办案件（按催缴步骤）",
        ["尚未催缴", "短信催缴", "限期缴纳通知书", "court_application", "3400", "81", "案件数"],
    ),
    "aging": (
        aging_chart,
        "欠费账龄",
        ["0–30天", "31-90", "一年以上", "¥123.46万", "¥5万", "¥1,234", "¥99.89万", "欠费本金"],
    ),
    "lines": (lines_chart, "Owed and recovered", ["1月", "12月", "Owed", "Recovered"]),
    "progress": (
        progress_chart,
        "本季度目标进度",
        ["和平区", "南开区", "¥1.41万 (28.1%)", "2 (50.0%)", "未设目标", "目标", "已结案"],
    ),
}


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


@pytest.mark.parametrize("name", CHARTS)
def test_a_chart_is_valid_inline_svg_with_its_labels_and_values_as_text(name: str) -> None:
    draw, title, shown = CHARTS[name]
    svg = draw()
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert svg.startswith("<svg ")  # no XML declaration or doctype: it goes inside a page
    # Named for assistive technology: a <title> first, the figures in a <desc>.
    assert root[0].tag == f"{NS}title" and root[0].text == title
    assert root[1].tag == f"{NS}desc" and root[1].text
    assert root.get("role") == "img" and root.get("aria-label") == title
    written = texts(root)
    for label in shown:
        assert any(label in t for t in written), f"{label!r} not drawn as text in {name}"
    # Text stays text: no glyph outlines defined, the browser's fonts draw it.
    assert not [p for p in root.iter(f"{NS}path") if (p.get("id") or "").startswith("DejaVu")]
    assert "sans-serif" in (root.get("font-family") or "")
    assert len(svg.encode()) < 16_000, "a chart this small should stay a few kB"


@pytest.mark.parametrize("name", CHARTS)
def test_nothing_a_strict_content_security_policy_refuses(name: str) -> None:
    svg = CHARTS[name][0]()
    root = ET.fromstring(svg)
    tags = {element.tag.removeprefix(NS) for element in root.iter()}
    assert not tags & {"script", "style", "foreignObject", "image", "a", "metadata"}
    for element in root.iter():
        for attribute, value in element.attrib.items():
            assert attribute != "style"
            assert not attribute.startswith("on")
            if attribute == "href":
                assert value.startswith("#")  # only the chart's own definitions
            assert "javascript:" not in value
    assert "<script" not in svg.lower() and "style=" not in svg


def test_the_exact_figures_are_in_the_description() -> None:
    desc = ET.fromstring(aging_chart())[1].text or ""
    assert "0–30天: ¥1,234,567.89" in desc and "31-90: ¥0.00" in desc
    desc = ET.fromstring(progress_chart())[1].text or ""
    assert "和平区: 已追回 ¥14,050.00 / 目标 ¥50,000.00 (28.1%), 已结案 2 / 目标 4 (50.0%)" in desc
    assert "南开区: 已追回 ¥1,000.00, 已结案 0" in desc
    desc = ET.fromstring(lines_chart())[1].text or ""
    assert "1月: Owed ¥1,030,000.00, Recovered ¥5,000.00" in desc


def test_labels_are_escaped_not_markup() -> None:
    hostile = '</svg><script>alert("x")</script>&'
    svg = stage_chart(title=hostile)
    root = ET.fromstring(svg)
    assert root[0].text == hostile
    assert not list(root.iter(f"{NS}script"))
    assert "<script>" not in svg


def test_ids_are_unique_and_every_reference_resolves() -> None:
    root = ET.fromstring(progress_chart())
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    for element in root.iter():
        href = element.get("href")
        if href:
            assert href[1:] in ids
        clip = element.get("clip-path")
        if clip:
            assert clip.removeprefix("url(#").removesuffix(")") in ids


def test_empty_figures_still_draw() -> None:
    for svg in (
        charts.stage_bars((), title="t", step_labels={}, value_label="n"),
        charts.aging_bars(
            tuple(AgingBucket(lo, hi, 0) for lo, hi in AGING_BANDS),
            title="t",
            band_labels={},
            value_label="v",
        ),
        charts.owed_recovered_lines(
            (MonthFigures(date(2026, 1, 1), date(2026, 1, 31), 0, 0),),
            title="t",
            owed_label="o",
            recovered_label="r",
        ),
        charts.district_progress_bars(
            (), title="t", recovered_label="r", cases_label="c", target_label="g"
        ),
    ):
        assert ET.fromstring(svg).tag == f"{NS}svg"


def test_month_labels_must_match_the_months() -> None:
    with pytest.raises(ValueError, match="2 month labels for 12 months"):
        charts.owed_recovered_lines(
            MONTHS, title="t", owed_label="o", recovered_label="r", month_labels=["a", "b"]
        )


def test_the_same_figures_draw_the_same_svg_from_many_threads() -> None:
    expected = {name: draw() for name, (draw, _, _) in CHARTS.items()}
    jobs = [name for name in CHARTS for _ in range(3)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda name: (name, CHARTS[name][0]()), jobs))
    assert all(svg == expected[name] for name, svg in drawn)


@pytest.mark.parametrize(
    ("yuan", "style", "label"),
    [
        (0, "wan", "¥0"),
        (9_800, "wan", "¥9,800"),
        (12_000, "wan", "¥1.2万"),
        (12_345, "wan", "¥1.23万"),
        (1_200_000, "wan", "¥120万"),
        (11_111_100, "wan", "¥1,111.11万"),
        (345_000_000, "wan", "¥3.45亿"),
        (-25_000, "wan", "-¥2.5万"),
        (12_345, "grouped", "¥12,345"),
        (1_234_567.8, "grouped", "¥1,234,568"),
    ],
)
def test_amount_labels(yuan: float, style: charts.AmountStyle, label: str) -> None:
    assert charts.yuan_label(yuan, style) == label
