"""Machine profiles: defaults per firmware and rejection of impossible settings."""

from __future__ import annotations

import pytest

from machines.gcode import Envelope, MachineProfile
from machines.protocol.grbl.gcode import ALLOWED_COMMANDS as GRBL_ALLOWED_COMMANDS
from machines.protocol.grbl.gcode import DIALECT as GRBL_DIALECT
from machines.protocol.marlin.gcode import ALLOWED_COMMANDS as MARLIN_ALLOWED_COMMANDS
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE


def test_grbl_defaults():
    profile = profile_for("grbl", MILL_ENVELOPE)
    assert profile.firmware == "grbl"
    assert profile.max_line_length == 80
    assert profile.allowed_commands == GRBL_ALLOWED_COMMANDS
    assert profile.home_position == (300, 200, 0)
    assert profile.work_offsets["G59"] == (0.0, 0.0, 0.0)
    assert "E" not in profile.accepted_letters


def test_marlin_defaults():
    profile = profile_for("marlin", PRINTER_ENVELOPE)
    assert profile.firmware == "marlin"
    assert profile.max_line_length == 96
    assert profile.allowed_commands == MARLIN_ALLOWED_COMMANDS
    assert profile.home_position == (0, 0, 0)
    assert "E" in profile.accepted_letters


def test_overrides_replace_defaults():
    profile = profile_for("grbl", MILL_ENVELOPE, max_line_length=70, rapid_mm_min=5000.0)
    assert (profile.max_line_length, profile.rapid_mm_min) == (70, 5000.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"work_offsets": {"G60": (0.0, 0.0, 0.0)}}, "G60"),
        ({"acceleration_mm_s2": 0.0}, "acceleration_mm_s2"),
    ],
)
def test_impossible_profiles_are_rejected(overrides, message):
    settings = {
        "dialect": GRBL_DIALECT,
        "envelope": MILL_ENVELOPE,
        "max_line_length": 80,
        "allowed_commands": GRBL_ALLOWED_COMMANDS,
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        MachineProfile(**settings)


def test_a_profile_needs_a_dialect_not_a_firmware_name():
    with pytest.raises(TypeError, match="dialect must be a Dialect, not str"):
        MachineProfile(
            dialect="smoothie", envelope=MILL_ENVELOPE, max_line_length=80, allowed_commands=frozenset()
        )


def test_unknown_firmwares_have_no_profile():
    with pytest.raises(ValueError, match="unknown firmware 'smoothie'"):
        profile_for("smoothie", MILL_ENVELOPE)


def test_inverted_envelope_is_rejected():
    with pytest.raises(ValueError, match="x_min"):
        Envelope(10, 0, 0, 10, 0, 10)
