"""The g-code interpreter of the GRBL 1.1 simulator (pure, no timing).

It validates one normalised line the way GRBL's ``gc_execute_line`` does and
turns it into a :class:`Plan` — an ordered list of steps the firmware core
then runs (wait for the planner to drain, dwell, queue a move, pause, end the
program).  Errors raise :class:`GcodeError` carrying GRBL's numeric code and
leave the interpreter state untouched, because GRBL also only commits a
block after it validated all of it.

Scope: XYZ only, G0/G1/G2/G3, G4, G10 L2/L20, G17-G19, G20/G21, G28/G28.1,
G30/G30.1, G40, G43.1/G49, G53, G54-G59, G61, G80, G90/G91, G91.1,
G92/G92.1, G93/G94, M0/M1/M2/M30, M3/M4/M5, M7/M8/M9, F S T N.  Probing
(G38.x) is answered with ``error:20`` because the simulator has no probe.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field

from simulators.core import arc_length, arc_points

AXES = "XYZ"
MM_PER_INCH = 25.4
MAX_LINE_NUMBER = 10_000_000
MAX_TOOL_NUMBER = 255
N_COORD_SYSTEMS = 6

# GRBL status codes used here (names follow GRBL's report.h).
BAD_NUMBER_FORMAT = 2
EXPECTED_COMMAND_LETTER = 1
NEGATIVE_VALUE = 4
UNSUPPORTED_COMMAND = 20
MODAL_GROUP_VIOLATION = 21
UNDEFINED_FEED_RATE = 22
COMMAND_VALUE_NOT_INTEGER = 23
AXIS_COMMAND_CONFLICT = 24
WORD_REPEATED = 25
NO_AXIS_WORDS = 26
INVALID_LINE_NUMBER = 27
VALUE_WORD_MISSING = 28
UNSUPPORTED_COORD_SYS = 29
G53_INVALID_MOTION_MODE = 30
AXIS_WORDS_EXIST = 31
NO_AXIS_WORDS_IN_PLANE = 32
INVALID_TARGET = 33
ARC_RADIUS_ERROR = 34
NO_OFFSETS_IN_PLANE = 35
UNUSED_WORDS = 36
G43_DYNAMIC_AXIS_ERROR = 37
MAX_VALUE_EXCEEDED = 38
INVALID_JOG_COMMAND = 16

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")

# G-code word -> (modal group, canonical name).  Keys are (integer, mantissa*10).
_G_WORDS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 0): ("motion", "G0"),
    (1, 0): ("motion", "G1"),
    (2, 0): ("motion", "G2"),
    (3, 0): ("motion", "G3"),
    (80, 0): ("motion", "G80"),
    (4, 0): ("nonmodal", "G4"),
    (10, 0): ("nonmodal", "G10"),
    (28, 0): ("nonmodal", "G28"),
    (28, 1): ("nonmodal", "G28.1"),
    (30, 0): ("nonmodal", "G30"),
    (30, 1): ("nonmodal", "G30.1"),
    (53, 0): ("nonmodal", "G53"),
    (92, 0): ("nonmodal", "G92"),
    (92, 1): ("nonmodal", "G92.1"),
    (17, 0): ("plane", "G17"),
    (18, 0): ("plane", "G18"),
    (19, 0): ("plane", "G19"),
    (90, 0): ("distance", "G90"),
    (91, 0): ("distance", "G91"),
    (91, 1): ("arc_distance", "G91.1"),
    (93, 0): ("feed_mode", "G93"),
    (94, 0): ("feed_mode", "G94"),
    (20, 0): ("units", "G20"),
    (21, 0): ("units", "G21"),
    (40, 0): ("cutter", "G40"),
    (43, 1): ("tlo", "G43.1"),
    (49, 0): ("tlo", "G49"),
    (61, 0): ("path", "G61"),
    **{(n, 0): ("wcs", f"G{n}") for n in range(54, 60)},
}
_M_WORDS: dict[int, tuple[str, str]] = {
    0: ("stop", "M0"),
    1: ("stop", "M1"),
    2: ("stop", "M2"),
    30: ("stop", "M30"),
    3: ("spindle", "M3"),
    4: ("spindle", "M4"),
    5: ("spindle", "M5"),
    7: ("coolant", "M7"),
    8: ("coolant", "M8"),
    9: ("coolant", "M9"),
}
_VALUE_LETTERS = frozenset("FIJKLNPRSTXYZ")
_NON_NEGATIVE = frozenset("FNPST")
_PLANES = {17: (0, 1, 2), 18: (2, 0, 1), 19: (1, 2, 0)}  # (axis_0, axis_1, linear axis)


class GcodeError(Exception):
    """A line GRBL would reject; ``code`` is the number in ``error:N``."""

    def __init__(self, code: int):
        super().__init__(f"error:{code}")
        self.code = code


@dataclass
class Modal:
    """GRBL's modal state, as reported by ``$G``."""

    motion: str = "G0"
    wcs: int = 0  # 0..5 -> G54..G59
    plane: int = 17
    inches: bool = False
    incremental: bool = False
    inverse_time: bool = False
    spindle: str = "M5"
    flood: bool = False
    mist: bool = False
    program: str = ""  # "M0"/"M2"/"M30" after a stop, else ""
    feed: float = 0.0  # mm/min
    speed: float = 0.0
    tool: int = 0


@dataclass
class Offsets:
    """Persistent (EEPROM in real GRBL) coordinate data."""

    wcs: list[list[float]] = field(default_factory=lambda: [[0.0] * 3 for _ in range(N_COORD_SYSTEMS)])
    g28: list[float] = field(default_factory=lambda: [0.0] * 3)
    g30: list[float] = field(default_factory=lambda: [0.0] * 3)


@dataclass
class Move:
    """One planner block: a straight or arc move to ``target`` (machine mm)."""

    target: tuple[float, float, float]
    duration: float  # simulated seconds at 100 % override
    rapid: bool
    feed: float  # programmed rate, mm/min (for the status report)
    check_points: list[tuple[float, float, float]]  # for soft-limit checks


@dataclass
class Plan:
    """What a validated line asks the firmware to do, in order.

    ``steps`` items: ``("sync",)`` wait for the planner to drain,
    ``("dwell", seconds)``, ``("move", Move)``, ``("pause",)`` (M0 feed hold),
    ``("end",)`` (M2/M30 program end).
    """

    steps: list[tuple] = field(default_factory=list)
    line_number: int | None = None
    wco_changed: bool = False


@dataclass
class _Block:
    """Words of one line after tokenising (GRBL's parse step 1)."""

    groups: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


def tokenize(line: str) -> _Block:
    """Split a normalised line into modal-group commands and value words."""
    block = _Block()
    i = 0
    while i < len(line):
        letter = line[i]
        if not ("A" <= letter <= "Z"):
            raise GcodeError(EXPECTED_COMMAND_LETTER)
        match = _NUMBER.match(line, i + 1)
        if not match:
            raise GcodeError(BAD_NUMBER_FORMAT)
        value = float(match.group())
        i = match.end()
        if letter in "GM":
            _add_command(block, letter, value)
        elif letter in _VALUE_LETTERS:
            if letter in block.values:
                raise GcodeError(WORD_REPEATED)
            if letter in _NON_NEGATIVE and value < 0:
                raise GcodeError(NEGATIVE_VALUE)
            block.values[letter] = value
        else:
            raise GcodeError(UNSUPPORTED_COMMAND)
    return block


def _add_command(block: _Block, letter: str, value: float) -> None:
    integer = int(value)
    mantissa = round((value - integer) * 10)
    if letter == "G":
        if (integer, mantissa) in _G_WORDS:
            group, name = _G_WORDS[(integer, mantissa)]
        elif (integer, 0) in _G_WORDS or integer == 38:
            # G38.x probing is real GRBL but there is no probe to simulate.
            raise GcodeError(UNSUPPORTED_COMMAND if integer == 38 else COMMAND_VALUE_NOT_INTEGER)
        else:
            raise GcodeError(UNSUPPORTED_COMMAND)
    else:
        if mantissa:
            raise GcodeError(COMMAND_VALUE_NOT_INTEGER)
        if integer not in _M_WORDS:
            raise GcodeError(UNSUPPORTED_COMMAND)
        group, name = _M_WORDS[integer]
    if group in block.groups:
        raise GcodeError(MODAL_GROUP_VIOLATION)
    block.groups[group] = name


class GrblInterpreter:
    """Modal state + coordinate systems + the parser's idea of position.

    ``position`` is where the *last queued* move ends (GRBL's
    ``gc_state.position``), not where the tool is now.
    """

    def __init__(self, max_rates: tuple[float, float, float] = (500.0, 500.0, 500.0)):
        self.max_rates = max_rates
        self.offsets = Offsets()
        self.reset((0.0, 0.0, 0.0))

    def reset(self, position: tuple[float, float, float]) -> None:
        """Soft reset: modal defaults, G92/TLO cleared, position re-synced."""
        self.modal = Modal()
        self.g92 = [0.0, 0.0, 0.0]
        self.tlo = 0.0
        self.position = list(position)

    def wco(self) -> tuple[float, float, float]:
        """Work coordinate offset: active WCS + G92 + tool length offset."""
        base = self.offsets.wcs[self.modal.wcs]
        return (base[0] + self.g92[0], base[1] + self.g92[1], base[2] + self.g92[2] + self.tlo)

    # -- public entry points --------------------------------------------

    def execute(self, line: str) -> Plan:
        """Validate and commit one g-code line; raise GcodeError if invalid."""
        block = tokenize(line)
        work = _Work(self)
        plan = work.run(block)
        self.modal, self.g92, self.tlo = work.modal, work.g92, work.tlo
        self.offsets, self.position = work.offsets, work.position
        return plan

    def jog(self, line: str) -> Move | None:
        """Validate a ``$J=`` body; only position is committed (GRBL keeps modes)."""
        block = tokenize(line)
        allowed_groups = {"distance", "units", "nonmodal"}
        if set(block.groups) - allowed_groups or block.groups.get("nonmodal", "G53") != "G53":
            raise GcodeError(INVALID_JOG_COMMAND)
        if set(block.values) - set("FNXYZ") or "F" not in block.values:
            raise GcodeError(INVALID_JOG_COMMAND)
        block.groups["motion"] = "G1"
        block.groups["feed_mode"] = "G94"
        work = _Work(self)
        plan = work.run(block)
        self.position = work.position
        moves = [step[1] for step in plan.steps if step[0] == "move"]
        return moves[0] if moves else None


class _Work:
    """Scratch copy of the interpreter state for validating one block."""

    def __init__(self, interp: GrblInterpreter):
        self.max_rates = interp.max_rates
        self.modal = copy.copy(interp.modal)
        self.offsets = copy.deepcopy(interp.offsets)
        self.g92 = list(interp.g92)
        self.tlo = interp.tlo
        self.position = list(interp.position)
        self.prior_inverse_time = interp.modal.inverse_time

    def run(self, block: _Block) -> Plan:
        g, v = block.groups, block.values
        plan = Plan()
        axis_words = {AXES.index(a): v[a] for a in AXES if a in v}
        axis_command = self._axis_command(g, axis_words)
        if "N" in v:
            if v["N"] > MAX_LINE_NUMBER:
                raise GcodeError(INVALID_LINE_NUMBER)
            plan.line_number = int(v["N"])
        used = {"N", "F", "S", "T"}
        self._apply_modes(g, v, axis_command)
        sync = self._apply_spindle_coolant(g, v)
        if sync:
            plan.steps.append(("sync",))
        nonmodal = g.get("nonmodal")
        if nonmodal == "G4":
            if "P" not in v:
                raise GcodeError(VALUE_WORD_MISSING)
            used.add("P")
            plan.steps += [("sync",), ("dwell", v["P"])]
        elif nonmodal in ("G10", "G92", "G92.1", "G28.1", "G30.1"):
            used |= self._coordinate_command(nonmodal, v, axis_words)
            plan.wco_changed = nonmodal in ("G92", "G92.1") or (
                nonmodal == "G10" and self._touches_active_wcs(v)
            )
        elif nonmodal in ("G28", "G30"):
            plan.steps += self._go_home(nonmodal, axis_words)
        if "tlo" in g:
            self._tool_length(g["tlo"], axis_words)
            plan.wco_changed = True
        if axis_command == "motion":
            used |= self._motion(plan, nonmodal, v, axis_words)
        elif axis_words and axis_command is None:
            raise GcodeError(AXIS_WORDS_EXIST)
        if axis_command:
            used |= set(AXES)
        if set(v) - used:
            raise GcodeError(UNUSED_WORDS)
        self._program_flow(plan, g.get("stop"))
        return plan

    # -- step helpers ---------------------------------------------------

    def _axis_command(self, g: dict[str, str], axis_words: dict[int, float]) -> str | None:
        """Which command owns the axis words (GRBL's ``axis_command``)."""
        owner = None
        if g.get("nonmodal") in ("G10", "G28", "G30", "G92"):
            owner = "nonmodal"
        if "tlo" in g:
            if owner:
                raise GcodeError(AXIS_COMMAND_CONFLICT)
            owner = "tlo"
        if g.get("motion", "G80") != "G80":
            if owner:
                raise GcodeError(AXIS_COMMAND_CONFLICT)
            owner = "motion"
        if axis_words and owner is None:
            owner = "motion" if self._block_motion(g) != "G80" else None
        return owner

    def _block_motion(self, g: dict[str, str]) -> str:
        return g.get("motion", self.modal.motion)

    def _apply_modes(self, g: dict[str, str], v: dict[str, float], axis_command: str | None) -> None:
        m = self.modal
        if "feed_mode" in g:
            m.inverse_time = g["feed_mode"] == "G93"
        if "units" in g:
            m.inches = g["units"] == "G20"
        if "plane" in g:
            m.plane = int(g["plane"][1:])
        if "distance" in g:
            m.incremental = g["distance"] == "G91"
        if "wcs" in g:
            m.wcs = int(g["wcs"][1:]) - 54
        if "motion" in g:
            m.motion = g["motion"]
        if m.inverse_time:
            needs_feed = axis_command == "motion" and m.motion in ("G1", "G2", "G3")
            if needs_feed and "F" not in v:
                raise GcodeError(UNDEFINED_FEED_RATE)
        elif "F" in v:
            m.feed = v["F"] * (MM_PER_INCH if m.inches else 1.0)
        elif self.prior_inverse_time:
            m.feed = 0.0  # leaving G93 without F leaves the feed rate undefined
        if "S" in v:
            m.speed = v["S"]
        if "T" in v:
            if v["T"] > MAX_TOOL_NUMBER:
                raise GcodeError(MAX_VALUE_EXCEEDED)
            m.tool = int(v["T"])

    def _apply_spindle_coolant(self, g: dict[str, str], v: dict[str, float]) -> bool:
        """Apply M3-M9; True when GRBL would first wait for the planner to drain."""
        m = self.modal
        before = (m.spindle, m.flood, m.mist, m.speed if m.spindle != "M5" else 0.0)
        if "spindle" in g:
            m.spindle = g["spindle"]
        if "coolant" in g:
            name = g["coolant"]
            if name == "M9":
                m.flood = m.mist = False
            elif name == "M8":
                m.flood = True
            else:
                m.mist = True
        after = (m.spindle, m.flood, m.mist, m.speed if m.spindle != "M5" else 0.0)
        return before != after

    def _coordinate_command(self, name: str, v: dict[str, float], axis_words: dict[int, float]) -> set[str]:
        """G10 / G92 / G92.1 / G28.1 / G30.1; returns the value words consumed."""
        if name == "G92.1":
            self.g92 = [0.0, 0.0, 0.0]
            return set()
        if name in ("G28.1", "G30.1"):
            stored = self.offsets.g28 if name == "G28.1" else self.offsets.g30
            stored[:] = self.position
            return set()
        if not axis_words:
            raise GcodeError(NO_AXIS_WORDS)
        mm = self._to_mm
        if name == "G92":
            wcs = self.offsets.wcs[self.modal.wcs]
            for axis, value in axis_words.items():
                tlo = self.tlo if axis == 2 else 0.0
                self.g92[axis] = self.position[axis] - wcs[axis] - mm(value) - tlo
            return set()
        # G10
        if "L" not in v or "P" not in v:
            raise GcodeError(VALUE_WORD_MISSING)
        index = int(v["P"])
        if index > N_COORD_SYSTEMS:
            raise GcodeError(UNSUPPORTED_COORD_SYS)
        target = self.offsets.wcs[self.modal.wcs if index == 0 else index - 1]
        if v["L"] == 2:
            if "R" in v:
                raise GcodeError(UNSUPPORTED_COMMAND)
            for axis, value in axis_words.items():
                target[axis] = mm(value)
        elif v["L"] == 20:
            for axis, value in axis_words.items():
                tlo = self.tlo if axis == 2 else 0.0
                target[axis] = self.position[axis] - self.g92[axis] - mm(value) - tlo
        else:
            raise GcodeError(UNSUPPORTED_COMMAND)
        return {"L", "P"}

    def _touches_active_wcs(self, v: dict[str, float]) -> bool:
        index = int(v.get("P", 0))
        return index == 0 or index - 1 == self.modal.wcs

    def _tool_length(self, name: str, axis_words: dict[int, float]) -> None:
        if name == "G49":
            self.tlo = 0.0
            return
        if set(axis_words) != {2}:
            raise GcodeError(G43_DYNAMIC_AXIS_ERROR)
        self.tlo = self._to_mm(axis_words[2])

    def _go_home(self, name: str, axis_words: dict[int, float]) -> list[tuple]:
        """G28/G30: optional intermediate point, then the stored position."""
        steps = []
        stored = self.offsets.g28 if name == "G28" else self.offsets.g30
        home = list(stored)
        if axis_words:
            via = self._target(axis_words, absolute_override=False)
            steps.append(("move", self._line_move(via, rapid=True)))
            home = [stored[a] if a in axis_words else self.position[a] for a in range(3)]
        steps.append(("move", self._line_move(tuple(home), rapid=True)))
        return steps

    def _motion(
        self, plan: Plan, nonmodal: str | None, v: dict[str, float], axis_words: dict[int, float]
    ) -> set[str]:
        motion = self.modal.motion
        if nonmodal == "G53" and motion not in ("G0", "G1"):
            raise GcodeError(G53_INVALID_MOTION_MODE)
        if motion != "G0" and not self.modal.inverse_time and self.modal.feed == 0.0:
            raise GcodeError(UNDEFINED_FEED_RATE)
        if motion in ("G0", "G1"):
            if axis_words:
                target = self._target(axis_words, absolute_override=nonmodal == "G53")
                plan.steps.append(("move", self._line_move(target, rapid=motion == "G0", inverse=v.get("F"))))
            return set()
        return self._arc(plan, motion == "G2", v, axis_words)

    def _arc(
        self, plan: Plan, clockwise: bool, v: dict[str, float], axis_words: dict[int, float]
    ) -> set[str]:
        a0, a1, linear = _PLANES[self.modal.plane]
        if not axis_words:
            raise GcodeError(NO_AXIS_WORDS)
        if a0 not in axis_words and a1 not in axis_words:
            raise GcodeError(NO_AXIS_WORDS_IN_PLANE)
        target = self._target(axis_words, absolute_override=False)
        start = self.position
        dx, dy = target[a0] - start[a0], target[a1] - start[a1]
        if "R" in v:
            center = self._radius_center(dx, dy, self._to_mm(v["R"]), clockwise)
            used = {"R"}
        else:
            center, used = self._offset_center(v, dx, dy, a0, a1)
        s2 = (start[a0], start[a1])
        e2 = (target[a0], target[a1])
        c2 = (start[a0] + center[0], start[a1] + center[1])
        length = math.hypot(arc_length(s2, e2, c2, clockwise), target[linear] - start[linear])
        points = []
        for k, (p0, p1) in enumerate(arc_points(s2, e2, c2, clockwise), start=1):
            pt = [0.0, 0.0, 0.0]
            pt[a0], pt[a1] = p0, p1
            pt[linear] = start[linear] + (target[linear] - start[linear]) * k / 36
            points.append(tuple(pt))
        plan.steps.append(("move", self._timed_move(target, length, points, v.get("F"))))
        return used

    def _radius_center(self, dx: float, dy: float, r: float, clockwise: bool) -> tuple[float, float]:
        """Centre offset for R-format arcs (the classic chord construction)."""
        if dx == 0 and dy == 0:
            raise GcodeError(INVALID_TARGET)
        h_x2_div_d = 4.0 * r * r - dx * dx - dy * dy
        if h_x2_div_d < 0:
            raise GcodeError(ARC_RADIUS_ERROR)
        h = -math.sqrt(h_x2_div_d) / math.hypot(dx, dy)
        if not clockwise:
            h = -h
        if r < 0:
            h = -h
        return (0.5 * (dx - dy * h), 0.5 * (dy + dx * h))

    def _offset_center(self, v, dx, dy, a0, a1) -> tuple[tuple[float, float], set[str]]:
        letters = "IJK"
        if letters[a0] not in v and letters[a1] not in v:
            raise GcodeError(NO_OFFSETS_IN_PLANE)
        i = self._to_mm(v.get(letters[a0], 0.0))
        j = self._to_mm(v.get(letters[a1], 0.0))
        radius = math.hypot(i, j)
        target_r = math.hypot(dx - i, dy - j)
        delta = abs(target_r - radius)
        if delta > 0.005 and (delta > 0.5 or delta > 0.001 * radius):
            raise GcodeError(INVALID_TARGET)
        return (i, j), {"I", "J", "K"}

    def _program_flow(self, plan: Plan, stop: str | None) -> None:
        if stop in (None, "M1"):  # GRBL ignores the M1 optional stop
            return
        plan.steps += [("sync",), ("pause",) if stop == "M0" else ("end",)]
        self.modal.program = stop
        if stop in ("M2", "M30"):
            m = self.modal
            m.motion, m.plane, m.incremental, m.inverse_time = "G1", 17, False, False
            m.wcs, m.spindle, m.flood, m.mist = 0, "M5", False, False

    # -- geometry ---------------------------------------------------------

    def _to_mm(self, value: float) -> float:
        return value * MM_PER_INCH if self.modal.inches else value

    def _target(self, axis_words: dict[int, float], absolute_override: bool) -> tuple[float, float, float]:
        """Machine-coordinate target of the given axis words."""
        wco = self.offsets.wcs[self.modal.wcs]
        target = list(self.position)
        for axis, value in axis_words.items():
            mm = self._to_mm(value)
            if absolute_override:
                target[axis] = mm
            elif self.modal.incremental:
                target[axis] = self.position[axis] + mm
            else:
                tlo = self.tlo if axis == 2 else 0.0
                target[axis] = mm + wco[axis] + self.g92[axis] + tlo
        return tuple(target)

    def _line_move(self, target, rapid: bool, inverse: float | None = None) -> Move:
        if rapid:
            deltas = [abs(t - p) for t, p in zip(target, self.position, strict=True)]
            duration = max(d / r for d, r in zip(deltas, self.max_rates, strict=True)) * 60.0
            self.position = list(target)
            return Move(tuple(target), duration, True, min(self.max_rates), [tuple(target)])
        length = math.dist(target, self.position)
        return self._timed_move(target, length, [tuple(target)], inverse)

    def _timed_move(self, target, length: float, points, inverse: float | None) -> Move:
        """A feed move; GRBL caps the rate so no axis exceeds its max rate."""
        deltas = [abs(t - p) for t, p in zip(target, self.position, strict=True)]
        axis_limit = max(d / r for d, r in zip(deltas, self.max_rates, strict=True))
        inverse_time = self.modal.inverse_time and inverse
        minutes = max(1.0 / inverse if inverse_time else length / self.modal.feed, axis_limit)
        feed = length / minutes if minutes else self.modal.feed
        self.position = list(target)
        return Move(tuple(target), minutes * 60.0, False, feed, points)
