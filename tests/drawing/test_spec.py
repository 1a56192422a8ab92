"""The drawing format's rules, tested once: parsing, validation, error messages and the JSON round trip."""

from __future__ import annotations

import math

import pytest

from drawing import (
    DEFAULT_TOLERANCES,
    EDGE_MARGIN,
    HOLE_WEB,
    Drawing,
    DrawingError,
    Hole,
    Outline,
    Tolerances,
)
from tests.factories import BRACKET_SPEC
from tests.geometry import rr_distance

BRK_080 = BRACKET_SPEC  # the shop's BRK-080-A bracket


def spec_dict(**changes):
    """BRK_080 with top-level keys replaced; outline/hole tweaks via helpers below."""
    d = {
        "outline": dict(BRK_080["outline"]),
        "thickness": BRK_080["thickness"],
        "holes": [dict(h) for h in BRK_080["holes"]],
        "tolerances": dict(BRK_080["tolerances"]),
    }
    d.update(changes)
    return d


def _outline(**kw):
    return spec_dict(outline={**BRK_080["outline"], **kw})


def _holes(*holes):
    return spec_dict(holes=list(holes))


# --- round trip and defaults ----------------------------------------------------------------------


def test_spec_round_trips_through_dict():
    spec = Drawing.from_dict(BRK_080)
    assert spec.to_dict() == BRK_080
    assert Drawing.from_dict(spec.to_dict()) == spec
    assert spec.holes[1].id == "H2" and spec.holes[1].radius == 3.25


def test_to_dict_is_a_fresh_copy():
    spec = Drawing.from_dict(BRK_080)
    spec.to_dict()["holes"].clear()
    assert len(spec.to_dict()["holes"]) == 3


def test_numbers_become_floats():
    d = spec_dict(outline={"length": 80, "width": 30, "corner_radius": 3}, thickness=4)
    spec = Drawing.from_dict(d)
    assert isinstance(spec.length, float) and isinstance(spec.thickness, float)
    assert spec.to_dict() == BRK_080


def test_tolerances_default_when_absent():
    d = spec_dict()
    del d["tolerances"]
    assert Drawing.from_dict(d).tolerances.hole_position == 0.15
    assert Drawing.from_dict(d).tolerances == Tolerances(**DEFAULT_TOLERANCES)


def test_partly_stated_tolerances_keep_the_defaults_for_the_rest():
    tolerances = Drawing.from_dict(spec_dict(tolerances={"outline": 0.5})).tolerances
    assert tolerances == Tolerances(outline=0.5)


def test_required_tolerances_name_what_is_missing():
    d = spec_dict(tolerances={"outline": 0.2, "corner_radius": 0.5})
    with pytest.raises(DrawingError, match="tolerances for: hole_diameter, hole_position") as raised:
        Drawing.from_dict(d, require_tolerances=True)
    assert raised.value.field == "tolerances"
    assert Drawing.from_dict(BRK_080, require_tolerances=True).to_dict() == BRK_080


def test_unknown_keys_are_ignored():
    d = spec_dict(material="Al 6061", notes={"any": "thing"})
    d["outline"]["chamfer"] = 1.0
    d["holes"][0]["thread"] = "M6"
    assert Drawing.from_dict(d) == Drawing.from_dict(BRK_080)


def test_a_plate_without_holes_and_with_sharp_corners():
    spec = Drawing.from_dict(spec_dict(holes=[], outline={"length": 20.0, "width": 20.0, "corner_radius": 0}))
    assert spec.holes == () and spec.corner_radius == 0.0 and spec.area() == 400.0


def test_properties_and_area():
    spec = Drawing.from_dict(BRK_080)
    assert (spec.length, spec.width, spec.corner_radius, spec.thickness) == (80.0, 30.0, 3.0, 4.0)
    expected = 80 * 30 - (4 - math.pi) * 9 - 3 * math.pi * 3.25**2
    assert spec.area() == pytest.approx(expected)


# --- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (_outline(length=0.0), r"outline\.length must be > 0"),
        (_outline(width=-30.0), r"outline\.width must be > 0"),
        (spec_dict(thickness=0), r"thickness must be > 0"),
        (_outline(corner_radius=-1.0), r"corner_radius must be >= 0"),
        (_outline(corner_radius=15.5), r"corner_radius 15.5 exceeds half the width \(15.0\)"),
        (_holes({"id": "H1", "x": 90.0, "y": 15.0, "diameter": 6.5}), r"hole H1 .* not inside"),
        # Centre inside, but the hole edge only 0.5 mm from the outline edge.
        (_holes({"id": "H1", "x": 3.75, "y": 15.0, "diameter": 6.5}), r"1.0 mm margin"),
        # Inside the bounding box but cut by the rounded corner (r = 3).
        (
            spec_dict(
                outline={"length": 80.0, "width": 30.0, "corner_radius": 12.0},
                holes=[{"id": "C", "x": 3.2, "y": 3.2, "diameter": 2.0}],
            ),
            r"hole C .* not inside",
        ),
        (
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "B", "x": 25.0, "y": 15.0, "diameter": 6.5},
            ),
            r"holes A and B overlap",
        ),
        (
            # 0.5 mm web: not overlapping, but too thin to make.
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "B", "x": 27.0, "y": 15.0, "diameter": 6.5},
            ),
            r"holes A and B .* web",
        ),
        (
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "A", "x": 50.0, "y": 15.0, "diameter": 6.5},
            ),
            r"duplicate hole id 'A'",
        ),
        (_holes({"id": "H1", "x": 20.0, "y": 15.0, "diameter": 0}), r"hole H1: diameter must be > 0"),
        (_holes({"id": "", "x": 20.0, "y": 15.0, "diameter": 5}), r"holes\[0\]\.id"),
        (_holes({"id": "H1", "x": "20", "y": 15.0, "diameter": 5}), r"hole H1\.x must be a number"),
        (_holes({"id": "H1", "y": 15.0, "diameter": 5}), r"hole H1\.x is required"),
        (spec_dict(thickness=True), r"thickness must be a number"),
        (spec_dict(thickness=float("nan")), r"must be finite"),
        (spec_dict(outline=None), r"spec\.outline is required"),
        (spec_dict(holes=None), r"spec\.holes is required"),
        (spec_dict(tolerances={"outline": 0.0}), r"tolerances\.outline must be > 0"),
        # Rules the camera pipeline's parser had on its own, now everybody's:
        (
            _outline(length=20.0, width=30.0, corner_radius=3.0),
            r"outline\.width 30.0 exceeds outline\.length",
        ),
        (_holes({"x": 20.0, "y": 15.0, "diameter": 5}), r"holes\[0\]\.id must be a non-empty string"),
        (
            _holes({"id": 7, "x": 20.0, "y": 15.0, "diameter": 5}),
            r"holes\[0\]\.id must be a non-empty string",
        ),
        (spec_dict(outline={"length": 80.0, "width": 30.0}), r"outline\.corner_radius is required"),
        (spec_dict(thickness="4"), r"thickness must be a number, got '4'"),
        (spec_dict(thickness=float("inf")), r"thickness must be finite"),
        (spec_dict(tolerances={"hole_position": -0.1}), r"tolerances\.hole_position must be > 0"),
        (spec_dict(tolerances={"outline": "0.2"}), r"tolerances\.outline must be a number"),
        (spec_dict(tolerances=None), r"spec\.tolerances must be an object"),
        (spec_dict(tolerances=[0.2]), r"spec\.tolerances must be an object"),
        (spec_dict(holes={"H1": {}}), r"spec\.holes must be a list"),
        (spec_dict(holes=["H1"]), r"spec\.holes\[0\] must be an object"),
        (spec_dict(outline=[80, 30, 3]), r"spec\.outline is required and must be an object"),
        (_holes({"id": "H1", "x": 20.0, "y": 15.0, "diameter": -2}), r"hole H1: diameter must be > 0"),
        (_holes({"id": "H1", "x": 20.0, "y": -15.0, "diameter": 2}), r"hole H1 .* not inside"),
    ],
)
def test_spec_validation_rejects(d, message):
    with pytest.raises(DrawingError, match=message):
        Drawing.from_dict(d)


@pytest.mark.parametrize("not_an_object", ["not a dict", [1, 2], None, 3.0])
def test_the_document_must_be_an_object(not_an_object):
    with pytest.raises(DrawingError, match="spec must be a JSON object") as raised:
        Drawing.from_dict(not_an_object)
    assert raised.value.field == ""


def test_errors_are_value_errors_naming_the_field():
    cases = {
        "outline.length": _outline(length=-1.0),
        "outline.width": _outline(width=90.0),
        "outline.corner_radius": _outline(corner_radius=20.0),
        "thickness": spec_dict(thickness=0.0),
        "holes[1].id": _holes(
            {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
            {"id": "A", "x": 50.0, "y": 15.0, "diameter": 6.5},
        ),
        "holes[0].x": _holes({"id": "H1", "x": None, "y": 15.0, "diameter": 5}),
        "holes[0]": _holes({"id": "H1", "x": 79.0, "y": 15.0, "diameter": 5}),
        "holes": _holes(
            {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
            {"id": "B", "x": 25.0, "y": 15.0, "diameter": 6.5},
        ),
        "tolerances.outline": spec_dict(tolerances={"outline": 0}),
    }
    for field, d in cases.items():
        with pytest.raises(ValueError) as raised:
            Drawing.from_dict(d)
        assert isinstance(raised.value, DrawingError) and raised.value.field == field, (field, raised.value)


def test_limits_are_inclusive():
    """A hole exactly EDGE_MARGIN from the edge, a web exactly HOLE_WEB, r = width / 2, width = length."""
    d = 6.0
    edge_hole = {"id": "E", "x": d / 2 + EDGE_MARGIN, "y": 15.0, "diameter": d}
    web_hole = {"id": "W", "x": edge_hole["x"] + d + HOLE_WEB, "y": 15.0, "diameter": d}
    assert len(Drawing.from_dict(_holes(edge_hole, web_hole)).holes) == 2
    square = {"length": 30.0, "width": 30.0, "corner_radius": 15.0}
    assert Drawing.from_dict(spec_dict(outline=square, holes=[])).corner_radius == 15.0


def test_direct_construction_is_validated_too():
    spec = Drawing.from_dict(BRK_080)
    with pytest.raises(ValueError, match="thickness"):
        Drawing(spec.outline, -1.0, spec.holes)
    with pytest.raises(DrawingError, match=r"outline\.corner_radius must be finite"):
        Drawing(Outline(80.0, 30.0, math.nan), 4.0)
    with pytest.raises(DrawingError, match=r"hole H1\.x must be finite"):
        Drawing(spec.outline, 4.0, (Hole("H1", math.nan, 15.0, 5.0),))
    with pytest.raises(DrawingError, match=r"tolerances\.outline must be > 0"):
        Drawing(spec.outline, 4.0, (), Tolerances(outline=math.nan))
    with pytest.raises(DrawingError, match="duplicate hole id 'H1'"):
        Drawing(spec.outline, 4.0, (spec.holes[0], Hole("H1", 40.0, 15.0, 5.0)))


def test_reference_distance_matches_module():
    spec = Drawing.from_dict(BRK_080)
    for x, y in [(-2, -2), (1, 1), (40, 15), (81, 31), (40, -1), (0.5, 20), (79.9, 0.2)]:
        assert spec.edge_distance(x, y) == pytest.approx(rr_distance(x, y, 80, 30, 3), abs=1e-9)
