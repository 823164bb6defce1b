"""The dashboard's charts, drawn on the server as SVG to inline in a page.

Matplotlib draws them (``Figure`` and the SVG canvas directly, never pyplot); ``web.svg`` then
rewrites the SVG so that a page served with a strict Content-Security-Policy shows it as drawn.
Text stays text (``svg.fonttype = none``) and the browser renders the Chinese with its own fonts.

Labels come from the caller, already translated; amounts arrive as int fen and become float only
here, to be drawn. Each chart takes well under 100 ms (see ``bench/dashboard.py``).
"""

from __future__ import annotations

import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from typing import Any, Literal

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import offset_copy

from cases.dashboard import AgingBucket, DistrictProgress, MonthFigures, StageCount
from cases.money import format_grouped
from web.svg import inline_svg

AmountStyle = Literal["wan", "grouped"]  # ¥1.2万 / ¥3.5亿, or ¥12,345

# What matplotlib measures the text with to lay it out: the first found, else DejaVu Sans.
MEASURE_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "AR PL UMing CN")
# Okabe-Ito: told apart with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, GREY, INK = "#0072b2", "#e69f00", "#009e73", "#999999", "#333333"


# rcParams are global: a chart is drawn under this lock, with its settings in force only while it
# draws. Drawing is Python under the interpreter lock anyway, so the lock costs no throughput.
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _measure_family() -> list[str]:
    # One font that has both scripts: a fallback list would lay out every label twice.
    known = {f.name for f in font_manager.fontManager.ttflist}
    return [*[name for name in MEASURE_FONTS if name in known][:1], "DejaVu Sans"][:1]


@contextmanager
def _drawing(name: str) -> Iterator[None]:
    settings: dict[Any, Any] = {
        "svg.fonttype": "none",
        "svg.hashsalt": name,  # ids from the content and the chart's name: the same every time
        "font.family": _measure_family(),
        "font.size": 10,
    }
    with _LOCK, mpl.rc_context(settings), warnings.catch_warnings():
        # Without a Chinese font here the layout is measured with stand-in glyphs; the browser
        # still draws the real ones, since the text stays text.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield


def yuan_label(yuan: float, style: AmountStyle = "wan") -> str:
    """An axis or bar label: ``¥1.2万``, ``¥1,111.5万``, ``¥3.45亿``, ``¥9,800`` (style ``wan``),
    or ``¥12,345`` (style ``grouped``)."""
    sign = "-" if yuan < 0 else ""
    size = abs(yuan)
    if style == "wan" and size >= 1e8:
        return f"{sign}¥{_trim(size / 1e8)}亿"
    if style == "wan" and size >= 1e4:
        return f"{sign}¥{_trim(size / 1e4)}万"
    return f"{sign}¥{size:,.0f}"


def _trim(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _fen_label(fen: int, style: AmountStyle) -> str:
    return yuan_label(fen / 100, style)


def _exact(fen: int) -> str:
    return f"¥{format_grouped(fen)}"


def _percent(share: Decimal) -> str:
    return f"{share * 100:.1f}%"


def _width(text: str, size: float = 10) -> float:
    """Roughly how wide ``text`` is drawn, in inches: a Chinese character takes a full em."""
    ems = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.62 for c in text)
    return ems * size / 72


def _figure(
    title: str,
    width: float,
    height: float,
    *,
    left: float,
    bottom: float,
    right: float = 0.25,
    top: float = 0.45,
) -> Figure:
    """A figure with its plot area set by margins in inches, its title at the top left.

    Margins are worked out from the labels rather than by a layout engine, which would draw
    every chart an extra time to measure it (a third of the time a chart takes).
    """
    fig = Figure(figsize=(width, height), facecolor="none")
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=0.12,
    )
    fig.text(0.1 / width, 1 - 0.1 / height, title, va="top", fontsize=12, color=INK)
    return fig


def _frame(ax: Axes, *, value_axis: Literal["x", "y"]) -> None:
    ax.set_facecolor("none")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis=value_axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(colors=INK, labelcolor=INK)


def _value_labels(
    ax: Axes,
    values: Sequence[float],
    labels: Sequence[str],
    *,
    along: Literal["x", "y"],
    size: float = 10,
) -> None:
    """Each bar's label just past its end (plain text: ``bar_label`` annotations cost more)."""
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    if along == "x":
        shift = offset_copy(ax.transData, fig=fig, x=3, units="points")
        for row, (value, label) in enumerate(zip(values, labels, strict=True)):
            ax.text(value, row, label, transform=shift, va="center", fontsize=size, color=INK)
    else:
        shift = offset_copy(ax.transData, fig=fig, y=3, units="points")
        for column, (value, label) in enumerate(zip(values, labels, strict=True)):
            ax.text(column, value, label, transform=shift, ha="center", fontsize=size, color=INK)


def _money_axis(axis: Any, style: AmountStyle, bins: int = 5) -> None:
    axis.set_major_locator(MaxNLocator(nbins=bins, min_n_ticks=3))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: yuan_label(v, style)))


def _count_axis(axis: Any, bins: int = 5) -> None:
    axis.set_major_locator(MaxNLocator(nbins=bins, integer=True, min_n_ticks=2))


def stage_bars(
    stages: Sequence[StageCount],
    *,
    title: str,
    step_labels: Mapping[str, str],
    value_label: str,
    none_label: str = "—",
) -> str:
    """Open cases by ladder step, one bar each, lowest rung on top.

    ``step_labels`` maps a step's name (``sms_reminder``) to the words shown; ``none_label`` names
    the cases before their first step.
    """
    names = [step_labels.get(s.step, s.step) if s.step else none_label for s in stages]
    counts = [s.cases for s in stages]
    with _drawing("stage_bars"):
        fig = _figure(
            title,
            6.4,
            1.1 + 0.3 * max(len(stages), 3),
            left=max(map(_width, [*names, "0"])) + 0.2,
            bottom=0.6,
        )
        ax = fig.add_subplot()
        ax.barh(range(len(names)), counts, color=BLUE, height=0.6)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        _value_labels(ax, counts, [str(n) for n in counts], along="x")
        _count_axis(ax.xaxis)
        ax.set_xlabel(value_label)
        ax.set_xlim(0, max([*counts, 1]) * 1.15)
        _frame(ax, value_axis="x")
        desc = "; ".join(f"{name}: {n}" for name, n in zip(names, counts, strict=True))
        return _render(fig, title, desc)


def aging_bars(
    aging: Sequence[AgingBucket],
    *,
    title: str,
    band_labels: Mapping[str, str],
    value_label: str,
    amount_style: AmountStyle = "wan",
) -> str:
    """Principal owed by days overdue; ``band_labels`` maps ``AgingBucket.key`` to the words."""
    names = [band_labels.get(b.key, b.key) for b in aging]
    amounts = [b.principal_fen for b in aging]
    with _drawing("aging_bars"):
        top_label = yuan_label(max([*amounts, 100]) / 100 * 1.15, amount_style)
        fig = _figure(title, 6.4, 3.2, left=_width(top_label) + 0.5, bottom=0.45)
        ax = fig.add_subplot()
        # Older money is harder to recover: the colour darkens with age.
        colors = [GREEN, BLUE, BLUE, ORANGE, "#d55e00"][: len(amounts)]
        ax.bar(range(len(names)), [a / 100 for a in amounts], color=colors, width=0.6)
        ax.set_xticks(range(len(names)), names)
        labels = [_fen_label(a, amount_style) for a in amounts]
        _value_labels(ax, [a / 100 for a in amounts], labels, along="y")
        _money_axis(ax.yaxis, amount_style)
        ax.set_ylim(0, max([*amounts, 100]) / 100 * 1.15)
        ax.set_ylabel(value_label)
        _frame(ax, value_axis="y")
        desc = "; ".join(f"{n}: {_exact(a)}" for n, a in zip(names, amounts, strict=True))
        return _render(fig, title, desc)


def owed_recovered_lines(
    months: Sequence[MonthFigures],
    *,
    title: str,
    owed_label: str,
    recovered_label: str,
    month_labels: Sequence[str] | None = None,
    amount_style: AmountStyle = "wan",
) -> str:
    """Owed at each month's end and recovered in each month, as two lines.

    ``month_labels`` names the months in order (default ``2026-08``).
    """
    names = list(month_labels) if month_labels is not None else [f"{m.month:%Y-%m}" for m in months]
    if len(names) != len(months):
        raise ValueError(f"{len(names)} month labels for {len(months)} months")
    owed = [m.owed_fen for m in months]
    recovered = [m.recovered_fen for m in months]
    with _drawing("owed_recovered_lines"):
        rotate = len(names) > 6
        top_label = yuan_label(max([*owed, *recovered, 100]) / 100 * 1.1, amount_style)
        fig = _figure(
            title,
            6.4,
            3.4,
            left=_width(top_label) + 0.25,
            top=0.75,
            bottom=0.3 + (0.75 * max(map(_width, [*names, "0"])) if rotate else 0.2),
        )
        ax = fig.add_subplot()
        x = range(len(months))
        ax.plot(x, [v / 100 for v in owed], color=BLUE, marker="o", markersize=4, label=owed_label)
        ax.plot(
            x,
            [v / 100 for v in recovered],
            color=ORANGE,
            marker="s",
            markersize=4,
            linestyle="--",
            label=recovered_label,
        )
        # Every month named when they fit; else every other one, counting back from the last.
        step = 1 if len(names) <= 12 else 2
        shown = list(range(len(names) - 1, -1, -step))[::-1]
        ax.set_xticks(shown, [names[i] for i in shown])
        if rotate:
            ax.tick_params(axis="x", labelrotation=45)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
                label.set_rotation_mode("anchor")
        _money_axis(ax.yaxis, amount_style)
        ax.set_ylim(0, max([*owed, *recovered, 100]) / 100 * 1.1)
        _frame(ax, value_axis="y")
        # Above the plot, under the title: inside it would cover the first months' points.
        ax.legend(
            frameon=False,
            loc="lower left",
            bbox_to_anchor=(0, 1),
            ncols=2,
            borderaxespad=0.1,
            labelcolor=INK,
        )
        desc = "; ".join(
            f"{n}: {owed_label} {_exact(o)}, {recovered_label} {_exact(r)}"
            for n, o, r in zip(names, owed, recovered, strict=True)
        )
        return _render(fig, title, desc)


def district_progress_bars(
    progress: Sequence[DistrictProgress],
    *,
    title: str,
    recovered_label: str,
    cases_label: str,
    target_label: str,
    no_target_label: str = "—",
    district_labels: Mapping[str, str] | None = None,
    amount_style: AmountStyle = "wan",
) -> str:
    """Each district's quarter so far: recovered and cases closed, each against its target.

    Bars are what was done and a black tick the target; each bar is labelled with its share of
    the target, or with ``no_target_label`` where none is set.
    """
    labels = district_labels or {}
    names = [labels.get(p.district, p.district) for p in progress]
    money = _Panel(
        recovered_label,
        BLUE,
        [p.recovered_fen / 100 for p in progress],
        [None if t is None else t / 100 for t in (p.recovery_target_fen for p in progress)],
        [p.recovery_share for p in progress],
        lambda v: yuan_label(v, amount_style),
    )
    cases = _Panel(
        cases_label,
        GREEN,
        [float(p.cases_closed) for p in progress],
        [None if t is None else float(t) for t in (p.cases_target for p in progress)],
        [p.cases_share for p in progress],
        lambda v: f"{v:.0f}",
    )
    with _drawing("district_progress_bars"):
        fig = _figure(
            title,
            7.6,
            1.2 + 0.34 * max(len(progress), 3),
            left=max(map(_width, [*names, "0"])) + 0.2,
            bottom=0.6,
            right=0.35,
        )
        # Not sharey: the right panel would carry a hidden copy of every district's tick.
        money_ax, cases_ax = fig.subplots(1, 2)
        money.draw(money_ax, target_label, no_target_label)
        _money_axis(money_ax.xaxis, amount_style, bins=4)
        cases.draw(cases_ax, target_label, no_target_label)
        _count_axis(cases_ax.xaxis, bins=4)
        money_ax.set_yticks(range(len(names)), names)
        cases_ax.set_yticks([])
        for ax in (money_ax, cases_ax):
            ax.set_ylim(max(len(names), 1) - 0.5, -0.5)  # the first district on top
        handles, legend_labels = money_ax.get_legend_handles_labels()
        if not handles:
            handles, legend_labels = cases_ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, legend_labels, loc="upper right", frameon=False, labelcolor=INK)
        desc = "; ".join(
            f"{name}: {recovered_label} {_exact(p.recovered_fen)}"
            f"{_against(p.recovery_target_fen, p.recovery_share, _exact, target_label)}, "
            f"{cases_label} {p.cases_closed}"
            f"{_against(p.cases_target, p.cases_share, str, target_label)}"
            for name, p in zip(names, progress, strict=True)
        )
        return _render(fig, title, desc)


def _against(
    target: int | None, share: Decimal | None, fmt: Callable[[int], str], label: str
) -> str:
    if target is None or share is None:
        return ""
    return f" / {label} {fmt(target)} ({_percent(share)})"


@dataclass(frozen=True)
class _Panel:
    """One measure of the districts' progress: bars done, ticks for targets."""

    label: str
    color: str
    done: list[float]
    targets: list[float | None]
    shares: list[Decimal | None]
    fmt: Callable[[float], str]

    def draw(self, ax: Axes, target_label: str, no_target_label: str) -> None:
        rows = range(len(self.done))
        ax.barh(rows, self.done, color=self.color, height=0.55)
        marked = [(i, t) for i, t in enumerate(self.targets) if t is not None]
        if marked:
            ax.plot(
                [t for _, t in marked],
                [i for i, _ in marked],
                linestyle="none",
                marker="|",
                markersize=16,
                markeredgewidth=2,
                color=INK,
                label=target_label,
                zorder=3,
            )
        _value_labels(
            ax,
            self.done,
            [
                f"{self.fmt(d)} ({_percent(s)})"
                if s is not None
                else f"{self.fmt(d)} {no_target_label}"
                for d, s in zip(self.done, self.shares, strict=True)
            ],
            along="x",
            size=9,
        )
        longest = max([*self.done, *(t for _, t in marked), 1.0])
        ax.set_xlim(0, longest * 1.45)  # room for the labels past the longest bar
        ax.set_xlabel(self.label)
        _frame(ax, value_axis="x")


def _render(fig: Figure, title: str, desc: str) -> str:
    buffer = BytesIO()
    FigureCanvasSVG(fig)  # the SVG canvas itself: no pyplot, no backend switching
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return inline_svg(buffer.getvalue(), title, desc)
