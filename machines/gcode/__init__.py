"""G-code for the shop's machines: parse, validate, estimate, whatever the firmware.

Pure Python (stdlib only) so that both the serial runner and the catalog can use it.

Typical use::

    profile = profile_for("marlin", Envelope(0, 250, 0, 210, 0, 210))  # machines.protocol.profile_for
    program, report = check_program(text, profile)
    if report.ok:
        estimate = estimate_program(program, profile)
        for source_line, text in program.sendable():
            ...

Modules: :mod:`.parser` (syntax), :mod:`.profiles` (machines and allow-lists),
:mod:`.rules` (naming a line's commands, and the policy on forbidden ones),
:mod:`.dialects` (the dispatch tables a firmware's dialect fills in; each firmware's
own is in ``machines.protocol.<firmware>.gcode``), :mod:`.interpreter` (modal state and machine
coordinates), :mod:`.arcs` (G2/G3 geometry), :mod:`.validation`, :mod:`.estimation`.
"""

from machines.gcode import dialects, interpreter
from machines.gcode.dialects import Dialect
from machines.gcode.estimation import Estimate, estimate_program, filament_grams
from machines.gcode.issues import GcodeIssue, GcodeSyntaxError
from machines.gcode.parser import (
    ASSIGNMENT_WORD,
    SYSTEM_WORD,
    TEXT_WORD,
    GcodeLine,
    ParsedProgram,
    parse_line,
    parse_program,
)
from machines.gcode.profiles import Envelope, MachineProfile, default_profile
from machines.gcode.validation import ValidationReport, check_program, validate_program

__all__ = [
    "ASSIGNMENT_WORD",
    "SYSTEM_WORD",
    "TEXT_WORD",
    "Dialect",
    "Envelope",
    "Estimate",
    "GcodeIssue",
    "GcodeLine",
    "GcodeSyntaxError",
    "MachineProfile",
    "ParsedProgram",
    "ValidationReport",
    "check_program",
    "default_profile",
    "dialects",
    "estimate_program",
    "filament_grams",
    "interpreter",
    "parse_line",
    "parse_program",
    "validate_program",
]
