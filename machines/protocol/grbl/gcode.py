"""How GRBL 1.1 reads G-code: its dialect, allow-list and forbidden commands.

Grey-area decisions (the policy is in :mod:`machines.gcode.rules`):

* ``G10 L2``/``L20`` also write work offsets to EEPROM. The validator tracks them as
  per-job state, but a production profile refuses them (``SETUP_COMMANDS``): the MES
  sets the offsets from the machine record before every job, and a program that moved
  them would cut somewhere no one checked. ``$X`` and ``$C`` are refused there too.
* ``G28.1``/``G30.1`` are forbidden: they change the stored positions that G28/G30
  validation assumes. ``$<n>=``, ``$N<n>=`` and ``$I=`` write EEPROM and are
  forbidden; ``$SLP`` and ``$RST`` put the controller to sleep or reset it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from machines.gcode.dialects import MODAL_GCODES, MODE_GCODES, RAPID, SYSTEM_COMMANDS, Dialect
from machines.gcode.parser import ASSIGNMENT_WORD, GcodeLine
from machines.gcode.profiles import ANY_TOOL, WORK_OFFSET_NAMES

ALLOWED_COMMANDS = frozenset(
    {
        *("G0", "G1", "G2", "G3", "G4", "G10", "G17", "G18", "G19", "G20", "G21"),
        *("G28", "G30", "G38.2", "G38.3", "G38.4", "G38.5", "G40", "G43.1", "G49", "G53"),
        *WORK_OFFSET_NAMES,
        *("G61", "G80", "G90", "G91", "G91.1", "G92", "G92.1", "G93", "G94"),
        *("M0", "M1", "M2", "M30", "M3", "M4", "M5", "M7", "M8", "M9"),
        ANY_TOOL,
        *("$H", "$X", "$C", "$J"),
    }
)

PARAMETER_LETTERS = frozenset("FIJKLPRSXYZ")

FORBIDDEN = {
    "G28.1": "it overwrites the stored G28 position in EEPROM",
    "G30.1": "it overwrites the stored G30 position in EEPROM",
    "$SLP": "it puts the controller to sleep",
    "$RST": "it resets settings stored in EEPROM",
}

_SETTING = re.compile(r"\$\d+\Z")
_STARTUP_BLOCK = re.compile(r"\$N\d+\Z")


SETUP_COMMANDS = {
    "G10": "it changes a work offset, which the MES sets from the machine record before every job",
    "$X": "it unlocks an alarm, which only a machinist may do after checking the machine",
    "$C": "it toggles check mode, which the MES controls",
}


def forbidden_reason(command: str, line: GcodeLine) -> str | None:
    """Why ``command`` on ``line`` may never run on GRBL, or None; ``$`` commands only when they assign."""
    if command in FORBIDDEN:
        return FORBIDDEN[command]
    if line.value(ASSIGNMENT_WORD) is None:
        return None
    if _SETTING.match(command):
        return f"it writes GRBL setting {command} to EEPROM"
    if _STARTUP_BLOCK.match(command):
        return "it rewrites a startup block stored in EEPROM"
    if command == "$I":
        return "it writes the build info string to EEPROM"
    return None


def _dwell_seconds(params: Mapping[str, float]) -> float:
    return params.get("P", 0.0)  # GRBL's P is seconds


DIALECT = Dialect(
    firmware="grbl",
    display_name="GRBL",
    numbered_lines=False,
    power_on_motion_mode=RAPID,  # GRBL powers up in G0
    power_on_feed_mm_min=None,
    modal_motion=True,
    extrudes=False,
    bare_line_issue=None,
    set_position_needs_axis=True,
    arc_needs_plane_axis=True,
    dwell_seconds=_dwell_seconds,
    early_mcodes={},
    mode_gcodes=MODE_GCODES,
    modal_gcodes=MODAL_GCODES,
    axis_gcodes={
        10.0: "_set_work_offset",
        28.0: "_go_to_stored_position",
        30.0: "_go_to_stored_position",
        43.1: "_tool_length_already_set",
        92.0: "_set_position",
    },
    pre_motion_gcodes={},
    late_mcodes={2.0: "_program_end", 30.0: "_program_end"},
    system_commands=SYSTEM_COMMANDS,
    untraced_commands=frozenset(
        {"G40", "G61", "G91.1", "M0", "M1", "M3", "M4", "M5", "M7", "M8", "M9", "T", "$X", "$C"}
    ),
    allowed_commands=ALLOWED_COMMANDS,
    parameter_letters=PARAMETER_LETTERS,
    max_line_length=80,  # GRBL 1.1's LINE_BUFFER_SIZE
    forbidden_reason=forbidden_reason,
    warned={},
    setup_commands=SETUP_COMMANDS,
    spindle_speed_word="S",
    default_max_spindle_rpm=24000.0,  # a small mill's spindle; set the machine's own in its record
    default_max_feed_mm_min=2000.0,
    default_rapid_mm_min=3000.0,
    default_acceleration_mm_s2=200.0,
    homes_to_maxima=True,
)
