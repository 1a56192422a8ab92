"""Parsing: comments, case and whitespace, line numbers, checksums, special lines."""

from __future__ import annotations

import pytest

from machines.gcode import GcodeIssue, GcodeSyntaxError, parse_line, parse_program
from tests.machines.gcode.conftest import marlin_checksum


class TestComments:
    def test_semicolon_comment_is_split_off(self):
        line = parse_line("G1 X10 ; move right", 3)
        assert line.text == "G1 X10"
        assert line.comment == "move right"
        assert line.words == (("G", 1.0), ("X", 10.0))
        assert line.source_line == 3
        assert line.raw == "G1 X10 ; move right"

    def test_parenthesised_comments_anywhere_on_the_line(self):
        line = parse_line("G0 (rapid) X5 (to five)", 1)
        assert line.text == "G0 X5"
        assert line.comment == "rapid to five"

    def test_semicolon_inside_parentheses_belongs_to_the_comment(self):
        line = parse_line("G1 (a; b) X1", 1)
        assert line.text == "G1 X1"
        assert line.comment == "a; b"

    def test_comment_only_line_has_nothing_to_send(self):
        line = parse_line("; LAYER_CHANGE", 7)
        assert (line.command, line.text, line.words) == (None, "", ())
        assert line.comment == "LAYER_CHANGE"

    def test_blank_and_percent_lines_have_nothing_to_send(self):
        assert parse_line("   ", 1).text == ""
        percent = parse_line("%", 2)
        assert (percent.text, percent.command) == ("", None)

    def test_unterminated_parenthesis_is_a_syntax_error(self):
        with pytest.raises(GcodeSyntaxError) as raised:
            parse_line("G1 X1 (never closed", 12)
        assert raised.value.source_line == 12
        assert "never closed" in raised.value.reason

    def test_non_ascii_inside_a_comment_is_harmless(self):
        assert parse_line("G1 X1 ; 200 °C", 1).text == "G1 X1"


class TestWords:
    def test_case_and_whitespace_are_normalised(self):
        line = parse_line("  g1x10 y-.5   f 300  ", 1)
        assert line.text == "G1 X10 Y-.5 F300"
        assert line.words == (("G", 1.0), ("X", 10.0), ("Y", -0.5), ("F", 300.0))
        assert line.command == "G1"

    def test_number_forms(self):
        line = parse_line("G1 X+3 Y.35 Z-0.5 E1.", 1)
        assert [value for _, value in line.words[1:]] == [3.0, 0.35, -0.5, 1.0]

    def test_command_names_are_canonical(self):
        assert parse_line("G01 X1", 1).command == "G1"
        assert parse_line("G01 X1", 1).text == "G1 X1"
        assert parse_line("G38.2 Z-10 F50", 1).command == "G38.2"
        assert parse_line("M104 S200", 1).command == "M104"
        assert parse_line("T0", 1).command == "T0"

    def test_parameters_only_line_has_no_command_but_is_sent(self):
        line = parse_line("X10 Y5", 1)
        assert line.command is None
        assert line.text == "X10 Y5"

    def test_value_returns_first_word_of_a_letter(self):
        line = parse_line("G1 X10 F300", 1)
        assert line.value("F") == 300.0
        assert line.value("Y") is None

    def test_free_text_argument_keeps_its_case_and_spaces(self):
        line = parse_line("M117 Hello  Colony 7 ; note", 1)
        assert line.command == "M117"
        assert line.words == (("M", 117.0), ("text", "Hello Colony 7"))
        assert line.text == "M117 Hello Colony 7"
        assert parse_line("m118 Done", 1).text == "M118 Done"


class TestLineNumbersAndChecksums:
    def test_line_number_without_checksum(self):
        line = parse_line("N10 G1 X5", 1)
        assert (line.line_number, line.checksum, line.text) == (10, None, "G1 X5")

    def test_good_checksum_is_verified_and_stripped(self):
        body = "N3 G1 X10 E2.5"
        checksum = marlin_checksum(body)
        line = parse_line(f"{body}*{checksum}", 4)
        assert line.line_number == 3
        assert line.checksum == checksum
        assert line.text == "G1 X10 E2.5"

    def test_wrong_checksum_is_a_syntax_error(self):
        body = "N3 G1 X10"
        wrong = (marlin_checksum(body) + 1) % 256
        with pytest.raises(GcodeSyntaxError) as raised:
            parse_line(f"{body}*{wrong}", 9)
        assert raised.value.source_line == 9
        assert "checksum mismatch" in raised.value.reason

    def test_checksum_must_be_a_number(self):
        with pytest.raises(GcodeSyntaxError, match="checksum"):
            parse_line("N3 G1 X10*ab", 1)

    def test_line_number_must_come_first(self):
        with pytest.raises(GcodeSyntaxError, match="first word"):
            parse_line("G1 N3 X10", 1)


class TestGrblSystemCommands:
    @pytest.mark.parametrize(
        ("raw", "command", "text"),
        [
            ("$H", "$H", "$H"),
            ("$x", "$X", "$X"),
            ("$$", "$$", "$$"),
            ("$#", "$#", "$#"),
            ("$C", "$C", "$C"),
            ("$I", "$I", "$I"),
            ("$N", "$N", "$N"),
            ("$RST=*", "$RST", "$RST=*"),
            ("$130=200", "$130", "$130=200"),
            ("$N0=g20 g54", "$N0", "$N0=G20 G54"),
            ("$SLP", "$SLP", "$SLP"),
        ],
    )
    def test_system_command_names(self, raw, command, text):
        line = parse_line(raw, 1)
        assert (line.command, line.text) == (command, text)

    def test_setting_write_keeps_its_value(self):
        line = parse_line("$130=200", 1)
        assert line.words == (("$", "130"), ("=", "200"))

    def test_jog_words_are_parsed(self):
        line = parse_line("$J=g91 x10 f500 (nudge)", 1)
        assert line.command == "$J"
        assert line.text == "$J=G91 X10 F500"
        assert line.words == (("$", "J"), ("G", 91.0), ("X", 10.0), ("F", 500.0))

    def test_jog_without_target_is_an_error(self):
        with pytest.raises(GcodeSyntaxError, match="jog"):
            parse_line("$J", 1)


class TestMalformedLines:
    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("G1 X1.2.3", "malformed number X1.2.3"),
            ("G1 X", "word X has no number"),
            ("G1 X Y2", "word X has no number"),
            ("G1 X10 Ü", "non-ASCII character outside a comment"),
            ("G1 X1 X2", "word X appears more than once"),
            ("G1 #5", "unexpected character '#'"),
            ("G1 X1 0", "number 0 has no letter"),
            ("$%", "unrecognised system command $%"),
        ],
    )
    def test_reason_names_the_problem(self, raw, reason):
        with pytest.raises(GcodeSyntaxError) as raised:
            parse_line(raw, 5)
        assert raised.value.reason == reason
        assert str(raised.value) == f"line 5: {reason}"

    def test_parse_program_collects_errors_with_line_numbers(self):
        program = parse_program("G21\nG1 X1.2.3\nG1 X5 F100\nG1 Y (oops\n")
        assert [str(issue) for issue in program.errors] == [
            "line 2: malformed number X1.2.3",
            "line 4: comment opened with '(' is never closed",
        ]
        assert all(isinstance(issue, GcodeIssue) for issue in program.errors)
        assert [line.source_line for line in program.lines] == [1, 2, 3, 4]
        # Broken lines are kept in place but can never be sent.
        assert program.sendable() == [(1, "G21"), (3, "G1 X5 F100")]


class TestParseProgram:
    def test_line_endings_and_trailing_newline(self):
        program = parse_program("G0 X1\r\nG1 X2 F100\r\n")
        assert program.sendable() == [(1, "G0 X1"), (2, "G1 X2 F100")]
        assert program.errors == ()

    def test_sendable_skips_comments_and_blank_lines(self):
        program = parse_program("; header\n\nG28\n(setup)\nM104 S200 ; heat\n")
        assert program.sendable() == [(3, "G28"), (5, "M104 S200")]

    def test_issue_string_form(self):
        assert str(GcodeIssue(12, "X 312.000 is outside")) == "line 12: X 312.000 is outside"
        assert GcodeIssue(1, "x").severity == "error"
