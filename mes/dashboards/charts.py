"""Server-side charts as geometry: pure functions that place bars, lines and points in an SVG view box.

Each builder returns a :class:`Chart` (plain numbers and strings); ``dashboards/_chart.html`` turns any
chart into inline SVG with a title, axis labels, a legend where there is more than one series, and the
same numbers as a table for people who cannot see the picture. No JavaScript, no network.

Coordinates are SVG user units in a ``width`` x ``height`` view box; y grows downwards, so a value's
bar reaches from the baseline (``frame.bottom``) up to ``frame.bottom - value * scale``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 300
MAX_X_LABELS = 12

Format = Callable[[float], str]


def trimmed(places: int) -> Format:
    """A formatter with at most ``places`` decimals and no trailing zeros: ``3``, ``2.5``, ``0.125``."""

    def fmt(value: float) -> str:
        text = f"{value:.{places}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    return fmt


plain = trimmed(3)


def as_percent(value: float) -> str:
    return f"{value * 100:.0f}%"


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category (``None`` = no value: nothing drawn, "—" in the table)."""

    label: str
    values: Sequence[float | None]
    css: str = "s0"


@dataclass(frozen=True)
class Frame:
    """The plotting area inside the view box."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str


@dataclass(frozen=True)
class Tick:
    pos: float
    text: str


@dataclass(frozen=True)
class Polyline:
    points: str
    css: str


@dataclass(frozen=True)
class Point:
    cx: float
    cy: float
    css: str
    tip: str


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line across the frame (centre line, control and specification limits)."""

    y: float
    text: str
    css: str
    label_x: float = 0.0
    anchor: str = "end"

    @property
    def label_y(self) -> float:
        return self.y - 3


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    css: str = ""
    anchor: str = "start"


@dataclass
class Chart:
    """Everything the SVG template needs, plus the data table that is the chart's text alternative."""

    testid: str
    title: str
    desc: str
    x_label: str
    y_label: str
    frame: Frame
    width: int = WIDTH
    height: int = HEIGHT
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    lines: list[Polyline] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    horizontal: bool = False

    @property
    def empty(self) -> bool:
        return not (self.rects or self.points)

    @property
    def x_label_at(self) -> tuple[float, float]:
        """Where the x-axis label is centred: under the frame and its tick labels."""
        return ((self.frame.left + self.frame.right) / 2, self.frame.bottom + 38)

    @property
    def y_label_at(self) -> tuple[float, float]:
        """Where the y-axis label is centred, in the coordinates of a text rotated by -90°."""
        return (-(self.frame.top + self.frame.bottom) / 2, 16)

    @property
    def legend_items(self) -> list[tuple[float, float, str, str]]:
        """``(x, y, text, css)`` per legend entry, left to right above the frame, wrapping at the edge."""
        items, x, y = [], float(self.frame.left), 38.0
        for text, css in self.legend:
            span = 22 + 7 * len(text)
            if x + span > self.width and x > self.frame.left:
                x, y = float(self.frame.left), y + 16
            items.append((x, y, text, css))
            x += span + 12
        return items


# --- scales -----------------------------------------------------------------------------------------
def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is ≥ ``value`` (1 for nothing to show)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def value_ticks(top: float, count: int = 5) -> list[float]:
    """``count`` + 1 evenly spaced tick values from 0 to ``top``."""
    return [top * n / count for n in range(count + 1)]


def y_of(value: float, frame: Frame, lo: float, hi: float) -> float:
    """The y coordinate of ``value`` on a vertical axis running from ``lo`` (bottom) to ``hi`` (top)."""
    span = hi - lo or 1.0
    return frame.bottom - (value - lo) / span * frame.height


def _frame(width: int = WIDTH, height: int = HEIGHT) -> Frame:
    return Frame(left=64, top=54, right=width - 16, bottom=height - 48)


def _x_ticks(categories: Sequence[str], centres: Sequence[float]) -> list[Tick]:
    step = max(1, math.ceil(len(categories) / MAX_X_LABELS))
    return [
        Tick(pos, text)
        for n, (pos, text) in enumerate(zip(centres, categories, strict=True))
        if n % step == 0
    ]


def _table(categories: Sequence[str], series: Sequence[Series], fmt: Format, first: str) -> tuple[list, list]:
    head = [first, *(s.label for s in series)]
    rows = [
        [category, *("—" if s.values[n] is None else fmt(s.values[n]) for s in series)]
        for n, category in enumerate(categories)
    ]
    return head, rows


# --- bar charts -------------------------------------------------------------------------------------
def bar_chart(
    *,
    testid: str,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    stacked: bool = False,
    y_max: float | None = None,
    fmt: Format = plain,
) -> Chart:
    """Bars per category: side by side (grouped) or, with ``stacked``, on top of each other.

    Heights are proportional to values on a scale from 0 to ``y_max`` (default: a round number at or
    above the largest bar or stack). Negative and ``None`` values draw nothing.
    """
    frame = _frame()
    totals = [
        sum(max(s.values[n] or 0, 0) for s in series)
        if stacked
        else max([s.values[n] or 0 for s in series] or [0])
        for n in range(len(categories))
    ]
    top = y_max if y_max is not None else nice_ceiling(max(totals or [0]))
    slot = frame.width / max(len(categories), 1)
    inner = slot * 0.8
    bar_width = inner if stacked else inner / max(len(series), 1)
    chart = Chart(testid, title, desc, x_label, y_label, frame)
    centres = []
    for n, category in enumerate(categories):
        slot_left = frame.left + n * slot + (slot - inner) / 2
        centres.append(frame.left + (n + 0.5) * slot)
        base = 0.0
        for k, s in enumerate(series):
            value = s.values[n]
            if value is None or value <= 0:
                continue
            lo, hi = (base, base + value) if stacked else (0.0, value)
            y_hi, y_lo = y_of(min(hi, top), frame, 0, top), y_of(min(lo, top), frame, 0, top)
            x = slot_left if stacked else slot_left + k * bar_width
            chart.rects.append(
                Rect(x, y_hi, bar_width, y_lo - y_hi, s.css, f"{category}, {s.label}: {fmt(value)}")
            )
            base = hi
    chart.x_ticks = _x_ticks(categories, centres)
    chart.y_ticks = [Tick(y_of(v, frame, 0, top), fmt(v)) for v in value_ticks(top)]
    chart.legend = [(s.label, s.css) for s in series] if len(series) > 1 else []
    chart.table_head, chart.table_rows = _table(categories, series, fmt, x_label)
    return chart


# --- line charts ------------------------------------------------------------------------------------
def line_chart(
    *,
    testid: str,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_max: float | None = None,
    fmt: Format = plain,
) -> Chart:
    """A time series per series: a point per category with a value, joined by lines.

    ``None`` leaves the category without a point and breaks the line there.
    """
    frame = _frame()
    values = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else nice_ceiling(max(values or [0]))
    step = frame.width / max(len(categories), 1)
    centres = [frame.left + (n + 0.5) * step for n in range(len(categories))]
    chart = Chart(testid, title, desc, x_label, y_label, frame)
    for s in series:
        run: list[str] = []
        for n, value in enumerate(s.values):
            if value is None:
                _close_run(chart, run, s.css)
                run = []
                continue
            cy = y_of(min(value, top), frame, 0, top)
            run.append(f"{centres[n]:.1f},{cy:.1f}")
            chart.points.append(Point(centres[n], cy, s.css, f"{categories[n]}, {s.label}: {fmt(value)}"))
        _close_run(chart, run, s.css)
    chart.x_ticks = _x_ticks(categories, centres)
    chart.y_ticks = [Tick(y_of(v, frame, 0, top), fmt(v)) for v in value_ticks(top)]
    chart.legend = [(s.label, s.css) for s in series] if len(series) > 1 else []
    chart.table_head, chart.table_rows = _table(categories, series, fmt, x_label)
    return chart


def _close_run(chart: Chart, run: list[str], css: str) -> None:
    if len(run) > 1:
        chart.lines.append(Polyline(" ".join(run), css))


# --- control chart ----------------------------------------------------------------------------------
def control_chart(
    *,
    testid: str,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    labels: Sequence[str],
    values: Sequence[float],
    signals: Sequence[tuple[int, ...]],
    rules: Sequence[tuple[str, float, str]],
    fmt: Format = plain,
) -> Chart:
    """Individual values in time order joined by a line, with horizontal reference ``rules``
    (``(name, value, css)``: centre line, UCL/LCL, LSL/USL). ``signals`` holds each point's broken control
    rules (``metrics.rule_signals``): a point beyond the limits (rule 1) is drawn as out of control, a
    point in a broken run rule (2-4) as a signal, with the rule numbers in its title and the table.

    The y axis spans every value and rule with a margin, so limits are always visible.
    """
    frame = _frame(height=340)
    everything = [*values, *(value for _, value, _ in rules)]
    lo, hi = (min(everything), max(everything)) if everything else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.01 or 1.0
    lo, hi = lo - pad, hi + pad
    step = frame.width / max(len(values), 1)
    centres = [frame.left + (n + 0.5) * step for n in range(len(values))]
    chart = Chart(testid, title, desc, x_label, y_label, frame, height=340)
    coords = []
    for n, value in enumerate(values):
        cy = y_of(value, frame, lo, hi)
        coords.append(f"{centres[n]:.1f},{cy:.1f}")
        css = "out" if 1 in signals[n] else "run" if signals[n] else "in"
        state = f" (out of control: {_rules_text(signals[n])})" if signals[n] else ""
        chart.points.append(Point(centres[n], cy, css, f"#{n + 1} {labels[n]}: {fmt(value)}{state}"))
    if len(coords) > 1:
        chart.lines.append(Polyline(" ".join(coords), "s0"))
    for name, value, css in rules:
        # Specification limits are labelled on the left, control limits on the right: they may be close.
        spec = css in ("usl", "lsl")
        label_x, anchor = (frame.left + 4, "start") if spec else (frame.right - 4, "end")
        chart.rules.append(
            Rule(y_of(value, frame, lo, hi), f"{name} {fmt(round(value, 4))}", css, label_x, anchor)
        )
    chart.x_ticks = _x_ticks([str(n + 1) for n in range(len(values))], centres)
    chart.y_ticks = [Tick(y_of(v, frame, lo, hi), fmt(round(v, 4))) for v in _span_ticks(lo, hi)]
    chart.legend = [
        ("Measurement", "in"),
        ("Beyond a control limit", "out"),
        ("In a broken run rule", "run"),
        *((name, css) for name, _, css in rules),
    ]
    chart.table_head = ["#", "When", y_label, "Control rules broken"]
    chart.table_rows = [
        [str(n + 1), labels[n], fmt(value), _rules_text(signals[n])] for n, value in enumerate(values)
    ]
    return chart


def _rules_text(rules: Sequence[int]) -> str:
    """``(1, 4)`` as ``rules 1, 4``; empty for none."""
    if not rules:
        return ""
    return ("rule " if len(rules) == 1 else "rules ") + ", ".join(str(r) for r in rules)


def _span_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]``."""
    step = nice_ceiling((hi - lo) / count)
    first = math.ceil(lo / step) * step
    return [first + n * step for n in range(count + 2) if first + n * step <= hi]


# --- paired horizontal bars -------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    """One row of a comparison: ``have`` against ``need`` in ``unit``; ``short`` highlights the row."""

    label: str
    have: float
    need: float
    unit: str
    short: bool


def comparison_chart(
    *,
    testid: str,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    pairs: Sequence[Pair],
    fmt: Format = plain,
) -> Chart:
    """Two horizontal bars per row (have, need), each row on its own scale: rows may be in different units.

    A row's longer bar spans the frame's width; the shorter one is in proportion. Short rows get the
    ``short`` style and a "short by" note.
    """
    row_height = 56
    height = 54 + row_height * max(len(pairs), 1) + 48
    frame = Frame(left=150, top=54, right=WIDTH - 130, bottom=height - 48)
    chart = Chart(testid, title, desc, x_label, y_label, frame, height=height, horizontal=True)
    bar = 18
    for n, pair in enumerate(pairs):
        top = frame.top + n * row_height + 6
        scale = frame.width / (max(pair.have, pair.need) or 1)
        row_css = " short" if pair.short else ""
        for k, (word, value, css) in enumerate(
            (("on hand", pair.have, "have"), ("queued demand", pair.need, "need"))
        ):
            y = top + k * (bar + 2)
            text = f"{fmt(value)} {pair.unit}"
            chart.rects.append(
                Rect(frame.left, y, max(value, 0) * scale, bar, css + row_css, f"{pair.label} {word}: {text}")
            )
            chart.labels.append(Label(frame.left + max(value, 0) * scale + 4, y + bar - 4, text))
        chart.labels.append(Label(frame.left - 8, top + bar + 4, pair.label, "row" + row_css, "end"))
        if pair.short:
            chart.labels.append(
                Label(
                    frame.left - 8,
                    top + 2 * bar + 12,
                    f"short {fmt(pair.need - pair.have)} {pair.unit}",
                    "short-note",
                    "end",
                )
            )
    chart.legend = [("On hand", "have"), ("Demand of queued jobs", "need")]
    chart.table_head = [y_label, "Unit", "On hand", "Queued demand", "Shortfall"]
    chart.table_rows = [
        [p.label, p.unit, fmt(p.have), fmt(p.need), fmt(p.need - p.have) if p.short else ""] for p in pairs
    ]
    return chart
