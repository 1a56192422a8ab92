"""Each dashboard panel: selector data in, rows for its table and a :class:`~mes.dashboards.charts.Chart` out.

Pure functions (no queries), so the views stay thin and the pictures are testable without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mes.dashboards import charts, metrics
from mes.dashboards.selectors import Balance, MachinePeriod, Measured, Slot, TicketAges

DASH = "—"


def fraction(value: float | None) -> str:
    """A fraction as a percentage with one decimal, or "—" when it is undefined."""
    return DASH if value is None else f"{value * 100:.1f}%"


def number(value: float | None, places: int = 2) -> str:
    return DASH if value is None else f"{value:.{places}f}"


# --- OEE --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OeeRow:
    name: str
    result: metrics.Oee

    @property
    def cells(self) -> dict[str, str]:
        r = self.result
        return {
            "availability": fraction(r.availability),
            "performance": fraction(r.performance),
            "quality": fraction(r.quality),
            "oee": fraction(r.oee),
        }


def oee_rows(periods: Sequence[MachinePeriod], start: datetime, end: datetime) -> list[OeeRow]:
    return [OeeRow(p.name, p.oee(start, end)) for p in periods]


def oee_chart(rows: Sequence[OeeRow]) -> charts.Chart:
    names = [row.name for row in rows]
    series = [
        charts.Series("Availability", [row.result.availability for row in rows], "s0"),
        charts.Series("Performance", [row.result.performance for row in rows], "s1"),
        charts.Series("Quality", [row.result.quality for row in rows], "s2"),
        charts.Series("OEE", [row.result.oee for row in rows], "s3"),
    ]
    return charts.bar_chart(
        testid="chart-oee",
        title="OEE per machine",
        desc="For each machine, bars for availability, performance, quality and their product OEE, "
        "0 to 100%. A missing bar means the factor is undefined (nothing planned, run or inspected).",
        x_label="Machine",
        y_label="Percent",
        categories=names,
        series=series,
        y_max=1.0,
        fmt=charts.as_percent,
    )


# --- per day or hour --------------------------------------------------------------------------------
def _slot_labels(slots: Sequence[Slot], hourly: bool) -> list[str]:
    return [s.start.strftime("%H:%M" if hourly else "%d %b") for s in slots]


def throughput_chart(slots: Sequence[Slot], *, hourly: bool = False) -> charts.Chart:
    unit = "hour" if hourly else "day"
    return charts.bar_chart(
        testid="chart-throughput",
        title=f"Parts made per {unit}",
        desc=f"Serialised parts booked from finished jobs, per {'clock hour' if hourly else 'calendar day'}.",
        x_label=unit.capitalize(),
        y_label="Parts",
        categories=_slot_labels(slots, hourly),
        series=[charts.Series("Parts made", [s.made for s in slots], "s0")],
    )


def yield_chart(slots: Sequence[Slot], *, hourly: bool = False) -> charts.Chart:
    unit = "hour" if hourly else "day"
    return charts.line_chart(
        testid="chart-yield",
        title=f"First-pass yield per {unit}",
        desc=f"Share of parts accepted at their first conclusive inspection, per {unit} of that inspection. "
        f"{unit.capitalize()}s without inspections have no point.",
        x_label=unit.capitalize(),
        y_label="First-pass yield",
        categories=_slot_labels(slots, hourly),
        series=[charts.Series("First-pass yield", [s.first_pass_yield for s in slots], "s2")],
        y_max=1.0,
        fmt=charts.as_percent,
    )


# --- tickets ----------------------------------------------------------------------------------------
BUCKET_CSS = ("a0", "a1", "a2", "a3")


def tickets_chart(rows: Sequence[TicketAges]) -> charts.Chart:
    series = [
        charts.Series(label, [row.counts[n] for row in rows], BUCKET_CSS[n])
        for n, (label, _) in enumerate(metrics.AGE_BUCKETS)
    ]
    return charts.bar_chart(
        testid="chart-tickets",
        title="Open tickets by severity and age",
        desc="For each severity, the open and in-progress damage tickets stacked by how long ago they were "
        "filed.",
        x_label="Severity",
        y_label="Tickets",
        categories=[row.label for row in rows],
        series=series,
        stacked=True,
    )


# --- feedstock --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedstockRow:
    """One material's balance with its quantities written out (no trailing zeros)."""

    material: str
    unit: str
    on_hand: str
    demand: str
    shortfall: str
    short: bool


def feedstock_rows(balances: Sequence[Balance]) -> list[FeedstockRow]:
    return [
        FeedstockRow(
            b.material,
            b.unit,
            charts.plain(float(b.on_hand)),
            charts.plain(float(b.demand)),
            charts.plain(float(b.shortfall)),
            b.short,
        )
        for b in balances
    ]


def feedstock_chart(balances: Sequence[Balance]) -> charts.Chart:
    pairs = [charts.Pair(b.material, float(b.on_hand), float(b.demand), b.unit, b.short) for b in balances]
    return charts.comparison_chart(
        testid="chart-feedstock",
        title="Feedstock on hand against queued demand",
        desc="Per material, the quantity on hand in all lots and the quantity the queued jobs will use; "
        "each material on its own scale. Materials short of demand are marked.",
        x_label="Quantity (each row in its own unit)",
        y_label="Material",
        pairs=pairs,
    )


# --- control chart ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlPanel:
    """An individuals chart and the capability of one dimension."""

    dimension: metrics.Dimension
    points: list[Measured]
    limits: metrics.ControlLimits | None
    signals: list[tuple[int, ...]]  # per point, the control rules it breaks (metrics.rule_signals)
    capability: metrics.Capability | None
    chart: charts.Chart

    @property
    def out_of_control(self) -> int:
        """Points that break any rule."""
        return sum(1 for rules in self.signals if rules)

    @property
    def broken_rules(self) -> list[tuple[int, str, int]]:
        """``(rule, description, points)`` for every rule some point breaks, in rule order."""
        counts = {rule: sum(rule in rules for rules in self.signals) for rule in metrics.RULE_DESCRIPTIONS}
        return [(rule, metrics.RULE_DESCRIPTIONS[rule], n) for rule, n in counts.items() if n]


def control_panel(dimension: metrics.Dimension, points: Sequence[Measured]) -> ControlPanel:
    values = [p.value for p in points]
    limits = metrics.control_limits(values)
    signals = metrics.rule_signals(values, limits)
    capability = None
    if dimension.lsl is not None and dimension.usl is not None:
        capability = metrics.capability(values, dimension.lsl, dimension.usl)
    rules = []
    if limits is not None:
        rules += [("UCL", limits.ucl, "ucl"), ("Centre", limits.centre, "centre"), ("LCL", limits.lcl, "lcl")]
    if dimension.tolerance is not None:
        rules += [("USL", dimension.usl, "usl"), ("LSL", dimension.lsl, "lsl")]
    chart = charts.control_chart(
        testid="chart-control",
        title=f"Individuals chart: {dimension.label} (mm)",
        desc=f"{len(values)} measurements of {dimension.label} in time order, with the centre line, control "
        "limits (mean ± 2.66 x mean moving range) and the drawing's specification limits. Points beyond "
        "the control limits, or in a run that breaks a Western Electric rule, are marked.",
        x_label="Measurement (oldest first)",
        y_label=f"{dimension.label} (mm)",
        labels=[f"{p.when:%d %b %H:%M} {p.serial}" for p in points],
        values=values,
        signals=signals,
        rules=rules,
        fmt=charts.trimmed(4),
    )
    return ControlPanel(dimension, list(points), limits, signals, capability, chart)
