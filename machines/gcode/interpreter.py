"""Modal interpreter: walks a parsed program the way the controller would.

It tracks the modal state that decides where a move really goes (G90/G91,
G20/G21, G54..G59 with G10 L2/L20 changes, G92/G92.1, G53, G43.1/G49, planes,
G93/G94, Marlin M82/M83 for E) and produces, in program order:

* :class:`Motion` steps, in machine coordinates, with their extent, length,
  nominal speed and extrusion;
* :class:`Pause` steps (dwells and fixed allowances for homing and heating);
* semantic issues (arcs that cannot be cut, G10 without L/P, feed moves without
  a feed rate...).

Validation and estimation both consume the same trace, so they can never disagree
about where the tool is. Lines that failed to parse have no words and are skipped.

The interpreter knows no firmware: which of its operations a G/M code performs, and
the facts in which firmwares disagree, come from the profile's dialect
(:mod:`.dialects`), through dispatch tables bound once per program.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from machines.gcode.arcs import PLANES, ArcError, center_from_radius, check_radius_match, trace_arc
from machines.gcode.dialects import (
    CANCEL_MOTION,
    CLOCKWISE_ARC,
    COUNTERCLOCKWISE_ARC,
    LINEAR,
    MACHINE_COORDINATES,
    MOTION_CODES,
    PROBE_MOVES,
    RAPID,
    Dialect,
)
from machines.gcode.issues import GcodeIssue
from machines.gcode.parser import SYSTEM_WORD, GcodeLine, ParsedProgram
from machines.gcode.profiles import WORK_OFFSET_NAMES, MachineProfile, Vec3

__all__ = [
    "CANCEL_MOTION",
    "CLOCKWISE_ARC",
    "COUNTERCLOCKWISE_ARC",
    "LINEAR",
    "MOTION_CODES",
    "PROBE_MOVES",
    "RAPID",
    "Motion",
    "Pause",
    "Trace",
    "trace_program",
]

MM_PER_INCH = 25.4
AXIS_LETTERS = "XYZ"

# Fixed time allowances (seconds) for things whose duration the program cannot tell.
HOTEND_HEAT_WAIT_SECONDS = 60.0  # M109
BED_HEAT_WAIT_SECONDS = 90.0  # M190
AXES_HOMING_SECONDS = 15.0  # G28 on a printer: home the named axes where they are
HOMING_CYCLE_SECONDS = 20.0  # $H: a full homing cycle
BED_PROBING_SECONDS = 60.0  # G29


class Motion(NamedTuple):
    """One move in machine coordinates (mm). ``low``/``high`` bound the whole path.

    ``length_mm`` is the XYZ path length, or the E distance for an extruder-only
    move (whose directions are None: the machine stops around it).
    """

    source_line: int
    start: Vec3
    end: Vec3
    low: Vec3
    high: Vec3
    is_arc: bool
    rapid: bool
    length_mm: float
    rate_mm_min: float
    extrusion_mm: float
    entry_direction: Vec3 | None
    exit_direction: Vec3 | None


class Pause(NamedTuple):
    """Time during which the machine stands still."""

    source_line: int
    seconds: float


@dataclass(frozen=True)
class Trace:
    steps: tuple[Motion | Pause, ...]
    issues: tuple[GcodeIssue, ...]


# validate_program and estimate_program usually run back to back on the same
# program and profile; remembering the last trace halves the work. Keyed on object
# identity plus the one mutable part of a profile (its work_offsets dict).
_last_trace: tuple[ParsedProgram, MachineProfile, object, Trace] | None = None


def trace_program(program: ParsedProgram, profile: MachineProfile) -> Trace:
    """Interpret ``program`` on ``profile``, starting at the profile's home position."""
    global _last_trace
    offsets_key = tuple(sorted(profile.work_offsets.items()))
    cached = _last_trace
    if cached is not None and cached[0] is program and cached[1] is profile and cached[2] == offsets_key:
        return cached[3]
    interpreter = _Interpreter(profile)
    for line in program.lines:
        if line.words:
            interpreter.execute(line)
    trace = Trace(tuple(interpreter.steps), tuple(interpreter.issues))
    _last_trace = (program, profile, offsets_key, trace)
    return trace


# A handler gets the line, the code it was dispatched for (a number, or "$H" for a system command), and the
# line's numeric words.
Handler = Callable[[GcodeLine, Any, dict[str, float]], None]
_K = TypeVar("_K", float, str)


class _Interpreter:
    """The machine model one program runs on: position, offsets and modes, plus the steps and issues so far.

    Contract: call ``execute`` once per parsed line with words, in program order; ``steps`` and ``issues``
    then hold the trace. Every handler named in the dialect's tables takes ``(line, code, params)``, where
    ``params`` are the line's numeric words other than G, M and T.
    """

    def __init__(self, profile: MachineProfile) -> None:
        self.profile = profile
        self.dialect: Dialect = profile.dialect
        self.steps: list[Motion | Pause] = []
        self.issues: list[GcodeIssue] = []
        self.position = list(profile.home_position)
        self.extruder = 0.0
        self.absolute = True
        self.extruder_absolute = True
        self.scale = 1.0  # mm per program unit
        self.plane = 17
        self.motion_mode: float | None = self.dialect.power_on_motion_mode
        self.feed_mm_min: float | None = self.dialect.power_on_feed_mm_min
        self.inverse_time = False
        self.active_offset = "G54"
        self.work_offsets = {name: list(profile.work_offset(name)) for name in WORK_OFFSET_NAMES}
        self.g92_offset = [0.0, 0.0, 0.0]
        self.tool_length = 0.0
        self._bind_handlers(self.dialect)

    def _bind_handlers(self, dialect: Dialect) -> None:
        # Bound once per program rather than looked up per word: the tables are the hot path's dispatch.
        self._early_mcodes = self._bind(dialect.early_mcodes)
        self._mode_gcodes = self._bind(dialect.mode_gcodes)
        self._modal_gcodes = self._bind(dialect.modal_gcodes)
        self._axis_gcodes = self._bind(dialect.axis_gcodes)
        self._pre_motion_gcodes = self._bind(dialect.pre_motion_gcodes)
        self._late_mcodes = self._bind(dialect.late_mcodes)
        self._system_commands = self._bind(dialect.system_commands)

    def _bind(self, table: Mapping[_K, str]) -> dict[_K, Handler]:
        return {code: getattr(self, method_name) for code, method_name in table.items()}

    # -- dispatch -------------------------------------------------------------

    def execute(self, line: GcodeLine) -> None:
        """Run one line: its phases in GRBL's order of execution, each dispatched through its table."""
        if line.command is not None and line.command.startswith("$"):
            self._system_command(line)
            return
        gcodes, mcodes, params = _split_words(line)
        if line.command is None and self.dialect.bare_line_issue is not None:
            self._issue(line, self.dialect.bare_line_issue)
            return
        if mcodes:  # hot path: skip the call for the many lines without M codes
            self._run_codes(self._early_mcodes, mcodes, line, params)
        self._modes(line, gcodes, params)
        self._movement(line, gcodes, params)
        if mcodes:
            self._run_codes(self._late_mcodes, mcodes, line, params)

    @staticmethod
    def _run_codes(
        table: dict[float, Handler], codes: list[float], line: GcodeLine, params: dict[str, float]
    ) -> None:
        """Call the handler of each code found in ``table``, in line order; other phases own the rest."""
        if not table:
            return  # hot path: most phases of most lines have nothing to run
        for code in codes:
            handler = table.get(code)
            if handler is not None:
                handler(line, code, params)

    def _issue(self, line: GcodeLine, reason: str) -> None:
        self.issues.append(GcodeIssue(line.source_line, reason))

    # -- modal state ----------------------------------------------------------

    def _modes(self, line: GcodeLine, gcodes: list[float], params: dict[str, float]) -> None:
        """Apply everything that changes state before the line's movement, in GRBL's order."""
        if gcodes:
            self._run_codes(self._mode_gcodes, gcodes, line, params)
        if "F" in params and not self.inverse_time:
            self.feed_mm_min = params["F"] * self.scale
            if self.feed_mm_min > self.profile.max_feed_mm_min + 1e-9:
                self._issue(
                    line,
                    f"feed rate {self.feed_mm_min:g} mm/min is above this machine's maximum of "
                    f"{self.profile.max_feed_mm_min:g} mm/min",
                )
        if gcodes:
            self._run_codes(self._modal_gcodes, gcodes, line, params)

    def _extruder_absolute(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.extruder_absolute = True

    def _extruder_relative(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.extruder_absolute = False

    def _inverse_time_on(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.inverse_time = True

    def _units_per_minute(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        if self.inverse_time:
            self.feed_mm_min = None  # GRBL forgets F when leaving inverse time
        self.inverse_time = False

    def _inches(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.scale = MM_PER_INCH

    def _millimetres(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.scale = 1.0

    def _select_plane(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.plane = int(code)

    def _set_tool_length(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.tool_length = params.get("Z", 0.0) * self.scale

    def _cancel_tool_length(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.tool_length = 0.0

    def _select_work_offset(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.active_offset = f"G{int(code)}"

    def _absolute(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.absolute = self.extruder_absolute = True

    def _relative(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.absolute = self.extruder_absolute = False

    def _clear_position_shift(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.g92_offset = [0.0, 0.0, 0.0]

    def _dwell(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        seconds = self.dialect.dwell_seconds(params)
        if seconds < 0:
            self._issue(line, "dwell time cannot be negative")
            return
        self.steps.append(Pause(line.source_line, seconds))

    # -- waits the program cannot time ----------------------------------------

    def _wait_for_hotend(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.steps.append(Pause(line.source_line, HOTEND_HEAT_WAIT_SECONDS))

    def _wait_for_bed(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.steps.append(Pause(line.source_line, BED_HEAT_WAIT_SECONDS))

    def _wait_for_bed_probing(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        self.steps.append(Pause(line.source_line, BED_PROBING_SECONDS))

    def _program_end(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        # GRBL's M2/M30 reset (gcode.c, PROGRAM_FLOW_COMPLETED).
        self.motion_mode = LINEAR
        self.plane = 17
        self.absolute = True
        self.inverse_time = False
        self.active_offset = "G54"

    # -- movement and axis-word commands --------------------------------------

    def _movement(self, line: GcodeLine, gcodes: list[float], params: dict[str, float]) -> None:
        """Give the axis words to the one command that claims them: a non-modal command or a motion."""
        axis_commands = [code for code in gcodes if code in self._axis_gcodes]
        motions = [code for code in gcodes if code in MOTION_CODES]
        if len(motions) > 1 or len(axis_commands) > 1:
            self._issue(line, "more than one command on this line wants the axis words")
            return
        has_axis_words = "X" in params or "Y" in params or "Z" in params
        if axis_commands:
            self._axis_command(line, axis_commands[0], motions, params, has_axis_words)
            return
        if self._pre_motion_gcodes:
            # dict.fromkeys: a wait written twice on one line is still one wait.
            self._run_codes(self._pre_motion_gcodes, list(dict.fromkeys(gcodes)), line, params)
        explicit = motions[0] if motions else None
        self._motion(line, explicit, params, has_axis_words, MACHINE_COORDINATES in gcodes)

    def _axis_command(
        self,
        line: GcodeLine,
        code: float,
        motions: list[float],
        params: dict[str, float],
        has_axis_words: bool,
    ) -> None:
        """Run non-modal ``code`` with the axis words; a motion code beside it only sets the mode."""
        if motions and has_axis_words:
            self._issue(line, f"G{code:g} and G{motions[0]:g} both claim the axis words")
            return
        self._axis_gcodes[code](line, code, params)
        if motions:
            self.motion_mode = motions[0]

    def _tool_length_already_set(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        """G43.1's Z word is the tool length, already applied with the modal codes; nothing moves."""

    def _firmware_retract(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        """A firmware retract moves only the filament, by an amount the program does not state."""

    def _probe_in_place(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        """A single-point probe ends where it started, as far as the trace can know."""

    def _set_work_offset(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        mode = params.get("L")
        slot = params.get("P")
        if mode not in (2.0, 20.0):
            self._issue(line, "G10 needs L2 (set offset) or L20 (set current position)")
            return
        if slot is None or not slot.is_integer() or not 0 <= slot <= 6:
            self._issue(line, "G10 needs P0 (active) or P1 to P6 (G54 to G59)")
            return
        name = self.active_offset if slot == 0 else WORK_OFFSET_NAMES[int(slot) - 1]
        offset = self.work_offsets[name]
        for axis, letter in enumerate(AXIS_LETTERS):
            if letter not in params:
                continue
            value = params[letter] * self.scale
            if mode == 2.0:
                offset[axis] = value
            else:
                # L20: choose the origin so that the current position reads `value`.
                tool = self.tool_length if axis == 2 else 0.0
                offset[axis] = self.position[axis] - self.g92_offset[axis] - tool - value

    def _set_position(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        has_axes = any(letter in params for letter in AXIS_LETTERS)
        if self.dialect.set_position_needs_axis and not has_axes:
            self._issue(line, "G92 needs at least one axis word")
            return
        offset = self.work_offsets[self.active_offset]
        for axis, letter in enumerate(AXIS_LETTERS):
            if letter in params:
                tool = self.tool_length if axis == 2 else 0.0
                value = params[letter] * self.scale
                self.g92_offset[axis] = self.position[axis] - offset[axis] - tool - value
        if self.dialect.extrudes and "E" in params:
            self.extruder = params["E"] * self.scale

    def _go_to_stored_position(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        """G28/G30: optional rapid to an intermediate point, then to the stored position.

        With axis words only those axes go to the stored position (GRBL 1.1).
        """
        named = [axis for axis, letter in enumerate(AXIS_LETTERS) if letter in params]
        if named:
            intermediate = self._target(params, machine=False)
            self._linear_move(line, intermediate, self.profile.rapid_mm_min, 0.0, rapid=True)
        home = list(self.position)
        for axis in named or range(3):
            home[axis] = self.profile.home_position[axis]
        self._linear_move(line, home, self.profile.rapid_mm_min, 0.0, rapid=True)

    def _home_axes_and_wait(self, line: GcodeLine, code: float, params: dict[str, float]) -> None:
        """Home the named axes (all if none) in place, without a traced path, and allow for the time."""
        # G28 X0 homes X only: Marlin ignores the values. Homing clears G92 shifts.
        named = [axis for axis, letter in enumerate(AXIS_LETTERS) if letter in params]
        for axis in named or range(3):
            self.position[axis] = self.profile.home_position[axis]
            self.g92_offset[axis] = 0.0
        self.steps.append(Pause(line.source_line, AXES_HOMING_SECONDS))

    def _motion(
        self,
        line: GcodeLine,
        explicit: float | None,
        params: dict[str, float],
        has_axes: bool,
        machine: bool,
    ) -> None:
        """Run the line's move, if it asks for one, in its explicit motion mode or the modal one."""
        if explicit is None and not self.dialect.modal_motion:
            return  # without modal motion, "M205 X8" is not a move
        if explicit is not None:
            self.motion_mode = explicit
        mode = self.motion_mode
        if not self._asks_for_a_move(mode, params, has_axes) or self._refuse_motion(line, mode, machine):
            return
        target = self._target(params, machine)
        extrusion = self._extrusion(params)
        rate = self._rate(line, mode, params)
        if mode in (CLOCKWISE_ARC, COUNTERCLOCKWISE_ARC):
            self._arc_move(line, mode == CLOCKWISE_ARC, target, params, rate, extrusion)
        else:
            self._linear_move(line, target, rate, extrusion, rapid=mode == RAPID)

    def _asks_for_a_move(self, mode: float | None, params: dict[str, float], has_axes: bool) -> bool:
        """Axis words, an extrusion, or the centre words of a full circle make a line move."""
        if has_axes:
            return True
        dialect = self.dialect
        if dialect.extrudes and "E" in params:
            return True
        # Where an arc needs no in-plane axis word (Marlin), "G2 I10" is a full circle.
        is_arc = mode in (CLOCKWISE_ARC, COUNTERCLOCKWISE_ARC)
        return is_arc and not dialect.arc_needs_plane_axis and any(letter in params for letter in "IJR")

    def _refuse_motion(self, line: GcodeLine, mode: float | None, machine: bool) -> bool:
        """Record why a requested move cannot run and return True; False if it can."""
        if mode is None or mode == CANCEL_MOTION:
            self._issue(line, "axis words but no motion mode is active (G80 or none)")
            return True
        if machine and mode not in (RAPID, LINEAR):
            self._issue(line, "G53 (machine coordinates) works only with G0 or G1")
            return True
        return False

    def _rate(self, line: GcodeLine, mode: float, params: dict[str, float]) -> float:
        """Programmed speed in mm/min; inverse-time rates are resolved per move (negative)."""
        if mode == RAPID:
            return self.profile.rapid_mm_min
        if self.inverse_time:
            if "F" not in params or params["F"] <= 0:
                self._issue(line, "inverse time mode (G93) needs a positive F on every feed move")
                return self.profile.max_feed_mm_min
            return -params["F"]  # moves per minute; turned into mm/min once length is known
        if self.feed_mm_min is None or self.feed_mm_min <= 0:
            self._issue(line, "feed move but no feed rate has been set (add an F word)")
            return self.profile.max_feed_mm_min
        return min(self.feed_mm_min, self.profile.max_feed_mm_min)

    def _target(self, params: dict[str, float], machine: bool) -> list[float]:
        target = list(self.position)
        for axis, letter in enumerate(AXIS_LETTERS):
            if letter not in params:
                continue
            millimetres = params[letter] * self.scale
            if machine:
                target[axis] = millimetres
            elif self.absolute:
                target[axis] = millimetres + self._origin(axis)
            else:
                target[axis] += millimetres
        return target

    def _origin(self, axis: int) -> float:
        """Machine coordinate of the program's zero on ``axis``."""
        tool = self.tool_length if axis == 2 else 0.0
        return self.work_offsets[self.active_offset][axis] + self.g92_offset[axis] + tool

    def _extrusion(self, params: dict[str, float]) -> float:
        if not self.dialect.extrudes or "E" not in params:
            return 0.0
        millimetres = params["E"] * self.scale
        if self.extruder_absolute:
            change = millimetres - self.extruder
            self.extruder = millimetres
        else:
            change = millimetres
            self.extruder += millimetres
        return change

    def _linear_move(
        self, line: GcodeLine, target: list[float], rate: float, extrusion: float, rapid: bool
    ) -> None:
        # Hot path (one call per move): plain arithmetic, no generic min()/max().
        x0, y0, z0 = self.position
        x1, y1, z1 = target
        dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
        length = math.sqrt(dx * dx + dy * dy + dz * dz)
        self.position = target
        start = (x0, y0, z0)
        if length == 0.0:
            if extrusion:
                self._extruder_only_move(line, start, rate, extrusion, rapid)
            return
        end = (x1, y1, z1)
        direction = (dx / length, dy / length, dz / length)
        low = (x0 if x0 < x1 else x1, y0 if y0 < y1 else y1, z0 if z0 < z1 else z1)
        high = (x1 if x0 < x1 else x0, y1 if y0 < y1 else y0, z1 if z0 < z1 else z0)
        self.steps.append(
            Motion(
                line.source_line, start, end, low, high, False, rapid, length,
                self._resolve_rate(rate, length), extrusion, direction, direction,
            )
        )  # fmt: skip

    def _extruder_only_move(
        self, line: GcodeLine, at: Vec3, rate: float, extrusion: float, rapid: bool
    ) -> None:
        length = abs(extrusion)
        self.steps.append(
            Motion(
                line.source_line, at, at, at, at, False, rapid, length,
                self._resolve_rate(rate, length), extrusion, None, None,
            )
        )  # fmt: skip

    def _resolve_rate(self, rate: float, length: float) -> float:
        if rate >= 0:
            return rate
        return min(-rate * length, self.profile.max_feed_mm_min)

    def _arc_move(
        self,
        line: GcodeLine,
        clockwise: bool,
        target: list[float],
        params: dict[str, float],
        rate: float,
        extrusion: float,
    ) -> None:
        first, second, _linear, first_offset, second_offset = PLANES[self.plane]
        start = _vec(self.position)
        end = _vec(target)
        in_plane = (AXIS_LETTERS[first], AXIS_LETTERS[second])
        if self.dialect.arc_needs_plane_axis and not any(letter in params for letter in in_plane):
            self._issue(line, f"arc needs an {in_plane[0]} or {in_plane[1]} word in the selected plane")
            self.position = target
            return
        try:
            center = self._arc_center(start, end, clockwise, params, first, second)
            path = trace_arc(start, end, center, self.plane, clockwise)
        except ArcError as error:
            self._issue(line, str(error))
            self.position = target
            return
        except _MissingArcWords:
            self._issue(line, f"arc needs an R word or centre offsets {first_offset}/{second_offset}")
            self.position = target
            return
        self.position = target
        self.steps.append(
            Motion(
                line.source_line, start, end, path.low, path.high, True, False, path.length_mm,
                self._resolve_rate(rate, path.length_mm), extrusion,
                path.entry_direction, path.exit_direction,
            )
        )  # fmt: skip

    def _arc_center(
        self,
        start: Vec3,
        end: Vec3,
        clockwise: bool,
        params: dict[str, float],
        first: int,
        second: int,
    ) -> tuple[float, float]:
        _, _, _, first_offset, second_offset = PLANES[self.plane]
        if "R" in params:
            return center_from_radius(
                (start[first], start[second]),
                (end[first], end[second]),
                params["R"] * self.scale,
                clockwise,
            )
        if first_offset not in params and second_offset not in params:
            raise _MissingArcWords
        center = (
            start[first] + params.get(first_offset, 0.0) * self.scale,
            start[second] + params.get(second_offset, 0.0) * self.scale,
        )
        check_radius_match(
            math.hypot(start[first] - center[0], start[second] - center[1]),
            math.hypot(end[first] - center[0], end[second] - center[1]),
        )
        return center

    # -- system commands ($H, $J) ---------------------------------------------

    def _system_command(self, line: GcodeLine) -> None:
        """Dispatch a ``$`` command; the others ($X, $C...) change nothing the trace models."""
        handler = self._system_commands.get(line.command)
        if handler is not None:
            _gcodes, _mcodes, params = _split_words(line)
            handler(line, line.command, params)

    def _home_all_and_wait(self, line: GcodeLine, command: str, params: dict[str, float]) -> None:
        self.position = list(self.profile.home_position)
        self.steps.append(Pause(line.source_line, HOMING_CYCLE_SECONDS))

    def _jog(self, line: GcodeLine, command: str, params: dict[str, float]) -> None:
        """``$J=``: a feed move whose G20/G21/G90/G91/G53 apply to this line only."""
        gcodes, _mcodes, _params = _split_words(line)
        saved = (self.absolute, self.scale)
        machine = False
        for code in gcodes:
            if code in (20.0, 21.0):
                self.scale = MM_PER_INCH if code == 20.0 else 1.0
            elif code in (90.0, 91.0):
                self.absolute = code == 90.0
            elif code == 53.0:
                machine = True
            else:
                self._issue(line, f"jog accepts only G20, G21, G53, G90 and G91, not G{code:g}")
        if "F" not in params or params["F"] <= 0:
            self._issue(line, "jog needs a positive F word")
            feed = self.profile.max_feed_mm_min
        else:
            feed = min(params["F"] * self.scale, self.profile.max_feed_mm_min)
        target = self._target(params, machine)
        self.absolute, self.scale = saved
        self._linear_move(line, target, feed, 0.0, rapid=False)


class _MissingArcWords(Exception):
    pass


def _split_words(line: GcodeLine) -> tuple[list[float], list[float], dict[str, float]]:
    """G codes, M codes and numeric parameters of a line (T and text are ignored)."""
    gcodes: list[float] = []
    mcodes: list[float] = []
    params: dict[str, float] = {}
    for letter, value in line.words:
        if letter == "G":
            gcodes.append(value)  # type: ignore[arg-type]
        elif letter == "M":
            mcodes.append(value)  # type: ignore[arg-type]
        elif letter != "T" and letter != SYSTEM_WORD and isinstance(value, float):
            params[letter] = value
    return gcodes, mcodes, params


def _vec(values: list[float]) -> Vec3:
    return (values[0], values[1], values[2])
