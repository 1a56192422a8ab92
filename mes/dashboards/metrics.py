"""Pure calculations behind the dashboards: OEE from state intervals, capability and control limits.

Nothing here touches the database; selectors hand in plain data (datetimes, states, numbers) and the
functions hand back plain data, so every definition is unit-testable with hand-computed values.
A ratio whose denominator is zero is ``None`` (the pages show "—"), never 0 and never an exception.

OEE definitions (also stated on the overview page):

* **Planned production time** is the time the machine was expected to produce: running, paused, in
  error, or idle while it had queued work. Offline and maintenance are excluded (not planned), and so
  is idle with nothing queued (no demand).
* **Availability** = running time / planned production time. Paused, error and idle-with-queued-work are
  downtime (a pause is a stop the machinist chose; the machine was not making parts).
* **Performance** = ideal run time / running time, capped at 1, where ideal run time = the program's
  ``estimated_seconds`` for every run completed in the period (a job is one run).
* **Quality** = parts accepted at their first inspection / parts first inspected in the period, per the
  machine that made them. The first inspection is the part's earliest conclusive one (accepted or
  rejected): "unable" is no verdict on the part, so when a person settles an "unable" the person's
  verdict is the first; an override of a conclusive verdict is a later decision, never a first pass.
* **OEE** = availability x performance x quality; ``None`` when any factor is ``None``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from drawing import Drawing, DrawingError

RUNNING = "running"
PAUSED = "paused"
IDLE = "idle"
ERROR = "error"
# States that count as planned production time whatever the queue holds; idle counts only with queued work.
PLANNED_STATES = frozenset({RUNNING, PAUSED, ERROR})
EXCLUDED_STATES = frozenset({"offline", "maintenance"})

# Individuals (XmR) chart constants: 3 / d2 with d2 = 1.128 for moving ranges of two points.
E2 = 2.66
D2 = 1.128
MIN_CAPABILITY_POINTS = 5


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero (or less)."""
    if denominator is None or denominator <= 0:
        return None
    return numerator / denominator


# --- time intervals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A half-open span of time ``[start, end)`` in one state (``state`` None = the machine did not exist)."""

    start: datetime
    end: datetime
    state: str | None = None

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)


def state_intervals(
    initial_state: str | None, changes: Iterable[tuple[datetime, str]], start: datetime, end: datetime
) -> list[Interval]:
    """The machine's states over ``[start, end)`` as consecutive intervals.

    ``initial_state`` is the state in force at ``start`` (None if the machine did not exist yet);
    ``changes`` are ``(when, new_state)`` records, in any order; those outside the window are ignored
    (a change before ``start`` must already be folded into ``initial_state``).
    """
    intervals: list[Interval] = []
    state, since = initial_state, start
    for when, new_state in sorted(changes, key=lambda change: change[0]):
        if when < start or when >= end:
            continue
        if when > since:
            intervals.append(Interval(since, when, state))
        state, since = new_state, when
    if end > since:
        intervals.append(Interval(since, end, state))
    return intervals


def merge_spans(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of ``(start, end)`` spans as sorted, non-overlapping spans (empty spans dropped)."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(span for span in spans if span[1] > span[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def overlap_seconds(interval: Interval, spans: Sequence[tuple[datetime, datetime]]) -> float:
    """Seconds of ``interval`` covered by the (merged, non-overlapping) ``spans``."""
    total = 0.0
    for lo, hi in spans:
        lo, hi = max(lo, interval.start), min(hi, interval.end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


# --- OEE --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeSplit:
    """Seconds of a period by what they count as for availability."""

    running: float = 0.0
    paused: float = 0.0
    error: float = 0.0
    idle_with_work: float = 0.0
    idle_without_work: float = 0.0
    excluded: float = 0.0

    @property
    def planned(self) -> float:
        return self.running + self.paused + self.error + self.idle_with_work

    @property
    def downtime(self) -> float:
        return self.planned - self.running


def split_time(intervals: Iterable[Interval], queued_spans: Sequence[tuple[datetime, datetime]]) -> TimeSplit:
    """Sort the time of ``intervals`` into running, downtime and excluded (see the module docstring).

    ``queued_spans`` are merged spans during which the machine had at least one queued job.
    """
    sums = dict.fromkeys(
        ("running", "paused", "error", "idle_with_work", "idle_without_work", "excluded"), 0.0
    )
    for interval in intervals:
        if interval.state == IDLE:
            with_work = overlap_seconds(interval, queued_spans)
            sums["idle_with_work"] += with_work
            sums["idle_without_work"] += interval.seconds - with_work
        elif interval.state in (RUNNING, PAUSED, ERROR):
            sums[interval.state] += interval.seconds
        else:  # offline, maintenance, or before the machine existed
            sums["excluded"] += interval.seconds
    return TimeSplit(**sums)


@dataclass(frozen=True)
class Oee:
    """OEE and its three factors, each a fraction 0..1 or ``None`` when its denominator is zero."""

    availability: float | None
    performance: float | None
    quality: float | None
    running_seconds: float
    planned_seconds: float
    ideal_seconds: float
    runs: int
    inspected: int
    accepted_first: int

    @property
    def oee(self) -> float | None:
        factors = (self.availability, self.performance, self.quality)
        if any(factor is None for factor in factors):
            return None
        return self.availability * self.performance * self.quality


def oee(split: TimeSplit, *, ideal_seconds: float, runs: int, inspected: int, accepted_first: int) -> Oee:
    """OEE of one machine over one period.

    availability = running / planned; performance = min(ideal / running, 1);
    quality = accepted at first inspection / first inspected. Zero denominators give ``None``.
    """
    performance = ratio(ideal_seconds, split.running)
    return Oee(
        availability=ratio(split.running, split.planned),
        performance=None if performance is None else min(performance, 1.0),
        quality=ratio(accepted_first, inspected),
        running_seconds=split.running,
        planned_seconds=split.planned,
        ideal_seconds=ideal_seconds,
        runs=runs,
        inspected=inspected,
        accepted_first=accepted_first,
    )


# --- days and hours ---------------------------------------------------------------------------------
def days_between(start: datetime, end: datetime) -> list:
    """Every calendar date (in ``start``'s time zone) that ``[start, end)`` touches, in order."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The start of every clock hour (in aware ``start``'s time zone) that ``[start, end)`` touches.

    Steps are real hours, so a day when the clocks go back has 25 of them and never the same instant
    twice; each is expressed in the zone's wall-clock time, as a database truncates to the hour there.
    """
    if end <= start:
        return []
    zone = start.tzinfo
    hour = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while hour < end:
        out.append(hour)
        hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return out


# --- control charts and capability ------------------------------------------------------------------
@dataclass(frozen=True)
class ControlLimits:
    """Individuals chart: centre line (mean), mean moving range, UCL/LCL = mean ± 2.66 x MRbar."""

    centre: float
    mean_moving_range: float
    ucl: float
    lcl: float

    @property
    def sigma(self) -> float:
        """Short-term standard deviation estimated from the moving range: MRbar / d2 (d2 = 1.128)."""
        return self.mean_moving_range / D2


def control_limits(values: Sequence[float]) -> ControlLimits | None:
    """Individuals-chart limits of ``values`` in time order; ``None`` with fewer than two values."""
    if len(values) < 2:
        return None
    centre = sum(values) / len(values)
    moving_ranges = [abs(b - a) for a, b in itertools.pairwise(values)]
    mr_bar = sum(moving_ranges) / len(moving_ranges)
    return ControlLimits(
        centre=centre, mean_moving_range=mr_bar, ucl=centre + E2 * mr_bar, lcl=centre - E2 * mr_bar
    )


def out_of_control(values: Sequence[float], limits: ControlLimits | None) -> list[bool]:
    """For each value, whether it lies outside the control limits (rule 1: beyond UCL or LCL)."""
    if limits is None:
        return [False] * len(values)
    return [value > limits.ucl or value < limits.lcl for value in values]


# The Western Electric run rules, each as (window, how many of it, beyond how many sigma on one side).
# Rule 1 is the limits themselves; the others catch a shift or drift before any point leaves them.
RUN_RULES: dict[int, tuple[int, int, float]] = {
    2: (3, 2, 2.0),
    3: (5, 4, 1.0),
    4: (8, 8, 0.0),
}
RULE_DESCRIPTIONS = {
    1: "a point beyond the control limits (3 sigma)",
    2: "2 of 3 points in a row beyond 2 sigma on the same side",
    3: "4 of 5 points in a row beyond 1 sigma on the same side",
    4: "8 points in a row on the same side of the centre line",
}


def rule_signals(values: Sequence[float], limits: ControlLimits | None) -> list[tuple[int, ...]]:
    """For each value, the Western Electric rules (1-4, ``RULE_DESCRIPTIONS``) it takes part in breaking.

    Sigma zones are thirds of the distance from the centre line to the control limits, so rule 1 agrees
    with ``out_of_control``. A run rule marks only the points of its window that lie beyond its zone
    (the two of three beyond 2 sigma, not the third). No limits, no signals.
    """
    if limits is None:
        return [()] * len(values)
    broken: list[set[int]] = [{1} if outside else set() for outside in out_of_control(values, limits)]
    zone = (limits.ucl - limits.centre) / 3
    for rule, (window, needed, sigmas) in RUN_RULES.items():
        for side in (1, -1):
            beyond = [side * (value - limits.centre) > sigmas * zone for value in values]
            for n in _runs(beyond, window, needed):
                broken[n].add(rule)
    return [tuple(sorted(rules)) for rules in broken]


def _runs(beyond: Sequence[bool], window: int, needed: int) -> set[int]:
    """Indexes of the ``beyond`` points in any ``window`` consecutive points of which ``needed`` are."""
    hits: set[int] = set()
    for end in range(window, len(beyond) + 1):
        span = range(end - window, end)
        if sum(beyond[n] for n in span) >= needed:
            hits.update(n for n in span if beyond[n])
    return hits


@dataclass(frozen=True)
class Capability:
    """Cp = (USL - LSL) / 6 sigma and Cpk = min(USL - mean, mean - LSL) / 3 sigma, sigma = MRbar / 1.128."""

    cp: float | None
    cpk: float | None
    sigma: float
    mean: float


def capability(
    values: Sequence[float], lsl: float, usl: float, *, min_points: int = MIN_CAPABILITY_POINTS
) -> Capability | None:
    """Process capability of ``values`` against the specification limits.

    ``None`` with fewer than ``min_points`` values (not enough to estimate sigma). With sigma = 0 (every
    value the same) Cp and Cpk are ``None``: the ratio is undefined, not infinite.
    """
    limits = control_limits(values)
    if limits is None or len(values) < min_points:
        return None
    sigma = limits.sigma
    if sigma <= 0 or math.isclose(sigma, 0.0, abs_tol=1e-12):
        return Capability(cp=None, cpk=None, sigma=0.0, mean=limits.centre)
    mean = limits.centre
    return Capability(
        cp=(usl - lsl) / (6 * sigma),
        cpk=min(usl - mean, mean - lsl) / (3 * sigma),
        sigma=sigma,
        mean=mean,
    )


# --- age buckets ------------------------------------------------------------------------------------
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 4 h", timedelta(hours=4)),
    ("4-24 h", timedelta(hours=24)),
    ("1-3 d", timedelta(days=3)),
    ("> 3 d", None),
)


def age_bucket(age: timedelta) -> str:
    """The label of the age bucket ``age`` falls in (upper bounds exclusive)."""
    for label, upper in AGE_BUCKETS:
        if upper is None or age < upper:
            return label
    raise AssertionError("the last bucket is open-ended")


# --- drawing dimensions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Dimension:
    """A measured quantity of a drawing: its name in an inspection's ``measurements``, and its limits."""

    name: str
    label: str
    nominal: float
    tolerance: float | None

    @property
    def lsl(self) -> float | None:
        return None if self.tolerance is None else self.nominal - self.tolerance

    @property
    def usl(self) -> float | None:
        return None if self.tolerance is None else self.nominal + self.tolerance


def spec_dimensions(spec: dict) -> list[Dimension]:
    """The dimensions the camera pipeline measures for a drawing ``spec`` (see PartRevision.spec).

    Names match the pipeline's measurement names: ``length``, ``width``, ``<hole>.diameter``,
    ``<hole>.x``, ``<hole>.y``; limits are nominal ± the drawing's tolerance for that kind of feature (the
    shop's default where the drawing states none, as the camera applies them). A spec that is not a valid
    drawing has no dimensions to chart.
    """
    try:
        drawing = Drawing.from_dict(spec)
    except DrawingError:
        return []
    tolerances = drawing.tolerances
    found = [
        Dimension("length", "Outline length", drawing.length, tolerances.outline),
        Dimension("width", "Outline width", drawing.width, tolerances.outline),
    ]
    for hole in drawing.holes:
        found += [
            Dimension(
                f"{hole.id}.diameter", f"Hole {hole.id} diameter", hole.diameter, tolerances.hole_diameter
            ),
            Dimension(f"{hole.id}.x", f"Hole {hole.id} centre x", hole.x, tolerances.hole_position),
            Dimension(f"{hole.id}.y", f"Hole {hole.id} centre y", hole.y, tolerances.hole_position),
        ]
    return found


def measured_value(measurements, name: str) -> float | None:
    """The measured value of ``name`` in an inspection's ``measurements`` list, or ``None``.

    Station inspections store ``{"name", "nominal", "actual", "deviation", "tolerance", "ok"}``; a record
    posted by hand may carry ``value`` instead of ``actual``.
    """
    if not isinstance(measurements, list):
        return None
    for entry in measurements:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get("actual", entry.get("value"))
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
    return None
