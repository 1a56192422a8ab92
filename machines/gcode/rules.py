"""Commands that a program may never contain, whatever a profile's allow-list says.

Policy: a job program may move the machine and set per-job runtime state; it may
not change anything that outlives the job (EEPROM, SD card, firmware), restart or
halt the controller behind the operator's back, or change the geometry the
validator relies on (steps per mm, home offsets, stored home positions).

Decisions on the grey areas:

* Marlin M201/M203/M204/M205 (acceleration, feed and jerk limits) are runtime-only
  until M500 saves them, and PrusaSlicer writes them into its start code, so they
  are allowed; M500 (save), M502 (factory reset) are forbidden.
* Marlin M501 (reload settings from EEPROM) only reads; it is not forbidden, but it
  is not in the default allow-list either.
* Marlin M92 (steps per mm) and M206/M428 (home offset) are runtime too, but they
  silently rescale or shift every later job and the envelope check, so they are
  forbidden.
* Marlin M999 restarts the controller after a halt: that is the operator's call
  after inspecting the machine, never a program's. M112 (emergency stop) is the
  runner's job, not a program's.
* Marlin M81 (power supply off) is only a warning: it is a legitimate last line of
  a print, but the operator should know the machine will go dark.
* GRBL G10 L2/L20 also write work offsets to EEPROM; they are allowed because work
  offsets are per-job state that the validator tracks. G28.1/G30.1 are forbidden:
  they change the stored positions that G28/G30 validation assumes.
"""

from __future__ import annotations

import functools
import re

from machines.gcode.parser import ASSIGNMENT_WORD, GcodeLine
from machines.gcode.profiles import GRBL, MARLIN

MARLIN_FORBIDDEN = {
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

MARLIN_WARNED = {
    "M81": "it switches the power supply off",
}

GRBL_FORBIDDEN = {
    "G28.1": "it overwrites the stored G28 position in EEPROM",
    "G30.1": "it overwrites the stored G30 position in EEPROM",
    "$SLP": "it puts the controller to sleep",
    "$RST": "it resets settings stored in EEPROM",
}

_GRBL_SETTING = re.compile(r"\$\d+\Z")
_GRBL_STARTUP_BLOCK = re.compile(r"\$N\d+\Z")


def command_names(line: GcodeLine) -> list[str]:
    """Every command on the line: each G and M word, a leading T word, or the system command.

    A T word after another word is a parameter (Marlin ``M104 T0 S200``,
    ``M204 T1500``), not a tool change.
    """
    if line.command is not None and line.command.startswith("$"):
        return [line.command]
    words = line.words
    names = [_command_name(letter, value) for letter, value in words if letter in ("G", "M")]
    if words and words[0][0] == "T":
        names.insert(0, _command_name(*words[0]))
    return names


@functools.lru_cache(maxsize=1024)
def _command_name(letter: str, value: float) -> str:
    return f"{letter}{int(value)}" if value.is_integer() else f"{letter}{value:g}"


def forbidden_reason(firmware: str, command: str, line: GcodeLine) -> str | None:
    """Why ``command`` (found on ``line``) may never run on ``firmware``, or None."""
    return FORBIDDEN_RULES[firmware](command, line)


def warning_reason(firmware: str, command: str) -> str | None:
    """Why ``command`` deserves a warning on ``firmware``, or None."""
    return WARNED[firmware].get(command)


def _marlin_forbidden_reason(command: str, line: GcodeLine) -> str | None:
    return MARLIN_FORBIDDEN.get(command)


def _grbl_forbidden_reason(command: str, line: GcodeLine) -> str | None:
    if command in GRBL_FORBIDDEN:
        return GRBL_FORBIDDEN[command]
    assigns = line.value(ASSIGNMENT_WORD) is not None
    if not assigns:
        return None
    if _GRBL_SETTING.match(command):
        return f"it writes GRBL setting {command} to EEPROM"
    if _GRBL_STARTUP_BLOCK.match(command):
        return "it rewrites a startup block stored in EEPROM"
    if command == "$I":
        return "it writes the build info string to EEPROM"
    return None


#: Per firmware: why a command on a line may never run (None if it may).
FORBIDDEN_RULES = {GRBL: _grbl_forbidden_reason, MARLIN: _marlin_forbidden_reason}
#: Per firmware: commands that run but deserve a warning, with the reason.
WARNED: dict[str, dict[str, str]] = {GRBL: {}, MARLIN: MARLIN_WARNED}
