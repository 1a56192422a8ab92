"""Validation of commands and words: forbidden lists, allow-lists, line length."""

from __future__ import annotations

import pytest

from machines.gcode import check_program, parse_program, validate_program
from machines.protocol.grbl.gcode import ALLOWED_COMMANDS as GRBL_ALLOWED_COMMANDS
from machines.protocol.marlin.gcode import ALLOWED_COMMANDS as MARLIN_ALLOWED_COMMANDS
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE


def reasons(report):
    return [str(issue) for issue in report.errors]


# (line, command name) for every command that no GRBL program may contain.
GRBL_FORBIDDEN = [
    ("$130=200", "$130"),
    ("$0=10", "$0"),
    ("$RST=*", "$RST"),
    ("$RST=$", "$RST"),
    ("$RST=#", "$RST"),
    ("$N0=G20", "$N0"),
    ("$N1=G54 G21", "$N1"),
    ("$I=shop mill 2", "$I"),
    ("$SLP", "$SLP"),
    ("G28.1", "G28.1"),
    ("G30.1", "G30.1"),
]

MARLIN_FORBIDDEN = [
    ("M500", "M500"),
    ("M502", "M502"),
    ("M997", "M997"),
    ("M999", "M999"),
    ("M303 E0 S200 C8", "M303"),
    ("M92 X80 Y80", "M92"),
    ("M206 Z-0.2", "M206"),
    ("M428", "M428"),
    ("M112", "M112"),
    ("M28 part.gco", "M28"),
    ("M29", "M29"),
    ("M30 part.gco", "M30"),
    ("M32 part.gco", "M32"),
    ("M928 log.txt", "M928"),
]


class TestForbiddenCommands:
    @pytest.mark.parametrize(("line", "command"), GRBL_FORBIDDEN)
    def test_grbl_forbidden_even_when_allow_listed(self, line, command):
        profile = profile_for("grbl", MILL_ENVELOPE, allowed_commands=GRBL_ALLOWED_COMMANDS | {command})
        _, report = check_program(f"G21\n{line}\n", profile)
        assert not report.ok
        assert len(report.errors) == 1
        assert str(report.errors[0]).startswith(f"line 2: command {command} is forbidden in programs: ")

    @pytest.mark.parametrize(("line", "command"), MARLIN_FORBIDDEN)
    def test_marlin_forbidden_even_when_allow_listed(self, line, command):
        profile = profile_for(
            "marlin", PRINTER_ENVELOPE, allowed_commands=MARLIN_ALLOWED_COMMANDS | {command}
        )
        _, report = check_program(f"G21\n{line}\n", profile)
        assert len(report.errors) == 1
        assert str(report.errors[0]).startswith(f"line 2: command {command} is forbidden in programs: ")

    def test_grbl_reads_are_not_forbidden_but_writes_are(self):
        profile = profile_for("grbl", MILL_ENVELOPE, allowed_commands=GRBL_ALLOWED_COMMANDS | {"$I"})
        _, report = check_program("$I\n$I=renamed\n", profile)
        assert reasons(report) == [
            "line 2: command $I is forbidden in programs: it writes the build info string to EEPROM"
        ]

    def test_marlin_power_off_is_only_a_warning(self, printer):
        _, report = check_program("M104 S0\nM81\n", printer)
        assert report.ok
        assert [str(issue) for issue in report.warnings] == [
            "line 2: command M81: it switches the power supply off"
        ]
        assert report.warnings[0].severity == "warning"

    def test_runtime_motion_limits_are_allowed_and_are_not_moves(self, printer):
        # PrusaSlicer's start code sets limits like these; X/Y here are not positions.
        program = "M201 X9000 Y9000 Z500 E10000\nM203 X500 Y500\nM204 P1500 R1500 T1500\n"
        _, report = check_program(program + "M205 X400 Y400 Z0.4 E2.5\n", printer)
        assert report.ok, reasons(report)


class TestAllowList:
    def test_marlin_command_not_on_the_list(self, printer):
        _, report = check_program("M42 P4 S255\n", printer)
        assert reasons(report) == ["line 1: command M42 is not allowed on this machine"]

    def test_grbl_system_command_not_on_the_list(self, mill):
        _, report = check_program("$$\n", mill)
        assert reasons(report) == ["line 1: command $$ is not allowed on this machine"]

    def test_every_command_on_a_line_is_checked(self, mill):
        _, report = check_program("G90 G5 X1\n", mill)
        assert reasons(report) == ["line 1: command G5 is not allowed on this machine"]

    def test_tool_numbers(self, mill, printer):
        assert check_program("T3\n", mill)[1].ok  # GRBL allows any T
        assert check_program("T0\n", printer)[1].ok
        assert reasons(check_program("T1\n", printer)[1]) == [
            "line 1: command T1 is not allowed on this machine"
        ]

    def test_defaults_cover_the_usual_commands(self, mill, printer):
        mill_program = "G21 G90 G17 G94\nG54\nM3 S10000\nM8\nG0 X10 Y10 Z-5\nG1 Z-6 F100\nM5\nM9\nM30\n"
        assert check_program(mill_program, mill)[1].ok
        printer_program = "M140 S60\nM104 S200\nM190 S60\nM109 S200\nG28\nG29\nM82\nG92 E0\n"
        printer_program += "G1 X10 Y10 Z0.3 E1 F1200\nM106 S255\nM107\nM400\nM84\n"
        assert check_program(printer_program, printer)[1].ok


class TestWords:
    def test_grbl_rejects_extrusion_words(self, mill):
        _, report = check_program("G1 X10 E5 F100\n", mill)
        assert reasons(report) == ["line 1: word E is not accepted by GRBL"]

    def test_marlin_needs_a_command_on_every_line(self, printer):
        _, report = check_program("X10 Y10\n", printer)
        assert reasons(report) == ["line 1: Marlin needs a G, M or T command on every line"]

    def test_grbl_feed_move_needs_a_feed_rate(self, mill):
        _, report = check_program("G1 X10\n", mill)
        assert reasons(report) == ["line 1: feed move but no feed rate has been set (add an F word)"]

    def test_g10_needs_l_and_p(self, mill):
        _, report = check_program("G10 P1 X5\nG10 L2 X5\n", mill)
        assert reasons(report) == [
            "line 1: G10 needs L2 (set offset) or L20 (set current position)",
            "line 2: G10 needs P0 (active) or P1 to P6 (G54 to G59)",
        ]


class TestLineLength:
    def test_grbl_limit_counts_the_normalised_text(self, mill):
        eighty = "G1 X1." + "0" * 66 + " Y1 F100"  # 80 characters
        assert len(eighty) == 80
        # Comments and extra spaces are not sent, so they do not count.
        assert check_program(f"{eighty}   ; trailing comment\n", mill)[1].ok
        too_long = eighty + "0"
        _, report = check_program(f"G21\n{too_long}\n", mill)
        assert reasons(report) == ["line 2: line is 81 characters long; the machine accepts at most 80"]

    def test_marlin_limit_includes_line_number_and_checksum_framing(self, printer):
        # Line 1 is framed as "N1 <text>*NN": 6 more characters. 90 + 6 = 96 fits.
        ninety = "M117 " + "a" * 85
        assert check_program(f"{ninety}\n", printer)[1].ok
        _, report = check_program(f"{ninety}b\n", printer)
        assert reasons(report) == [
            "line 1: line is 97 characters long with line number and checksum; the machine accepts at most 96"
        ]


class TestSyntaxErrorsInReports:
    def test_check_program_folds_syntax_errors_into_the_report(self, mill):
        program, report = check_program("G21\nG1 X1.2.3 F100\n", mill)
        assert program.errors
        assert reasons(report) == ["line 2: malformed number X1.2.3"]

    def test_validate_program_never_passes_a_broken_program(self, mill):
        report = validate_program(parse_program("G0 X1\nG0 Y\n"), mill)
        assert reasons(report) == ["line 2: word Y has no number"]
