"""Envelope checks through every modal rule that moves the program's origin.

The mill's envelope is X 0..300, Y 0..200, Z -80..0 and it starts at home,
X300 Y200 Z0 (machine coordinates).
"""

from __future__ import annotations

from machines.gcode import check_program
from machines.protocol.registry import profile_for
from tests.machines.gcode.conftest import MILL_ENVELOPE


def reasons(profile, program: str) -> list[str]:
    _, report = check_program(program, profile)
    return [str(issue) for issue in report.errors]


X_OUTSIDE = "is outside the work envelope (0 to 300 mm)"


class TestLinearMoves:
    def test_inside_is_ok_and_outside_names_axis_value_and_range(self, mill):
        assert reasons(mill, "G0 X300 Y0 Z-80\n") == []
        assert reasons(mill, "G0 X10\nG0 X312\n") == [f"line 2: X 312.000 {X_OUTSIDE}"]
        assert reasons(mill, "G0 Z-80.5\n") == [
            "line 1: Z -80.500 is outside the work envelope (-80 to 0 mm)"
        ]

    def test_relative_moves_accumulate(self, mill):
        program = "G90 G0 X250 Y100 Z-10\nG91\nG1 X30 F100\nG1 X30\n"
        assert reasons(mill, program) == [f"line 4: X 310.000 {X_OUTSIDE}"]

    def test_inch_units_are_converted(self, mill):
        assert reasons(mill, "G20\nG0 X11.8\n") == []  # 299.72 mm
        assert reasons(mill, "G20\nG0 X11.9\n") == [f"line 2: X 302.260 {X_OUTSIDE}"]

    def test_g92_shifts_the_origin_until_g92_1(self, mill):
        program = "G0 X100 Y100 Z-10\nG92 X0 Y0\nG0 X150\nG0 X250\nG92.1\nG0 X250\n"
        assert reasons(mill, program) == [f"line 4: X 350.000 {X_OUTSIDE}"]

    def test_work_offsets_come_from_the_profile(self):
        profile = profile_for(
            "grbl",
            MILL_ENVELOPE,
            work_offsets={"G54": (100.0, 50.0, -40.0), "G55": (200.0, 0.0, 0.0)},
        )
        program = "G54 G0 X150 Y100 Z-40\nG0 X210\nG55 G0 X90\nG0 X150\n"
        assert reasons(profile, program) == [
            f"line 2: X 310.000 {X_OUTSIDE}",
            f"line 4: X 350.000 {X_OUTSIDE}",
        ]

    def test_g54_is_active_by_default(self):
        profile = profile_for("grbl", MILL_ENVELOPE, work_offsets={"G54": (100.0, 0.0, 0.0)})
        assert reasons(profile, "G0 X210\n") == [f"line 1: X 310.000 {X_OUTSIDE}"]

    def test_g10_l20_sets_the_origin_at_the_current_position(self, mill):
        program = "G0 X100 Y100 Z-20\nG10 L20 P1 X0 Y0 Z0\nG0 X150\nG0 X250\n"
        assert reasons(mill, program) == [f"line 4: X 350.000 {X_OUTSIDE}"]

    def test_g10_l2_sets_an_offset_directly(self, mill):
        program = "G10 L2 P2 X250\nG0 X40\nG55\nG0 X40\nG0 X60\n"
        assert reasons(mill, program) == [f"line 5: X 310.000 {X_OUTSIDE}"]

    def test_g53_uses_machine_coordinates_for_its_own_line_only(self):
        profile = profile_for("grbl", MILL_ENVELOPE, work_offsets={"G54": (100.0, 0.0, 0.0)})
        assert reasons(profile, "G53 G0 X290\n") == []
        assert reasons(profile, "G53 G0 X10\nG0 X250\n") == [f"line 2: X 350.000 {X_OUTSIDE}"]

    def test_g28_intermediate_point_is_checked_and_home_is_inside(self, mill):
        assert reasons(mill, "G0 X10 Y10 Z-50\nG28\n") == []
        assert reasons(mill, "G28 X400\n") == [f"line 1: X 400.000 {X_OUTSIDE}"]

    def test_home_outside_the_envelope_is_caught(self):
        profile = profile_for("grbl", MILL_ENVELOPE, home_position=(310.0, 200.0, 0.0))
        assert reasons(profile, "G0 X10\nG28\n") == [f"line 2: X 310.000 {X_OUTSIDE}"]

    def test_tool_length_offset_shifts_z(self, mill):
        assert reasons(mill, "G43.1 Z-5\nG0 Z-76\n") == [
            "line 2: Z -81.000 is outside the work envelope (-80 to 0 mm)"
        ]
        assert reasons(mill, "G43.1 Z-5\nG49\nG0 Z-76\n") == []

    def test_jog_is_checked_and_does_not_change_modal_state(self, mill):
        assert reasons(mill, "$J=G91 X400 F500\n") == [f"line 1: X 700.000 {X_OUTSIDE}"]
        # If the jog's G91 leaked, X250 would be 40 mm past the 300 mm limit.
        assert reasons(mill, "$J=G91 X-10 F500\nG0 X250\n") == []


class TestArcs:
    """Arcs from (20, 100) to (20, 150) about (20, 125): endpoints well inside."""

    def test_clockwise_arc_bulging_past_x_min_is_an_error(self, mill):
        program = "G0 X20 Y100 Z-5\nG2 X20 Y150 I0 J25 F300\n"
        assert reasons(mill, program) == [
            "line 2: arc reaches X -5.000, outside the work envelope (0 to 300 mm)"
        ]

    def test_counter_clockwise_arc_the_other_way_is_fine(self, mill):
        assert reasons(mill, "G0 X20 Y100 Z-5\nG3 X20 Y150 I0 J25 F300\n") == []

    def test_radius_form_arcs(self, mill):
        assert reasons(mill, "G0 X20 Y100 Z-5\nG3 X20 Y150 R25 F300\n") == []
        assert reasons(mill, "G0 X20 Y100 Z-5\nG2 X20 Y150 R25 F300\n") == [
            "line 2: arc reaches X -5.000, outside the work envelope (0 to 300 mm)"
        ]

    def test_negative_radius_takes_the_long_way_round(self, mill):
        # Quarter-circle ends; R20 takes the short way, R-20 swings out to X -5.
        start = "G0 X15 Y100 Z-5\n"
        assert reasons(mill, start + "G2 X35 Y120 R20 F300\n") == []
        assert reasons(mill, start + "G2 X35 Y120 R-20 F300\n") == [
            "line 2: arc reaches X -5.000, outside the work envelope (0 to 300 mm)"
        ]

    def test_full_circle_extent(self, mill):
        assert reasons(mill, "G0 X290 Y100 Z-5\nG2 X290 Y100 I-5 J0 F300\n") == []
        assert reasons(mill, "G0 X290 Y100 Z-5\nG2 X290 Y100 I6 J0 F300\n") == [
            "line 2: arc reaches X 302.000, outside the work envelope (0 to 300 mm)"
        ]

    def test_radius_too_small(self, mill):
        assert reasons(mill, "G0 X20 Y100 Z-5\nG2 X20 Y150 R20 F300\n") == [
            "line 2: R 20.000 is too small for an arc whose ends are 50.000 mm apart (needs at least 25.000)"
        ]

    def test_radius_mismatch(self, mill):
        assert reasons(mill, "G0 X20 Y100 Z-5\nG2 X20 Y160 I0 J25 F300\n") == [
            "line 2: arc end is 35.000 mm from the centre but the start is 25.000 mm "
            "(radius mismatch 10.000 mm)"
        ]

    def test_arc_needs_centre_or_radius(self, mill):
        assert reasons(mill, "G0 X20 Y100 Z-5\nG2 X20 Y150 F300\n") == [
            "line 2: arc needs an R word or centre offsets I/J"
        ]

    def test_arc_in_the_xz_plane_is_checked_in_z(self, mill):
        # G18: centre 10 mm along X; G3 swings up through Z = -5 + 10 = +5.
        start = "G0 X100 Y100 Z-5\nG18\n"
        assert reasons(mill, start + "G2 X120 Z-5 I10 K0 F300\n") == []
        assert reasons(mill, start + "G3 X120 Z-5 I10 K0 F300\n") == [
            "line 3: arc reaches Z 5.000, outside the work envelope (-80 to 0 mm)"
        ]

    def test_arcs_follow_offsets_and_inches(self):
        # Work origin at 1 in, 4 in; a 1.5 in radius circle about work X -1.5 in.
        profile = profile_for("grbl", MILL_ENVELOPE, work_offsets={"G54": (25.4, 101.6, 0.0)})
        program = "G20\nG0 X0 Y0 Z-0.2\nG2 X0 Y0 I-1.5 J0 F10\n"
        assert reasons(profile, program) == [
            "line 3: arc reaches X -50.800, outside the work envelope (0 to 300 mm)"
        ]


class TestModalErrors:
    def test_axis_words_after_g80(self, mill):
        assert reasons(mill, "G80\nX10\n") == [
            "line 2: axis words but no motion mode is active (G80 or none)"
        ]

    def test_modal_motion_continues_on_grbl(self, mill):
        assert reasons(mill, "G1 X10 F100\nX400\n") == [f"line 2: X 400.000 {X_OUTSIDE}"]

    def test_g53_only_with_straight_moves(self, mill):
        assert reasons(mill, "G53 G2 X10 Y10 I5 F100\n") == [
            "line 1: G53 (machine coordinates) works only with G0 or G1"
        ]

    def test_grbl_arc_needs_an_axis_word_in_its_plane(self, mill):
        assert reasons(mill, "G2 Z-5 I-5 F100\n") == [
            "line 1: arc needs an X or Y word in the selected plane"
        ]

    def test_marlin_full_circle_without_axis_words(self, printer):
        program = "G1 X20 Y30 F600\nG2 I-25 J0\n"
        assert reasons(printer, program) == [
            "line 2: arc reaches X -30.000, outside the work envelope (0 to 250 mm)"
        ]

    def test_two_commands_claiming_the_axis_words(self, mill):
        assert reasons(mill, "G92 G1 X10 F100\n") == ["line 1: G92 and G1 both claim the axis words"]
        assert reasons(mill, "G0 G1 X10 F100\n") == [
            "line 1: more than one command on this line wants the axis words"
        ]

    def test_grbl_g92_needs_an_axis(self, mill):
        assert reasons(mill, "G92\n") == ["line 1: G92 needs at least one axis word"]


def test_helix_entirely_below_the_envelope_is_reported_once(mill):
    # Z -85 to -86 while circling: one issue naming the deepest point.
    program = "G0 X100 Y100 Z-80\nG3 X100 Y100 Z-86 I5 J0 F300\n"
    assert reasons(mill, program) == [
        "line 2: arc reaches Z -86.000, outside the work envelope (-80 to 0 mm)"
    ]
