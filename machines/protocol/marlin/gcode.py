"""How Marlin 2 reads G-code: its dialect, allow-list and forbidden commands.

Grey-area decisions (the policy is in :mod:`machines.gcode.rules`):

* M201/M203/M204/M205 (acceleration, feed and jerk limits) are runtime-only until
  M500 saves them, and PrusaSlicer writes them into its start code, so they are
  allowed; M500 (save) and M502 (factory reset) are forbidden.
* M501 (reload settings from EEPROM) only reads; it is not forbidden, but it is not
  in the default allow-list either.
* M92 (steps per mm) and M206/M428 (home offset) are runtime too, but they silently
  rescale or shift every later job and the envelope check, so they are forbidden.
* M999 restarts the controller after a halt: that is the operator's call after
  inspecting the machine, never a program's. M112 (emergency stop) is the runner's
  job, not a program's.
* M81 (power supply off) is only a warning: it is a legitimate last line of a print,
  but the operator should know the machine will go dark.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from machines.gcode.dialects import MODAL_GCODES, MODE_GCODES, SYSTEM_COMMANDS, Dialect
from machines.gcode.parser import GcodeLine

ALLOWED_COMMANDS = frozenset(
    {
        *("G0", "G1", "G2", "G3", "G4", "G21", "G28", "G29", "G90", "G91", "G92"),
        *("M18", "M73", "M80", "M81", "M82", "M83", "M84"),
        *("M104", "M105", "M106", "M107", "M109", "M117", "M118", "M140", "M155", "M190"),
        *("M201", "M203", "M204", "M205", "M220", "M221", "M400", "M900"),
        "T0",
    }
)

# Every letter but the command letters and N, the line number.
PARAMETER_LETTERS = frozenset(string.ascii_uppercase) - frozenset("GMNT")

FORBIDDEN = {
    "M28": "it writes a file to the SD card",
    "M29": "it ends a file write to the SD card",
    "M30": "it deletes a file from the SD card",
    "M32": "it starts another print from the SD card",
    "M92": "it changes steps per mm, rescaling every later job",
    "M112": "it is an emergency stop, which only the runner may send",
    "M206": "it shifts the home offset, moving the work envelope",
    "M303": "it runs an unattended PID autotune",
    "M428": "it shifts the home offset, moving the work envelope",
    "M500": "it saves settings to EEPROM",
    "M502": "it resets settings to factory defaults",
    "M928": "it writes a log file to the SD card",
    "M997": "it starts a firmware update",
    "M999": "it restarts the controller after a halt, which is the operator's decision",
}

WARNED = {
    "M81": "it switches the power supply off",
}

# Marlin's power-on feed rate, used until the program sets F.
DEFAULT_FEED_MM_MIN = 1500.0


def forbidden_reason(command: str, line: GcodeLine) -> str | None:
    """Why ``command`` may never run on Marlin, or None."""
    return FORBIDDEN.get(command)


def _dwell_seconds(params: Mapping[str, float]) -> float:
    return params.get("S", params.get("P", 0.0) / 1000.0)  # Marlin's S is seconds, its P milliseconds


DIALECT = Dialect(
    firmware="marlin",
    display_name="Marlin",
    numbered_lines=True,
    power_on_motion_mode=None,  # Marlin has no modal motion at all
    power_on_feed_mm_min=DEFAULT_FEED_MM_MIN,
    modal_motion=False,
    extrudes=True,
    bare_line_issue="Marlin needs a G, M or T command on every line",
    set_position_needs_axis=False,
    arc_needs_plane_axis=False,
    dwell_seconds=_dwell_seconds,
    early_mcodes={82.0: "_extruder_absolute", 83.0: "_extruder_relative"},
    mode_gcodes=MODE_GCODES,
    modal_gcodes=MODAL_GCODES,
    axis_gcodes={
        10.0: "_firmware_retract",  # on Marlin G10 is a retract, not a work offset
        28.0: "_home_axes_and_wait",
        30.0: "_probe_in_place",
        43.1: "_tool_length_already_set",
        92.0: "_set_position",
    },
    pre_motion_gcodes={29.0: "_wait_for_bed_probing"},
    late_mcodes={109.0: "_wait_for_hotend", 190.0: "_wait_for_bed"},
    system_commands=SYSTEM_COMMANDS,
    untraced_commands=frozenset(
        {
            *("M18", "M73", "M80", "M81", "M84", "M104", "M105", "M106", "M107", "M117", "M118"),
            *("M140", "M155", "M201", "M203", "M204", "M205", "M220", "M221", "M400", "M900", "T0"),
        }
    ),
    allowed_commands=ALLOWED_COMMANDS,
    parameter_letters=PARAMETER_LETTERS,
    max_line_length=96,  # Marlin's MAX_CMD_SIZE
    forbidden_reason=forbidden_reason,
    warned=WARNED,
    setup_commands={},
    spindle_speed_word=None,  # S is a temperature or a dwell on Marlin
    default_max_spindle_rpm=None,
    default_max_feed_mm_min=12000.0,
    default_rapid_mm_min=12000.0,
    default_acceleration_mm_s2=1500.0,
    homes_to_maxima=False,
)
