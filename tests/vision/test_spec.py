"""The pipeline reads the drawing through :mod:`drawing`; a bad drawing is a SpecError naming the field."""

import pytest

from drawing import Drawing
from tests.vision.conftest import bracket_spec
from vision.pipeline import SpecError
from vision.pipeline.spec import PartSpec


def test_a_part_spec_is_the_drawing():
    spec = bracket_spec()
    part = PartSpec.from_dict(spec)
    assert isinstance(part, Drawing)
    assert (part.length, part.width, part.corner_radius, part.thickness) == (40.0, 20.0, 2.5, 4.0)
    assert [h.id for h in part.holes] == ["H1", "H2", "H3"] and part.tolerances.hole_position == 0.15
    assert part.to_dict() == Drawing.from_dict(spec).to_dict()


def test_a_drawing_converts_without_parsing_again():
    drawing = Drawing.from_dict(bracket_spec())
    part = PartSpec.from_dict(drawing)
    assert isinstance(part, PartSpec) and part.to_dict() == drawing.to_dict()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (bracket_spec(length=10.0), r"outline\.width 20\.0 exceeds outline\.length 10\.0"),
        ({**bracket_spec(), "thickness": "4"}, r"thickness must be a number"),
        (bracket_spec(holes=[{"id": "H1", "x": 1.0, "y": 6.0, "diameter": 4.5}]), r"hole H1 .* not inside"),
        ("not a spec", r"JSON object"),
    ],
)
def test_a_bad_drawing_is_a_spec_error(spec, message):
    with pytest.raises(SpecError, match=message):
        PartSpec.from_dict(spec)
