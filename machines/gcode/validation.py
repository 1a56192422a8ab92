"""Validate a parsed program against a machine profile before it is sent.

Checks, each reported with the source line and a plain-words reason:

* syntax errors from parsing (so a report is never ``ok`` for a broken file);
* parameter letters the firmware does not accept (E on GRBL);
* forbidden commands (see :mod:`machines.gcode.rules`), then the allow-list;
* on a production profile, the dialect's setup commands (work offsets, alarm unlock);
* spindle speeds above the profile's maximum;
* line length after normalisation, plus the ``N<n> ... *NN`` framing on Marlin;
* semantic problems found by the interpreter (bad arcs, G10 without L/P...);
* every linear move's end point and every arc's full extent inside the envelope,
  in machine coordinates after all offsets and unit conversions;
* feed rates above the profile's maximum feed (found by the interpreter where F is set);
* on a production profile, an empty program, or one that never moves the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from machines.gcode.interpreter import AXIS_LETTERS, Motion, Pause, trace_program
from machines.gcode.issues import ERROR, WARNING, GcodeIssue
from machines.gcode.parser import (
    ASSIGNMENT_WORD,
    SYSTEM_WORD,
    TEXT_WORD,
    GcodeLine,
    ParsedProgram,
    parse_program,
)
from machines.gcode.profiles import ANY_TOOL, Envelope, MachineProfile
from machines.gcode.rules import command_names

# Coordinates computed through offsets, inch conversion or arc trigonometry carry
# float noise; a move this close to the boundary is on it, not past it.
ENVELOPE_TOLERANCE_MM = 1e-6
# The sender frames each numbered line (Marlin) as "N<n> <text>*NN": "N", a space, "*" and two
# checksum digits, plus the digits of n.
NUMBERED_FRAMING_CHARACTERS = 5  # "N", the space, "*" and two checksum digits
_NON_PARAMETER_KEYS = frozenset({"G", "M", "T", SYSTEM_WORD, ASSIGNMENT_WORD, TEXT_WORD})


@dataclass(frozen=True)
class ValidationReport:
    """Errors block a program; warnings are for the operator to read."""

    errors: tuple[GcodeIssue, ...]
    warnings: tuple[GcodeIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_program(program: ParsedProgram, profile: MachineProfile) -> ValidationReport:
    """Check ``program`` for ``profile``; the report includes the program's syntax errors.

    Issues are ordered by source line.
    """
    issues = list(program.errors)
    sent_count = 0
    for line in program.lines:
        if line.text:
            sent_count += 1
            issues.extend(_line_issues(line, profile, sent_count))
    trace = trace_program(program, profile)
    issues.extend(trace.issues)
    issues.extend(_envelope_issues(trace.steps, profile.envelope))
    if profile.production:
        issues.extend(_motion_issues(program, trace.steps, sent_count))
    issues.sort(key=lambda issue: issue.source_line)
    return ValidationReport(
        errors=tuple(issue for issue in issues if issue.severity == ERROR),
        warnings=tuple(issue for issue in issues if issue.severity == WARNING),
    )


def check_program(text: str, profile: MachineProfile) -> tuple[ParsedProgram, ValidationReport]:
    """Parse and validate in one go; syntax errors appear in the report's errors."""
    program = parse_program(text)
    return program, validate_program(program, profile)


def _line_issues(line: GcodeLine, profile: MachineProfile, sent_index: int) -> list[GcodeIssue]:
    issues = _parameter_issues(line, profile)
    issues.extend(_command_issues(line, profile))
    issues.extend(_spindle_issues(line, profile))
    length_issue = _length_issue(line, profile, sent_index)
    if length_issue is not None:
        issues.append(length_issue)
    return issues


def _parameter_issues(line: GcodeLine, profile: MachineProfile) -> list[GcodeIssue]:
    rejected = {letter for letter, _ in line.words} - _NON_PARAMETER_KEYS - profile.accepted_letters
    if not rejected:
        return []
    firmware = profile.dialect.display_name
    return [
        GcodeIssue(line.source_line, f"word {letter} is not accepted by {firmware}")
        for letter in sorted(rejected)
    ]


def _command_issues(line: GcodeLine, profile: MachineProfile) -> list[GcodeIssue]:
    issues = []
    for name in command_names(line):
        forbidden = profile.dialect.forbidden_reason(name, line)
        if forbidden is not None:
            reason = f"command {name} is forbidden in programs: {forbidden}"
            issues.append(GcodeIssue(line.source_line, reason))
            continue
        setup = profile.dialect.setup_commands.get(name) if profile.production else None
        if setup is not None:
            reason = f"command {name} is not allowed in a production program: {setup}"
            issues.append(GcodeIssue(line.source_line, reason))
            continue
        if not _is_allowed(name, profile.allowed_commands):
            reason = f"command {name} is not allowed on this machine"
            issues.append(GcodeIssue(line.source_line, reason))
            continue
        warning = profile.dialect.warned.get(name)
        if warning is not None:
            reason = f"command {name}: {warning}"
            issues.append(GcodeIssue(line.source_line, reason, WARNING))
    return issues


def _spindle_issues(line: GcodeLine, profile: MachineProfile) -> list[GcodeIssue]:
    word = profile.dialect.spindle_speed_word
    if word is None or profile.max_spindle_rpm is None:
        return []
    speed = line.value(word)
    if speed is None or speed <= profile.max_spindle_rpm:
        return []
    reason = (
        f"spindle speed {word}{speed:g} is above this machine's maximum of {profile.max_spindle_rpm:g} rpm"
    )
    return [GcodeIssue(line.source_line, reason)]


def _motion_issues(
    program: ParsedProgram, steps: Sequence[Motion | Pause], sent_count: int
) -> list[GcodeIssue]:
    """An empty program, or one without a single move, is a mistake (a wrong file), never a job."""
    if program.errors:
        return []  # a program that does not parse says why already
    if sent_count == 0:
        return [GcodeIssue(0, "the program is empty: it has no G-code line to send")]
    if not any(isinstance(step, Motion) for step in steps):
        return [GcodeIssue(0, "the program never moves the machine: it has no G0, G1, G2 or G3 move")]
    return []


def _is_allowed(name: str, allowed: frozenset[str]) -> bool:
    if name in allowed:
        return True
    return name.startswith("T") and ANY_TOOL in allowed


def _length_issue(line: GcodeLine, profile: MachineProfile, sent_index: int) -> GcodeIssue | None:
    length = len(line.text)
    framing = ""
    if profile.dialect.numbered_lines:
        length += len(str(sent_index)) + NUMBERED_FRAMING_CHARACTERS
        framing = " with line number and checksum"
    if length <= profile.max_line_length:
        return None
    return GcodeIssue(
        line.source_line,
        f"line is {length} characters long{framing}; the machine accepts at most {profile.max_line_length}",
    )


def _envelope_issues(steps: Sequence[Motion | Pause], envelope: Envelope) -> list[GcodeIssue]:
    issues = []
    tolerance = ENVELOPE_TOLERANCE_MM
    x_low, x_high = envelope.x_min - tolerance, envelope.x_max + tolerance
    y_low, y_high = envelope.y_min - tolerance, envelope.y_max + tolerance
    z_low, z_high = envelope.z_min - tolerance, envelope.z_max + tolerance
    for step in steps:
        if not isinstance(step, Motion):
            continue
        if step.is_arc:
            issues.extend(_arc_envelope_issues(step, envelope))
            continue
        if step.entry_direction is None:
            continue  # extruder-only moves stay where the previous move ended
        # The envelope is a box, so a straight move is inside if both ends are; the
        # start was checked as the previous move's end.
        x, y, z = step.end
        if not (x_low <= x <= x_high and y_low <= y <= y_high and z_low <= z <= z_high):
            issues.extend(_point_envelope_issues(step, envelope))
    return issues


def _point_envelope_issues(step: Motion, envelope: Envelope) -> list[GcodeIssue]:
    issues = []
    for axis, value in enumerate(step.end):
        low, high = envelope.axis_range(axis)
        if not low - ENVELOPE_TOLERANCE_MM <= value <= high + ENVELOPE_TOLERANCE_MM:
            reason = f"{AXIS_LETTERS[axis]} {value:.3f} is outside the work envelope " + _range(low, high)
            issues.append(GcodeIssue(step.source_line, reason))
    return issues


def _arc_envelope_issues(step: Motion, envelope: Envelope) -> list[GcodeIssue]:
    """One issue per envelope face the arc crosses, naming its furthest point."""
    issues = []
    for axis in range(3):
        low, high = envelope.axis_range(axis)
        beyond = []
        if step.low[axis] < low - ENVELOPE_TOLERANCE_MM:
            beyond.append(step.low[axis])
        if step.high[axis] > high + ENVELOPE_TOLERANCE_MM:
            beyond.append(step.high[axis])
        for value in beyond:
            reason = f"arc reaches {AXIS_LETTERS[axis]} {value:.3f}, outside the work envelope " + _range(
                low, high
            )
            issues.append(GcodeIssue(step.source_line, reason))
    return issues


def _range(low: float, high: float) -> str:
    return f"({low:g} to {high:g} mm)"
