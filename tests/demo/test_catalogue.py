"""The demo catalogue: every design is valid, makeable by the machines it names, and programs cleanly."""

from __future__ import annotations

import math

import pytest

from demo.catalogue import DEMO_DESIGNS
from drawing import Drawing
from machines.cam import (
    BREAKTHROUGH,
    MILL_ENVELOPE,
    PRINTER_BED,
    machine_types_for,
    mill_plate_program,
    print_plate_program,
)
from tests.geometry import rr_distance
from tests.machines.cam.reading import (
    H0,
    RT,
    TOOL,
    H,
    assert_hole_cut,
    code_words,
    cutting,
    expected_filament,
    interpret_print,
    mill_moves,
    sample,
)


def test_demo_designs_catalogue():
    assert [d.part_number for d in DEMO_DESIGNS] == ["BRK-080", "BRK-120", "BRK-050", "STR-200", "STR-300"]
    for design in DEMO_DESIGNS:
        assert design.kind in ("bracket", "strip")
        assert design.revision == "A"
        assert design.material_hint
        assert Drawing.from_dict(design.spec) == design.plate
        assert design.machine_types == machine_types_for(design.plate)
        assert "cnc_mill" in design.machine_types
        o = design.plate.outline
        assert o.length + TOOL <= MILL_ENVELOPE[0] and o.width + TOOL <= MILL_ENVELOPE[1]
    brk080 = DEMO_DESIGNS[0].spec
    assert [(h["x"], h["y"], h["diameter"]) for h in brk080["holes"]] == [
        (10.0, 15.0, 6.5),
        (40.0, 15.0, 6.5),
        (70.0, 15.0, 6.5),
    ]
    counts = {d.part_number: len(d.plate.holes) for d in DEMO_DESIGNS}
    assert counts == {"BRK-080": 3, "BRK-120": 4, "BRK-050": 4, "STR-200": 6, "STR-300": 8}
    strip = DEMO_DESIGNS[3].plate
    pitches = {round(b.x - a.x, 6) for a, b in zip(strip.holes, strip.holes[1:], strict=False)}
    assert len(pitches) == 1  # evenly pitched
    assert DEMO_DESIGNS[4].machine_types == ("cnc_mill",)
    with pytest.raises(ValueError, match="does not fit the bed"):
        print_plate_program(DEMO_DESIGNS[4].plate)


def test_demo_spec_dict_is_a_copy():
    design = DEMO_DESIGNS[0]
    design.spec["holes"].clear()
    assert len(design.spec["holes"]) == 3


@pytest.mark.parametrize("design", DEMO_DESIGNS, ids=lambda d: d.part_number)
def test_mill_demo_designs(design):
    spec = design.plate
    moves = mill_moves(mill_plate_program(spec))
    depth = spec.thickness + BREAKTHROUGH
    o = spec.outline
    for hole in design.spec["holes"]:
        assert_hole_cut(cutting(moves, f"HOLE {hole['id']}"), hole, depth)
    for m in cutting(moves, "PROFILE"):
        for x, y, _ in sample(m, 0.5):
            assert abs(rr_distance(x, y, o.length, o.width, o.corner_radius) - RT) <= 0.01


@pytest.mark.parametrize(
    "design", [d for d in DEMO_DESIGNS if "fdm_printer" in d.machine_types], ids=lambda d: d.part_number
)
def test_print_demo_designs_on_the_bed(design):
    program = print_plate_program(design.plate)
    printed = interpret_print(program)
    spec_d = design.spec
    t = spec_d["thickness"]
    assert len(printed.layers) == math.ceil((t - H0) / H) + 1
    extruded = sum(de for layer in printed.layers for *_, de in layer)
    assert extruded == pytest.approx(expected_filament(spec_d), rel=0.10)
    for line in program.splitlines():
        words = dict(code_words(line))
        if words.get("G") not in ("0", "1"):
            continue
        if "X" in words:
            assert 0 <= float(words["X"]) <= PRINTER_BED[0]
        if "Y" in words:
            assert 0 <= float(words["Y"]) <= PRINTER_BED[1]
        if "Z" in words:
            assert 0 < float(words["Z"]) <= PRINTER_BED[2]
