"""Tests for machines.cam.printing and .slicing: drawings -> Marlin programs, checked by reading them back."""

from __future__ import annotations

import math

import pytest

from machines.cam import (
    print_plate_program,
)
from tests.geometry import rr_distance
from tests.machines.cam.reading import (
    BRK_080,
    FIL_AREA,
    H0,
    PRINT_G,
    PRINT_M,
    H,
    W,
    code_words,
    expected_filament,
    interpret_print,
    segment_distance,
)


@pytest.fixture(scope="module")
def printed(brk):
    return interpret_print(print_plate_program(brk))


def test_print_program_uses_only_marlin_words(brk):
    program = print_plate_program(brk)
    for line in program.splitlines():
        assert len(line) <= 90, line
        for letter, text in code_words(line):
            assert letter in "GMXYZEFS", line
            if letter == "G":
                assert text in PRINT_G, line
            if letter == "M":
                assert text in PRINT_M, line


def test_print_start_and_end_code(brk):
    lines = print_plate_program(brk).splitlines()
    codes = [ln for ln in lines if ln and not ln.startswith(";")]
    start = ["M140 S60", "M104 S210", "G28", "M190 S60", "M109 S210", "G21", "G90", "M82", "G92 E0"]
    assert codes[: len(start)] == start
    first_layer = lines.index(";LAYER:0")
    prime = [ln for ln in lines[:first_layer] if ln.startswith("G1 X")]
    assert len(prime) == 1  # the prime line
    assert lines.index("M106 S255") == lines.index(";LAYER:1") + 1
    tail = codes[-6:]
    assert tail[:3] == ["M104 S0", "M140 S0", "M107"]
    assert tail[3].startswith("G1 Z14")  # 10 mm above the 4 mm part
    assert tail[4:] == ["G28 X0", "M84"]


def test_print_layer_count_and_heights(brk, printed):
    expected = math.ceil((4.0 - H0) / H) + 1
    assert len(printed.layers) == expected
    assert printed.layer_z[0] == pytest.approx(H0)
    assert printed.layer_z[-1] == pytest.approx(4.0)  # part printed at drawn thickness
    steps = [b - a for a, b in zip(printed.layer_z, printed.layer_z[1:], strict=False)]
    assert all(0 < s <= H + 1e-9 for s in steps)


def test_print_extrusion_matches_the_volume_model(brk, printed):
    extruded = sum(de for layer in printed.layers for *_, de in layer)
    expected = expected_filament(BRK_080)
    assert extruded == pytest.approx(expected, rel=0.10)
    # Honest bounds: less than a solid plate, clearly more than its shell alone.
    solid = brk.area() * brk.thickness / FIL_AREA
    assert 0.3 * solid < extruded < solid
    # Solid layers put down h per mm²; a sparse layer well under half of that.
    per_layer = [sum(de for *_, de in layer) for layer in printed.layers]
    assert per_layer[5] < 0.6 * per_layer[2]
    assert per_layer[-1] > 0.9 * per_layer[-4] * (4.0 - 3.9) / H  # thin top layer still solid


def test_print_extrusion_per_mm_uses_the_bead_cross_section(printed):
    bead = (W - H) * H + math.pi * (H / 2) ** 2
    for a, b, de in printed.layers[4]:
        length = math.dist(a, b)
        if length > 1.0:
            assert de == pytest.approx(length * bead / FIL_AREA, rel=0.01, abs=2e-5)


def test_print_never_extrudes_over_a_hole_or_outside_the_part(printed):
    ox, oy = 110 - 40, 110 - 15
    for layer in printed.layers:
        for a, b, _ in layer:
            for hole in BRK_080["holes"]:
                centre = (hole["x"] + ox, hole["y"] + oy)
                # Bead centreline at least half a line width off the hole wall;
                # 0.05 mm is the allowed chord error of the flattened circle.
                limit = hole["diameter"] / 2 + W / 2 - 0.05 - 1e-3
                assert segment_distance(centre, a, b) >= limit, (hole["id"], a, b)
            for px, py in (a, b):
                assert rr_distance(px - ox, py - oy, 80, 30, 3) <= -W / 2 + 0.05 + 1e-3


def test_print_perimeters_trace_the_walls(printed):
    """The outermost loop and each hole's wall loop sit exactly half a line width in."""
    ox, oy = 70, 95
    points = [p for a, b, _ in printed.layers[7] for p in (a, b)]
    on_outer = [p for p in points if abs(rr_distance(p[0] - ox, p[1] - oy, 80, 30, 3) + W / 2) < 1e-3]
    assert len(on_outer) > 20
    for hole in BRK_080["holes"]:
        c = (hole["x"] + ox, hole["y"] + oy)
        wall = [p for p in points if abs(math.dist(p, c) - (hole["diameter"] / 2 + W / 2)) < 1e-3]
        assert len(wall) >= 16


def test_print_infill_alternates_plus_and_minus_45(printed):
    def angles(layer):
        return {
            round(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) % 180)
            for a, b, _ in layer
            if math.dist(a, b) > 10
        }

    # Perimeters contribute 0° and 90° lines; the infill is one diagonal per layer.
    assert angles(printed.layers[4]) - {0, 90} == {45}
    assert angles(printed.layers[5]) - {0, 90} == {135}


def test_print_retracts_on_long_travels_only(brk):
    program = print_plate_program(brk)
    lines = program.splitlines()
    x = y = None
    for n, line in enumerate(lines):
        words = dict(code_words(line))
        if words.get("G") not in ("0", "1"):
            continue
        if words["G"] == "0" and "X" in words:
            nx, ny = float(words["X"]), float(words["Y"])
            if x is not None:
                retracted = "E" in lines[n - 1] and "X" not in lines[n - 1]
                assert retracted == (math.hypot(nx - x, ny - y) > 2.0), line
            x, y = nx, ny
        elif "X" in words:
            x, y = float(words["X"]), float(words["Y"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"infill": "gyroid"}, r"infill 'gyroid' not supported"),
        ({"layer_height": 0.5}, r"layer_height 0.5 too thick"),
        ({"bed_center": (30.0, 110.0)}, r"does not fit the bed"),
        ({"perimeters": 0}, r"perimeters must be"),
        ({"perimeters": 20}, r"too thin for 20 perimeters|narrower than 20"),
    ],
)
def test_print_rejects_impossible_parameters(brk, kwargs, message):
    with pytest.raises(ValueError, match=message):
        print_plate_program(brk, **kwargs)
