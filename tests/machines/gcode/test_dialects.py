"""The interpreter dispatches G/M codes through its firmware's dialect tables, and the tables cover each code.

Coverage: every command a firmware's default profile allows is either handled by a table (or is a motion
code) or listed as deliberately untraced, never both. Dispatch: changing a table changes what a code does,
so no code is decided by a branch hidden in the interpreter.
"""

from __future__ import annotations

import dataclasses

import pytest

from machines.gcode import default_profile, interpreter, parse_program
from machines.gcode.interpreter import Motion, Pause
from machines.protocol.grbl.gcode import DIALECT as GRBL_DIALECT
from machines.protocol.marlin.gcode import DEFAULT_FEED_MM_MIN as MARLIN_DEFAULT_FEED_MM_MIN
from machines.protocol.marlin.gcode import DIALECT as MARLIN_DIALECT
from machines.protocol.registry import dialect_for, firmwares, profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE

DIALECTS = {name: firmware.dialect for name, firmware in firmwares().items()}
PROFILES = {"grbl": profile_for("grbl", MILL_ENVELOPE), "marlin": profile_for("marlin", PRINTER_ENVELOPE)}


def trace(profile, text):
    steps = interpreter.trace_program(parse_program(text), profile)
    return list(steps.steps), [issue.reason for issue in steps.issues]


def test_every_firmware_has_its_own_dialect():
    assert set(DIALECTS) == {"grbl", "marlin"}
    assert dialect_for("grbl") is GRBL_DIALECT
    assert dialect_for("marlin") is MARLIN_DIALECT
    with pytest.raises(ValueError, match="unknown firmware 'toy'"):
        dialect_for("toy")


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_every_table_entry_names_an_interpreter_handler(dialect):
    bound = interpreter._Interpreter(PROFILES[dialect.firmware])
    for table_name, table in dialect.tables().items():
        for code, method_name in table.items():
            assert callable(getattr(bound, method_name, None)), f"{table_name}[{code}] -> {method_name}"


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_the_tables_cover_each_command_the_firmware_allows(dialect):
    handled, untraced = dialect.handled_commands(), dialect.untraced_commands

    assert not handled & untraced, "a command is either handled or deliberately untraced"
    assert dialect.allowed_commands - handled - untraced == set()
    assert untraced <= dialect.allowed_commands, "untraced commands are allowed ones, not stale names"


def test_both_firmwares_give_the_same_commands_the_axis_words():
    # Which codes claim the axis words decides the "more than one command" issue for both firmwares.
    assert set(GRBL_DIALECT.axis_gcodes) == set(MARLIN_DIALECT.axis_gcodes) == {10.0, 28.0, 30.0, 43.1, 92.0}


def test_changing_a_table_changes_what_a_code_does():
    text = "G21\nM3 S1000\n"
    before, _ = trace(PROFILES["grbl"], text)
    rewired = dataclasses.replace(
        GRBL_DIALECT, late_mcodes={**GRBL_DIALECT.late_mcodes, 3.0: "_wait_for_hotend"}
    )
    after, _ = trace(default_profile(rewired, MILL_ENVELOPE), text)  # a new profile: no cached trace

    assert before == []
    assert after == [Pause(2, interpreter.HOTEND_HEAT_WAIT_SECONDS)]


def test_the_dialect_s_facts_are_what_the_interpreter_uses():
    rewired = dataclasses.replace(GRBL_DIALECT, dwell_seconds=lambda params: 42.0, power_on_feed_mm_min=600.0)
    steps, issues = trace(default_profile(rewired, MILL_ENVELOPE), "G4 P1\nG1 X290\n")

    assert issues == []
    assert steps[0] == Pause(1, 42.0)
    assert isinstance(steps[1], Motion) and steps[1].rate_mm_min == 600.0


# The same words, read by each firmware: (program, GRBL's reading, Marlin's reading).
def _pauses(steps):
    return [step.seconds for step in steps if isinstance(step, Pause)]


def _moves(steps):
    return [(step.end, step.rapid) for step in steps if isinstance(step, Motion)]


@pytest.mark.parametrize(
    ("text", "read", "grbl", "marlin"),
    [
        ("G4 P2", _pauses, [2.0], [0.002]),  # dwell units: GRBL seconds, Marlin milliseconds
        ("G4 S3", _pauses, [0.0], [3.0]),
        ("M109 S200\nM190 S60", _pauses, [], [60.0, 90.0]),  # heat waits exist only on the printer
        ("G29", _pauses, [], [60.0]),
        ("$H", _pauses, [20.0], [20.0]),
    ],
    ids=["dwell-P", "dwell-S", "heat-waits", "bed-probing", "system-homing"],
)
def test_codes_whose_reading_differs_by_firmware(text, read, grbl, marlin):
    assert read(trace(PROFILES["grbl"], text)[0]) == grbl
    assert read(trace(PROFILES["marlin"], text)[0]) == marlin


def test_g10_is_a_work_offset_on_grbl_and_a_retract_on_marlin():
    grbl_steps, grbl_issues = trace(PROFILES["grbl"], "G10 L2 P1 X-10 Y-20 Z-30\nG0 X0 Y0 Z0")
    marlin_steps, marlin_issues = trace(PROFILES["marlin"], "G10\nG0 X10 Y10 Z10")

    assert grbl_issues == marlin_issues == []
    assert _moves(grbl_steps) == [((-10.0, -20.0, -30.0), True)]
    assert _moves(marlin_steps) == [((10.0, 10.0, 10.0), True)]


def test_motion_mode_feed_and_extrusion_defaults_come_from_the_dialect():
    grbl_steps, grbl_issues = trace(PROFILES["grbl"], "X290 Y190\nG1 X280")
    marlin_steps, marlin_issues = trace(PROFILES["marlin"], "M205 X8\nG1 X10 E2")

    assert _moves(grbl_steps)[0] == ((290.0, 190.0, 0.0), True)  # power-on G0
    assert grbl_issues == ["feed move but no feed rate has been set (add an F word)"]
    assert _moves(marlin_steps) == [((10.0, 0.0, 0.0), False)]  # axis words without G0/G1 are not a move
    assert marlin_steps[0].rate_mm_min == MARLIN_DEFAULT_FEED_MM_MIN
    assert marlin_steps[0].extrusion_mm == 2.0
    assert marlin_issues == []


def test_homing_differs_by_firmware():
    grbl_steps, _ = trace(PROFILES["grbl"], "G0 X10 Y10 Z-10\nG28")
    marlin_steps, _ = trace(PROFILES["marlin"], "G0 X10 Y10 Z10\nG28 X0\nG0 Y20")

    assert _moves(grbl_steps)[-1] == ((300.0, 200.0, 0.0), True)  # a rapid back to the stored position
    assert _pauses(marlin_steps) == [15.0]  # homing in place, with a time allowance
    assert _moves(marlin_steps)[-1] == ((0.0, 20.0, 10.0), True)  # only X was homed
