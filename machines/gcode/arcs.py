"""Arc geometry for G2/G3: centre, sweep, extent, length and end tangents.

Conventions follow GRBL 1.1 (motion_control.c / gcode.c), which Marlin matches
for the XY plane: each plane has a first and second axis (G17: X,Y; G18: Z,X;
G19: Y,Z) and a linear axis for helical motion; I/J/K are incremental offsets
from the start point to the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from machines.gcode.profiles import Vec3

# plane G-code -> (first axis, second axis, linear axis, first offset, second offset)
PLANES = {
    17: (0, 1, 2, "I", "J"),
    18: (2, 0, 1, "K", "I"),
    19: (1, 2, 0, "J", "K"),
}

# GRBL rejects an I/J arc whose end radius differs from its start radius by more
# than 0.005 mm and (more than 0.5 mm or more than 0.1 % of the radius).
RADIUS_TOLERANCE_MM = 0.005
RADIUS_TOLERANCE_ABSOLUTE_LIMIT_MM = 0.5
RADIUS_TOLERANCE_FRACTION = 0.001
# GRBL's ARC_ANGULAR_TRAVEL_EPSILON: a sweep this close to zero is a full circle.
ANGULAR_EPSILON = 5e-7
# Slicers round coordinates, so a half circle given with R can come out a hair
# "too small"; accept that much and treat it as exactly half a circle.
R_FORM_SLACK_MM = 0.005

_QUADRANT_POINTS = ((0.0, 1.0, 0.0), (math.pi / 2, 0.0, 1.0), (math.pi, -1.0, 0.0))
_QUADRANT_POINTS += ((3 * math.pi / 2, 0.0, -1.0),)
_TWO_PI = 2 * math.pi


class ArcError(ValueError):
    """The arc cannot be executed; the message says why in plain words."""


@dataclass(frozen=True)
class ArcPath:
    """Where an arc goes: per-axis extent, path length and end directions (unit)."""

    low: Vec3
    high: Vec3
    length_mm: float
    entry_direction: Vec3
    exit_direction: Vec3


def center_from_radius(
    start: tuple[float, float], end: tuple[float, float], radius: float, clockwise: bool
) -> tuple[float, float]:
    """Centre of an R-form arc in plane coordinates (negative R: the long way round)."""
    delta_a = end[0] - start[0]
    delta_b = end[1] - start[1]
    chord = math.hypot(delta_a, delta_b)
    if chord == 0.0:
        raise ArcError("an R-form arc cannot end where it starts (use I/J for a full circle)")
    height_squared_times_4 = 4.0 * radius * radius - chord * chord
    if height_squared_times_4 < 0.0:
        if chord - 2.0 * abs(radius) > R_FORM_SLACK_MM:
            raise ArcError(
                f"R {abs(radius):.3f} is too small for an arc whose ends are {chord:.3f} mm "
                f"apart (needs at least {chord / 2:.3f})"
            )
        height_squared_times_4 = 0.0
    # GRBL's formula: the centre sits on the chord's perpendicular bisector, on
    # the side chosen by the direction and by the sign of R.
    height_ratio = -math.sqrt(height_squared_times_4) / chord
    if not clockwise:
        height_ratio = -height_ratio
    if radius < 0:
        height_ratio = -height_ratio
    offset_a = 0.5 * (delta_a - delta_b * height_ratio)
    offset_b = 0.5 * (delta_b + delta_a * height_ratio)
    return start[0] + offset_a, start[1] + offset_b


def check_radius_match(start_radius: float, end_radius: float) -> None:
    """Raise ArcError when start and end are not (nearly) on one circle."""
    mismatch = abs(end_radius - start_radius)
    if mismatch <= RADIUS_TOLERANCE_MM:
        return
    if mismatch > RADIUS_TOLERANCE_ABSOLUTE_LIMIT_MM or mismatch > RADIUS_TOLERANCE_FRACTION * start_radius:
        raise ArcError(
            f"arc end is {end_radius:.3f} mm from the centre but the start is "
            f"{start_radius:.3f} mm (radius mismatch {mismatch:.3f} mm)"
        )


def trace_arc(start: Vec3, end: Vec3, center: tuple[float, float], plane: int, clockwise: bool) -> ArcPath:
    """Describe the arc from ``start`` to ``end`` about ``center`` (plane coordinates).

    The radius is the start radius (as the controllers use); the caller checks that
    the end lies on it. Start equal to end in the plane means a full circle.
    """
    first, second, linear, _, _ = PLANES[plane]
    radial_start = (start[first] - center[0], start[second] - center[1])
    radial_end = (end[first] - center[0], end[second] - center[1])
    radius = math.hypot(*radial_start)
    if radius == 0.0:
        raise ArcError("arc has zero radius (its centre is its start point)")
    sweep = _sweep(radial_start, radial_end, clockwise)
    start_angle = math.atan2(radial_start[1], radial_start[0])

    low = [min(start[axis], end[axis]) for axis in range(3)]
    high = [max(start[axis], end[axis]) for axis in range(3)]
    for angle, cos_a, sin_a in _QUADRANT_POINTS:
        if _angle_within_sweep(angle, start_angle, sweep):
            for axis, value in ((first, center[0] + radius * cos_a), (second, center[1] + radius * sin_a)):
                low[axis] = min(low[axis], value)
                high[axis] = max(high[axis], value)

    planar_length = radius * abs(sweep)
    linear_change = end[linear] - start[linear]
    length = math.hypot(planar_length, linear_change)
    entry = _tangent(start_angle, clockwise, planar_length, linear_change, length, plane)
    exit_ = _tangent(start_angle + sweep, clockwise, planar_length, linear_change, length, plane)
    return ArcPath(_vec(low), _vec(high), length, entry, exit_)


def _sweep(radial_start: tuple[float, float], radial_end: tuple[float, float], clockwise: bool) -> float:
    """Signed angle travelled (radians; negative clockwise), as GRBL computes it."""
    cross = radial_start[0] * radial_end[1] - radial_start[1] * radial_end[0]
    dot = radial_start[0] * radial_end[0] + radial_start[1] * radial_end[1]
    travel = math.atan2(cross, dot)
    if clockwise:
        if travel >= -ANGULAR_EPSILON:
            travel -= _TWO_PI
    elif travel <= ANGULAR_EPSILON:
        travel += _TWO_PI
    return travel


def _angle_within_sweep(angle: float, start_angle: float, sweep: float) -> bool:
    if sweep >= 0:
        return (angle - start_angle) % _TWO_PI <= sweep
    return (start_angle - angle) % _TWO_PI <= -sweep


def _tangent(
    angle: float,
    clockwise: bool,
    planar_length: float,
    linear_change: float,
    length: float,
    plane: int,
) -> Vec3:
    first, second, linear, _, _ = PLANES[plane]
    direction = -1.0 if clockwise else 1.0
    planar_share = planar_length / length
    components = [0.0, 0.0, 0.0]
    components[first] = -math.sin(angle) * direction * planar_share
    components[second] = math.cos(angle) * direction * planar_share
    components[linear] = linear_change / length
    return _vec(components)


def _vec(values: list[float]) -> Vec3:
    return (values[0], values[1], values[2])
