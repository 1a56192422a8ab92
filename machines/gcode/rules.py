"""Naming the commands on a line, for the allow-list and for each firmware's forbidden commands.

Policy, which every dialect's ``forbidden_reason`` follows: a job program may move the
machine and set per-job runtime state; it may not change anything that outlives the
job (EEPROM, SD card, firmware), restart or halt the controller behind the operator's
back, or change the geometry the validator relies on (steps per mm, home offsets,
stored home positions). The grey-area decisions are written beside each firmware's
rules (``machines.protocol.<firmware>.gcode``).
"""

from __future__ import annotations

import functools

from machines.gcode.parser import GcodeLine


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
