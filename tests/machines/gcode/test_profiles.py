"""Machine profiles: defaults per firmware and rejection of impossible settings."""

from __future__ import annotations

import pytest

from machines.gcode import (
    GRBL_ALLOWED_COMMANDS,
    MARLIN_ALLOWED_COMMANDS,
    Envelope,
    MachineProfile,
    grbl_profile,
    marlin_profile,
)
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE


def test_grbl_defaults():
    profile = grbl_profile(MILL_ENVELOPE)
    assert profile.firmware == "grbl"
    assert profile.max_line_length == 80
    assert profile.allowed_commands == GRBL_ALLOWED_COMMANDS
    assert profile.home_position == (300, 200, 0)
    assert profile.work_offsets["G59"] == (0.0, 0.0, 0.0)
    assert "E" not in profile.accepted_letters


def test_marlin_defaults():
    profile = marlin_profile(PRINTER_ENVELOPE)
    assert profile.firmware == "marlin"
    assert profile.max_line_length == 96
    assert profile.allowed_commands == MARLIN_ALLOWED_COMMANDS
    assert profile.home_position == (0, 0, 0)
    assert "E" in profile.accepted_letters


def test_overrides_replace_defaults():
    profile = grbl_profile(MILL_ENVELOPE, max_line_length=70, rapid_mm_min=5000.0)
    assert (profile.max_line_length, profile.rapid_mm_min) == (70, 5000.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"firmware": "smoothie"}, "firmware"),
        ({"work_offsets": {"G60": (0.0, 0.0, 0.0)}}, "G60"),
        ({"acceleration_mm_s2": 0.0}, "acceleration_mm_s2"),
    ],
)
def test_impossible_profiles_are_rejected(overrides, message):
    settings = {
        "firmware": "grbl",
        "envelope": MILL_ENVELOPE,
        "max_line_length": 80,
        "allowed_commands": GRBL_ALLOWED_COMMANDS,
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        MachineProfile(**settings)


def test_inverted_envelope_is_rejected():
    with pytest.raises(ValueError, match="x_min"):
        Envelope(10, 0, 0, 10, 0, 10)
