"""G-code for the shop's GRBL mills and Marlin printers: parse, validate, estimate.

Pure Python (stdlib only) so that both the serial runner and the catalog can use it.

Typical use::

    program, report = check_program(text, marlin_profile(Envelope(0, 250, 0, 210, 0, 210)))
    if report.ok:
        estimate = estimate_program(program, profile)
        for source_line, text in program.sendable():
            ...

Modules: :mod:`.parser` (syntax), :mod:`.profiles` (machines and allow-lists),
:mod:`.rules` (commands forbidden on every machine, with the reasoning behind
each grey-area decision), :mod:`.interpreter` (modal state and machine
coordinates), :mod:`.arcs` (G2/G3 geometry), :mod:`.validation`, :mod:`.estimation`.
"""

from machines.gcode import dialects, interpreter
from machines.gcode.dialects import DIALECTS, Dialect, dialect_for
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
from machines.gcode.profiles import (
    GRBL_ALLOWED_COMMANDS,
    MARLIN_ALLOWED_COMMANDS,
    Envelope,
    MachineProfile,
    grbl_profile,
    marlin_profile,
    profile_for,
)
from machines.gcode.validation import ValidationReport, check_program, validate_program

__all__ = [
    "ASSIGNMENT_WORD",
    "DIALECTS",
    "GRBL_ALLOWED_COMMANDS",
    "MARLIN_ALLOWED_COMMANDS",
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
    "dialect_for",
    "dialects",
    "estimate_program",
    "filament_grams",
    "grbl_profile",
    "interpreter",
    "marlin_profile",
    "parse_line",
    "parse_program",
    "profile_for",
    "validate_program",
]
