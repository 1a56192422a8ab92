"""The real PrusaSlicer 2.5 (Marlin flavour) files from the shop's printer."""

from __future__ import annotations

import re

import pytest

from machines.gcode import Envelope, check_program, estimate_program, filament_grams
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import PRINTER_ENVELOPE, sample_text

# What PrusaSlicer wrote near the end of each file. Its estimate uses the printer's
# "normal mode" limits (1500 mm/s² extruding, 10 mm/s jerk) and ignores heat-up.
PRUSASLICER = {
    "bracket-80x30x4-pla.gcode": {
        "time_comment": "31m 48s",
        "seconds": 31 * 60 + 48,
        "filament_mm": 2452.87,
        "filament_cm3": 5.90,
        "x_max": 146.625,
    },
    "strip-200x20x3-petg.gcode": {
        "time_comment": "49m 25s",
        "seconds": 49 * 60 + 25,
        "filament_mm": 3689.79,
        "filament_cm3": 8.87,
        "x_max": 216.625,
    },
}
SAMPLE_NAMES = sorted(PRUSASLICER)


@pytest.fixture
def printer():
    return profile_for("marlin", PRINTER_ENVELOPE, acceleration_mm_s2=1500)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_parses_and_validates(name, printer):
    program, report = check_program(sample_text(name), printer)
    assert program.errors == ()
    assert report.ok, [str(issue) for issue in report.errors[:5]]
    assert report.warnings == ()


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_fails_on_a_tiny_envelope(name):
    tiny = profile_for("marlin", Envelope(0, 100, 0, 50, 0, 2))
    _, report = check_program(sample_text(name), tiny)
    assert not report.ok
    assert all("outside the work envelope" in issue.reason for issue in report.errors)
    assert any(issue.reason.startswith("Y ") for issue in report.errors)
    assert any(issue.reason.startswith("Z ") for issue in report.errors)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_estimate_is_close_to_prusaslicer(name, printer):
    text = sample_text(name)
    expected = PRUSASLICER[name]
    stated = re.search(r"; estimated printing time \(normal mode\) = (.+)", text)
    assert stated is not None and stated.group(1).strip() == expected["time_comment"]

    program, _ = check_program(text, printer)
    result = estimate_program(program, printer)

    assert result.seconds == pytest.approx(expected["seconds"], rel=0.35)
    # Extrusion is bookkeeping, not physics: it must match the slicer closely.
    assert result.extrusion_mm == pytest.approx(expected["filament_mm"], rel=0.002)
    assert filament_grams(result.extrusion_mm, 1.75, 1.0) == pytest.approx(expected["filament_cm3"], abs=0.01)
    assert result.bounds.x_max == pytest.approx(expected["x_max"])
    sent_lines = [line for line in text.splitlines() if line.split(";")[0].strip()]
    assert result.line_count == len(sent_lines)
