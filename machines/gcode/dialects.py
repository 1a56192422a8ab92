"""What each firmware makes of a G-code line: the interpreter's dispatch tables, one dialect per firmware.

The interpreter (:mod:`.interpreter`) models a machine: positions, offsets, modes, moves and pauses. A
:class:`Dialect` says which of its operations each G/M code performs on one firmware, and the few facts in
which firmwares disagree about the same words (units of a dwell, power-on modes, what E means...). Tables
map a code to the *name* of an interpreter method, like Klipper's ``cmd_<CODE>`` handlers; the interpreter
binds them once per program. A dialect also carries what the validator needs to know of the firmware: its
allow-list, its forbidden commands and why, its parameter letters, its line length and its default profile.

Each firmware's dialect lives in its own package beside its protocol engine (``machines.protocol.grbl.gcode``,
``machines.protocol.marlin.gcode``); a :class:`~machines.gcode.profiles.MachineProfile` carries the dialect
of its machine, so nothing in this package names a firmware. Adding one means writing its dialect there.

Codes are looked up in the table of the phase that runs them; a line runs its phases in GRBL's order of
execution (``execute`` in the interpreter): ``early_mcodes``, ``mode_gcodes`` (then the F word),
``modal_gcodes``, then either one of ``axis_gcodes`` or ``pre_motion_gcodes`` plus the motion itself, and
last ``late_mcodes``. A code with no entry has no effect on where the machine goes or how long it takes;
``untraced_commands`` lists the allowed ones that are so on purpose, so tests can tell coverage from gaps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from machines.gcode.parser import GcodeLine

RAPID = 0.0
LINEAR = 1.0
CLOCKWISE_ARC = 2.0
COUNTERCLOCKWISE_ARC = 3.0
PROBE_MOVES = (38.2, 38.3, 38.4, 38.5)
CANCEL_MOTION = 80.0
MOTION_CODES = frozenset({RAPID, LINEAR, CLOCKWISE_ARC, COUNTERCLOCKWISE_ARC, CANCEL_MOTION, *PROBE_MOVES})
MACHINE_COORDINATES = 53.0  # G53: this line's axis words are machine coordinates

Table = Mapping[float, str]

#: Why a command found on a line may never run on the firmware, or None if it may.
ForbiddenRule = Callable[[str, GcodeLine], "str | None"]


# eq=False: dialects are singletons compared by identity; their tables make them unhashable otherwise.
@dataclass(frozen=True, eq=False)
class Dialect:
    """One firmware's reading of G-code, as dispatch tables (code -> interpreter method name) and facts,
    plus what the validator needs to know of it (allow-list, forbidden commands, letters, line length) and
    the settings of its default profile."""

    firmware: str
    #: How reports name the firmware ("GRBL", "Marlin").
    display_name: str
    #: The sender frames every line as ``N<n> <text>*<checksum>``, which counts against the line length.
    numbered_lines: bool
    #: Motion mode at power-on (None: the firmware has no modal motion until a G0/G1/G2/G3).
    power_on_motion_mode: float | None
    #: Feed rate at power-on, mm/min (None: a feed move before any F is an error).
    power_on_feed_mm_min: float | None
    #: Axis words without a motion command continue the last one (GRBL) or are not a move (Marlin).
    modal_motion: bool
    #: E words are extruder moves and positions (G1 E, G92 E).
    extrudes: bool
    #: Why a line without a G, M or T command is refused, or None if such lines are fine.
    bare_line_issue: str | None
    #: G92 with no axis word is an error (GRBL) rather than a no-op.
    set_position_needs_axis: bool
    #: An arc must name an axis of the selected plane (GRBL); Marlin takes ``G2 I10`` as a full circle.
    arc_needs_plane_axis: bool
    #: Seconds a G4 waits, from its words.
    dwell_seconds: Callable[[Mapping[str, float]], float]
    early_mcodes: Table
    mode_gcodes: Table
    modal_gcodes: Table
    axis_gcodes: Table
    pre_motion_gcodes: Table
    late_mcodes: Table
    system_commands: Mapping[str, str]
    #: Allowed commands that deliberately have no handler: they change nothing the trace models.
    untraced_commands: frozenset[str]
    #: Default allow-list of command names as the parser yields them (``"G1"``, ``"$H"``, ``"T"``).
    allowed_commands: frozenset[str]
    #: Parameter letters the firmware understands (G, M, T and N are handled separately).
    parameter_letters: frozenset[str]
    #: Longest line the firmware's line buffer takes, framing included.
    max_line_length: int
    #: Why a command may never run, whatever a profile's allow-list says (see the firmware's policy).
    forbidden_reason: ForbiddenRule
    #: Commands that run but deserve a warning, with the reason.
    warned: Mapping[str, str]
    #: Commands that set the machine up (work offsets, alarm unlock, check mode): the MES does that itself
    #: before a job, so a production profile refuses them in programs, with the reason.
    setup_commands: Mapping[str, str]
    #: The word that sets spindle speed on any line ("S" on GRBL), or None if the firmware has no spindle.
    spindle_speed_word: str | None
    #: Default spindle limit (rpm) of a machine of this firmware, or None.
    default_max_spindle_rpm: float | None
    #: Default profile settings: feed and rapid limits (mm/min) and acceleration (mm/s²).
    default_max_feed_mm_min: float
    default_rapid_mm_min: float
    default_acceleration_mm_s2: float
    #: Where homing leaves the machine: the envelope's maxima (a mill's top/right/back) or its minima.
    homes_to_maxima: bool

    def tables(self) -> dict[str, Mapping]:
        """Every dispatch table by name, for binding and for coverage checks."""
        return {
            "early_mcodes": self.early_mcodes,
            "mode_gcodes": self.mode_gcodes,
            "modal_gcodes": self.modal_gcodes,
            "axis_gcodes": self.axis_gcodes,
            "pre_motion_gcodes": self.pre_motion_gcodes,
            "late_mcodes": self.late_mcodes,
            "system_commands": self.system_commands,
        }

    def handled_commands(self) -> frozenset[str]:
        """Command names (``"G10"``, ``"M109"``, ``"$H"``) that some table or the motion codes handle."""
        names = {_name("G", code) for code in MOTION_CODES | {MACHINE_COORDINATES}}
        for table_name, table in self.tables().items():
            letter = "M" if table_name.endswith("mcodes") else "G"
            names.update(code if isinstance(code, str) else _name(letter, code) for code in table)
        return frozenset(names)


def _name(letter: str, code: float) -> str:
    return f"{letter}{int(code)}" if float(code).is_integer() else f"{letter}{code:g}"


def _grbl_dwell_seconds(params: Mapping[str, float]) -> float:
    return params.get("P", 0.0)  # GRBL's P is seconds


def _marlin_dwell_seconds(params: Mapping[str, float]) -> float:
    return params.get("S", params.get("P", 0.0) / 1000.0)  # Marlin's S is seconds, its P milliseconds


# Shared by both firmwares: units and feed modes, applied before the line's F word is read.
MODE_GCODES: Table = {
    93.0: "_inverse_time_on",
    94.0: "_units_per_minute",
    20.0: "_inches",
    21.0: "_millimetres",
}

# Shared by both firmwares: state changes applied before the line moves.
MODAL_GCODES: Table = {
    4.0: "_dwell",
    17.0: "_select_plane",
    18.0: "_select_plane",
    19.0: "_select_plane",
    43.1: "_set_tool_length",
    49.0: "_cancel_tool_length",
    **dict.fromkeys((54.0, 55.0, 56.0, 57.0, 58.0, 59.0), "_select_work_offset"),
    90.0: "_absolute",
    91.0: "_relative",
    92.1: "_clear_position_shift",
}

# $H and $J: GRBL system commands. The parser yields them whatever the firmware and the trace has always
# read them GRBL's way; on Marlin the allow-list refuses them before anything runs.
SYSTEM_COMMANDS: Mapping[str, str] = {"$H": "_home_all_and_wait", "$J": "_jog"}
