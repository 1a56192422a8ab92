"""Run-time and material estimates for a program on a machine profile.

Time model: every move runs a trapezoidal speed profile (accelerate at
``acceleration_mm_s2``, cruise at the programmed rate, decelerate). Speed at the
junction between consecutive moves is limited GRBL-style by the turn angle
(junction deviation, :data:`JUNCTION_DEVIATION_MM`), and a backward then forward
pass makes sure every move can actually reach and leave its junction speeds. The
machine stops at every pause (dwell, homing, heat-up) and around extruder-only
moves. Per-axis speed and acceleration limits are not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from machines.gcode.interpreter import Motion, Pause, trace_program
from machines.gcode.parser import ParsedProgram
from machines.gcode.profiles import Envelope, MachineProfile

# How far the path may deviate from a sharp corner when taking it at speed.
# GRBL's default is 0.01 mm; Marlin's classic 10 mm/s jerk corners behave roughly
# like 0.02 mm at 1500 mm/s².
JUNCTION_DEVIATION_MM = 0.02
_STRAIGHT = 1.0 - 1e-9
_REVERSAL = -1.0 + 1e-9


@dataclass(frozen=True)
class Estimate:
    """How long a program runs and what it uses.

    ``cutting_distance_mm`` counts feed moves (G1/G2/G3, jogs, probes),
    ``rapid_distance_mm`` counts G0 and G28/G30 moves; extruder-only moves count in
    neither. ``extrusion_mm`` is the net filament length pushed (retractions
    subtracted); 0 for mills. ``bounds`` is the extent of every move in machine
    coordinates, including where the first move started, or None without moves.
    """

    seconds: float
    cutting_distance_mm: float
    rapid_distance_mm: float
    extrusion_mm: float
    line_count: int
    bounds: Envelope | None


def estimate_program(program: ParsedProgram, profile: MachineProfile) -> Estimate:
    """Estimate ``program`` on ``profile``. Lines with errors are skipped, not fatal."""
    steps = trace_program(program, profile).steps
    motions = [step for step in steps if isinstance(step, Motion)]
    travelling = [motion for motion in motions if motion.entry_direction is not None]
    return Estimate(
        seconds=_program_seconds(steps, profile.acceleration_mm_s2),
        cutting_distance_mm=sum(motion.length_mm for motion in travelling if not motion.rapid),
        rapid_distance_mm=sum(motion.length_mm for motion in travelling if motion.rapid),
        extrusion_mm=sum(motion.extrusion_mm for motion in motions),
        line_count=len(program.sendable()),
        bounds=_bounds(travelling),
    )


def filament_grams(extrusion_mm: float, diameter_mm: float = 1.75, density_g_cm3: float = 1.24) -> float:
    """Mass of ``extrusion_mm`` of filament (defaults: 1.75 mm PLA)."""
    if diameter_mm <= 0 or density_g_cm3 <= 0:
        raise ValueError("filament diameter and density must be positive")
    cross_section_mm2 = math.pi * (diameter_mm / 2.0) ** 2
    volume_cm3 = cross_section_mm2 * extrusion_mm / 1000.0
    return volume_cm3 * density_g_cm3


def trapezoid_seconds(
    length_mm: float, entry_mm_s: float, exit_mm_s: float, cruise_mm_s: float, accel_mm_s2: float
) -> float:
    """Time to cover ``length_mm`` starting at ``entry``, ending at ``exit`` speed.

    Cruises at ``cruise`` if there is room, otherwise peaks where the acceleration
    and deceleration ramps meet. The caller guarantees entry and exit are reachable.
    """
    if length_mm <= 0.0:
        return 0.0
    cruise = max(cruise_mm_s, entry_mm_s, exit_mm_s)
    accelerating_mm = (cruise * cruise - entry_mm_s * entry_mm_s) / (2.0 * accel_mm_s2)
    decelerating_mm = (cruise * cruise - exit_mm_s * exit_mm_s) / (2.0 * accel_mm_s2)
    if accelerating_mm + decelerating_mm <= length_mm:
        cruising_mm = length_mm - accelerating_mm - decelerating_mm
        ramps = (2.0 * cruise - entry_mm_s - exit_mm_s) / accel_mm_s2
        return ramps + cruising_mm / cruise
    peak = math.sqrt((2.0 * accel_mm_s2 * length_mm + entry_mm_s * entry_mm_s + exit_mm_s * exit_mm_s) / 2.0)
    return (2.0 * peak - entry_mm_s - exit_mm_s) / accel_mm_s2


def _program_seconds(steps: Sequence[Motion | Pause], accel_mm_s2: float) -> float:
    """Pauses plus the motion time of each uninterrupted run of moves."""
    total = 0.0
    run: list[Motion] = []
    for step in steps:
        if isinstance(step, Pause):
            total += step.seconds + _run_seconds(run, accel_mm_s2)
            run = []
        else:
            run.append(step)
    return total + _run_seconds(run, accel_mm_s2)


def _run_seconds(run: list[Motion], accel_mm_s2: float) -> float:
    """Motion time of moves executed back to back, starting and ending at rest."""
    if not run:
        return 0.0
    cruise = [motion.rate_mm_min / 60.0 for motion in run]
    entry_limit = [0.0] + [
        _junction_speed(run[index - 1], run[index], cruise[index - 1], cruise[index], accel_mm_s2)
        for index in range(1, len(run))
    ]
    # Backward pass: never enter a move faster than it can brake for the next one.
    next_entry = 0.0
    for index in range(len(run) - 1, -1, -1):
        braking = math.sqrt(next_entry * next_entry + 2.0 * accel_mm_s2 * run[index].length_mm)
        entry_limit[index] = min(entry_limit[index], braking)
        next_entry = entry_limit[index]
    # Forward pass: never leave a move faster than it could accelerate to.
    total = 0.0
    entry = 0.0
    for index, motion in enumerate(run):
        exit_limit = entry_limit[index + 1] if index + 1 < len(run) else 0.0
        reachable = math.sqrt(entry * entry + 2.0 * accel_mm_s2 * motion.length_mm)
        exit_speed = min(exit_limit, reachable)
        total += trapezoid_seconds(motion.length_mm, entry, exit_speed, cruise[index], accel_mm_s2)
        entry = exit_speed
    return total


def _junction_speed(
    before: Motion, after: Motion, cruise_before: float, cruise_after: float, accel_mm_s2: float
) -> float:
    """Highest speed (mm/s) at which the corner between two moves can be taken."""
    if before.exit_direction is None or after.entry_direction is None:
        return 0.0
    limit = min(cruise_before, cruise_after)
    cosine = sum(a * b for a, b in zip(before.exit_direction, after.entry_direction, strict=True))
    if cosine >= _STRAIGHT:
        return limit
    if cosine <= _REVERSAL:
        return 0.0
    # GRBL planner.c: fit a circle of deviation JUNCTION_DEVIATION_MM into the
    # corner and take the speed whose centripetal acceleration equals the limit.
    sin_half_angle = math.sqrt(0.5 * (1.0 + cosine))
    squared = accel_mm_s2 * JUNCTION_DEVIATION_MM * sin_half_angle / (1.0 - sin_half_angle)
    return min(limit, math.sqrt(squared))


def _bounds(motions: list[Motion]) -> Envelope | None:
    if not motions:
        return None
    low = [min(motion.low[axis] for motion in motions) for axis in range(3)]
    high = [max(motion.high[axis] for motion in motions) for axis in range(3)]
    return Envelope(low[0], high[0], low[1], high[1], low[2], high[2])
