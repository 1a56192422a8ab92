"""Run-time, distance, extrusion and bounds estimates on hand-computed programs."""

from __future__ import annotations

import math

import pytest

from machines.gcode import Envelope, estimate_program, filament_grams, parse_program
from machines.gcode.interpreter import AXES_HOMING_SECONDS, BED_HEAT_WAIT_SECONDS, HOTEND_HEAT_WAIT_SECONDS
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE, PRINTER_ENVELOPE

# With this acceleration every move runs at its programmed speed from end to end.
INSTANT = 1e12


def estimate(profile, text):
    return estimate_program(parse_program(text), profile)


@pytest.fixture
def instant_mill():
    # Homes to X300 Y200 Z0; rapids at 3000 mm/min, feeds capped at 2000 mm/min.
    return profile_for("grbl", MILL_ENVELOPE, acceleration_mm_s2=INSTANT)


@pytest.fixture
def instant_printer():
    return profile_for("marlin", PRINTER_ENVELOPE, acceleration_mm_s2=INSTANT)


class TestTimesAtConstantSpeed:
    def test_rapid_feed_and_dwell(self, instant_mill):
        # 100 mm rapid at 50 mm/s = 2 s; 100 mm at 10 mm/s = 10 s; GRBL P is seconds.
        result = estimate(instant_mill, "G0 X200\nG1 Y100 F600\nG4 P1.5\n")
        assert result.seconds == pytest.approx(13.5)
        assert result.rapid_distance_mm == pytest.approx(100.0)
        assert result.cutting_distance_mm == pytest.approx(100.0)
        assert result.line_count == 3

    def test_feed_in_inches_per_minute(self, instant_mill):
        # 1 in = 25.4 mm at 10 in/min = 254 mm/min -> 6 s.
        result = estimate(instant_mill, "G20 G91\nG1 X-1 F10\n")
        assert result.seconds == pytest.approx(6.0)
        assert result.cutting_distance_mm == pytest.approx(25.4)

    def test_feed_is_capped_at_the_machine_maximum(self, instant_mill):
        # F10000 is capped to 2000 mm/min: 100 mm takes 3 s.
        assert estimate(instant_mill, "G1 X200 F10000\n").seconds == pytest.approx(3.0)

    def test_inverse_time_feed(self, instant_mill):
        # G93 F2: each move takes half a minute.
        assert estimate(instant_mill, "G93\nG1 X250 F2\n").seconds == pytest.approx(30.0)

    def test_full_circle_arc_length(self, instant_mill):
        # Radius 10 mm at 10 mm/s: 2 * pi * 10 / 10 s.
        result = estimate(instant_mill, "G2 X300 Y200 I-10 J0 F600\n")
        assert result.cutting_distance_mm == pytest.approx(20 * math.pi)
        assert result.seconds == pytest.approx(2 * math.pi)

    def test_marlin_dwell_units_and_fixed_allowances(self, instant_printer):
        program = "G4 P500\nG4 S2\nM190 S60\nM109 S200\nG28\n"
        expected = 0.5 + 2 + BED_HEAT_WAIT_SECONDS + HOTEND_HEAT_WAIT_SECONDS
        assert estimate(instant_printer, program).seconds == pytest.approx(expected + AXES_HOMING_SECONDS)

    def test_extruder_only_moves_take_time_but_cover_no_distance(self, instant_printer):
        # Retract 2 mm at 40 mm/s.
        result = estimate(instant_printer, "G1 E-2 F2400\n")
        assert result.seconds == pytest.approx(0.05)
        assert result.cutting_distance_mm == 0
        assert result.bounds is None


class TestAcceleration:
    @pytest.fixture
    def printer(self):
        return profile_for("marlin", PRINTER_ENVELOPE, acceleration_mm_s2=1000)

    def test_single_move_trapezoid(self, printer):
        # 100 mm/s reached after 0.1 s and 5 mm; same to stop; 90 mm cruise = 0.9 s.
        assert estimate(printer, "G1 X100 F6000\n").seconds == pytest.approx(1.1)

    def test_short_move_never_reaches_cruise(self, printer):
        # 10 mm: peak sqrt(1000 * 10) = 100 mm/s exactly at the midpoint.
        assert estimate(printer, "G1 X10 F12000\n").seconds == pytest.approx(0.2)

    def test_straight_junction_keeps_speed(self, printer):
        assert estimate(printer, "G1 X50 F6000\nG1 X100\n").seconds == pytest.approx(1.1)

    def test_reversal_stops_at_the_junction(self, printer):
        # Each 50 mm leg: 0.1 s up, 0.1 s down, 40 mm cruise at 100 mm/s.
        assert estimate(printer, "G1 X50 F6000\nG1 X0\n").seconds == pytest.approx(1.2)

    def test_corner_is_slower_than_straight_but_faster_than_stopping(self, printer):
        corner = estimate(printer, "G1 X50 F6000\nG1 X50 Y50\n").seconds
        assert 1.1 < corner < 1.2


class TestExtrusion:
    def test_absolute_extrusion_with_retraction_and_reset(self, instant_printer):
        program = "M82\nG1 X10 E5 F600\nG1 X20 E8\nG1 E6\nG92 E0\nG1 X30 E4\n"
        assert estimate(instant_printer, program).extrusion_mm == pytest.approx(10.0)

    def test_relative_extrusion(self, instant_printer):
        program = "M83\nG1 X10 E5 F600\nG1 E-2\nG1 E2\nG1 X20 E3\n"
        assert estimate(instant_printer, program).extrusion_mm == pytest.approx(8.0)

    def test_g91_makes_e_relative_until_m82(self, instant_printer):
        program = "G91\nG1 X10 E5 F600\nG1 X10 E5\nM82\nG1 X10 E12\n"
        # 5 + 5 relative (E at 10), then absolute E12 adds 2.
        assert estimate(instant_printer, program).extrusion_mm == pytest.approx(12.0)

    def test_mills_never_extrude(self, instant_mill):
        assert estimate(instant_mill, "G1 X200 F600\n").extrusion_mm == 0

    def test_filament_grams(self):
        # 1 m of 1.75 mm filament: pi * 0.875^2 * 1000 mm^3 = 2.40528 cm^3 of PLA.
        assert filament_grams(1000.0) == pytest.approx(2.40528 * 1.24, rel=1e-5)
        assert filament_grams(1000.0, diameter_mm=2.85, density_g_cm3=1.27) == pytest.approx(
            math.pi * 1.425**2 * 1.27
        )
        with pytest.raises(ValueError):
            filament_grams(10.0, diameter_mm=0)


class TestBounds:
    def test_bounds_cover_every_move_from_the_start_position(self, instant_printer):
        result = estimate(instant_printer, "G1 X10 Y20 Z5 F600\nG1 X50\n")
        assert result.bounds == Envelope(0, 50, 0, 20, 0, 5)

    def test_bounds_include_the_arc_bulge(self):
        profile = profile_for("grbl", Envelope(0, 300, 0, 200, -80, 0), acceleration_mm_s2=INSTANT)
        result = estimate(profile, "G1 X20 Y200 F600\nG3 X20 Y150 I0 J-25\n")
        assert result.bounds.x_min == pytest.approx(-5.0)
        assert result.bounds.y_min == pytest.approx(150.0)
