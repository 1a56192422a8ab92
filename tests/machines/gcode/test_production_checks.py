"""Checks a production program gets before any port opens: it moves, stays under the machine's feed and
spindle limits, and leaves the machine's set-up (work offsets, alarm lock) to the MES."""

import pytest

from machines.gcode import check_program
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE


def mill(**overrides):
    return profile_for("grbl", MILL_ENVELOPE, production=True, **overrides)


def errors(text, profile):
    return [str(issue) for issue in check_program(text, profile)[1].errors]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "line 0: the program is empty: it has no G-code line to send"),
        ("; only a comment\n(and another)\n", "line 0: the program is empty: it has no G-code line to send"),
        (
            "G21 G90\nM3 S1000\nM5\n",
            "line 0: the program never moves the machine: it has no G0, G1, G2 or G3 move",
        ),
    ],
    ids=["empty", "comments-only", "no-motion"],
)
def test_a_program_that_does_nothing_is_refused(text, reason):
    assert errors(text, mill()) == [reason]


def test_a_spindle_speed_over_the_machine_s_maximum_is_refused_with_its_line():
    text = "G21 G90 G94\nM3 S999999\nG1 X10 F100\n"
    assert errors(text, mill(max_spindle_rpm=12000)) == [
        "line 2: spindle speed S999999 is above this machine's maximum of 12000 rpm"
    ]
    assert errors(text.replace("999999", "12000"), mill(max_spindle_rpm=12000)) == []


def test_a_feed_over_the_machine_s_maximum_is_refused_but_rapids_are_not():
    text = "G21 G90 G94\nG0 X100\nG1 X50 F5000\nG1 X10 F800\n"
    assert errors(text, mill(max_feed_mm_min=2000)) == [
        "line 3: feed rate 5000 mm/min is above this machine's maximum of 2000 mm/min"
    ]


@pytest.mark.parametrize(
    ("line", "command"),
    [("G10 L2 P1 X10 Y10 Z-5", "G10"), ("G10 L20 P1 X290 Y0 Z0", "G10"), ("$X", "$X"), ("$C", "$C")],
)
def test_setup_commands_are_refused_in_production_programs(line, command):
    text = f"G21 G90\n{line}\nG0 X10\n"
    [reason] = errors(text, mill())
    assert reason.startswith(f"line 2: command {command} is not allowed in a production program: ")
    # The library still reads them (simulators, the `stream` command's own profile): only production refuses.
    assert errors(text, profile_for("grbl", MILL_ENVELOPE)) == []


def test_a_printer_s_s_words_are_temperatures_not_spindle_speeds():
    text = "M104 S250\nG28\nG1 X10 Y10 F1200\nG4 S2\n"
    assert errors(text, profile_for("marlin", PRINTER_ENVELOPE, production=True)) == []
