import json
from dataclasses import replace

import numpy as np
import pytest

from tests.vision import synth
from tests.vision.conftest import bracket_spec
from vision.pipeline import PIPELINE_VERSION, inspect_image

CENTRE = (31.0, 26.0)


def _part(spec=None, **kw):
    spec = spec or bracket_spec()
    return replace(synth.nominal_truth(spec), centre_mm=CENTRE, angle_deg=25.0, **kw)


def _inspect(small_station, parts, spec=None, seed=0):
    cam, calib, plane = small_station
    image = synth.render_scene(cam, parts, rng=np.random.default_rng(seed))
    return inspect_image(image, spec or parts[0].spec if parts else spec, calib, plane)


@pytest.mark.parametrize(
    ("kind", "size"),
    [("void", 0.4), ("void", 1.0), ("crack", 1.5), ("burr", 0.4), ("chipped_corner", 0.5)],
)
def test_each_defect_type_is_found(small_station, kind, size):
    rng = np.random.default_rng(hash(kind) % 1000)
    truth = synth.plant_defect(rng, _part(), kind, size)
    res = _inspect(small_station, [truth])
    planted = truth.defects[0]
    assert res.verdict == "FAIL"
    near = [d for d in res.defects if np.hypot(d.x - planted.x, d.y - planted.y) < max(1.0, size)]
    assert [d.type for d in near] == [kind], res.defects
    assert near[0].size_mm == pytest.approx(size, rel=0.25)


def test_missing_and_extra_holes(small_station):
    base = _part()
    gone = base.holes[2]
    extra = synth.Hole("X", 30.0, 4.0, 3.0)
    truth = replace(base, holes=(*base.holes[:2], extra))
    res = _inspect(small_station, [truth])
    kinds = {d.type: d for d in res.defects}
    assert res.verdict == "FAIL"
    assert kinds["missing_hole"].x == gone.x and kinds["missing_hole"].y == gone.y
    assert kinds["extra_hole"].x == pytest.approx(30.0, abs=0.05)
    assert kinds["extra_hole"].size_mm == pytest.approx(3.0, abs=0.02)


def test_good_part_passes_without_defects(small_station):
    res = _inspect(small_station, [_part()])
    assert res.verdict == "PASS", res.reasons
    assert res.defects == ()
    assert res.pose["flipped"] is False


def test_a_part_lying_face_down_is_named_not_read_mirrored(small_station):
    """Its holes fit only a mirror image of the drawing: the station asks for it to be turned over
    instead of failing a good part for missing and extra holes."""
    res = _inspect(small_station, [_part(flipped=True)])
    assert res.verdict == "UNABLE" and res.unable_code == "face_down"
    assert "turn it over" in res.reasons[0]


@pytest.mark.parametrize("what", ["diameter", "position", "length"])
def test_out_of_tolerance_fails(small_station, what):
    base = _part()
    holes = list(base.holes)
    if what == "diameter":
        holes[1] = replace(holes[1], diameter=holes[1].diameter + 0.2)
        failing = "H2.diameter"
    elif what == "position":
        holes[0] = replace(holes[0], x=holes[0].x + 0.25)
        failing = "H1.position"
    truth = replace(base, holes=tuple(holes))
    if what == "length":
        truth = replace(truth, length=truth.length + 0.3)
        failing = "length"
    res = _inspect(small_station, [truth])
    assert res.verdict == "FAIL"
    assert not res.measurement(failing).ok
    bad = {m.name for m in res.measurements if not m.ok}
    assert bad <= {failing, "H1.x", "H1.y", "H2.x", "H2.y"}


def test_no_part_is_unable(small_station):
    cam, calib, plane = small_station
    image = synth.render_scene(cam, [], rng=np.random.default_rng(0))
    res = inspect_image(image, bracket_spec(), calib, plane)
    assert (res.verdict, res.unable_code) == ("UNABLE", "no_part")
    assert res.annotated is not None


def test_two_parts_are_unable(small_station):
    spec = bracket_spec(length=24.0, width=12.0, holes=[{"id": "H1", "x": 6, "y": 6, "diameter": 4}])
    a = replace(synth.nominal_truth(spec), centre_mm=(18.0, 15.0))
    b = replace(synth.nominal_truth(spec), centre_mm=(45.0, 36.0), angle_deg=30.0)
    res = _inspect(small_station, [a, b])
    assert (res.verdict, res.unable_code) == ("UNABLE", "multiple_parts")


def test_part_touching_border_is_unable(small_station):
    res = _inspect(small_station, [replace(_part(), centre_mm=(8.0, 26.0), angle_deg=0.0)])
    assert (res.verdict, res.unable_code) == ("UNABLE", "part_touches_border")


def test_result_is_json_serialisable_and_timed(small_station):
    res = _inspect(small_station, [_part()])
    data = json.loads(json.dumps(res.to_dict()))
    assert data["pipeline_version"] == PIPELINE_VERSION
    assert {"rectify", "locate", "measure", "register", "defects", "verdict", "annotate", "total"} <= set(
        data["timings"]
    )
    m = data["measurements"][0]
    assert set(m) == {"name", "nominal", "actual", "deviation", "tolerance", "ok"}
    assert res.annotated.ndim == 3 and res.annotated.shape[2] == 3


@pytest.mark.parametrize(("size", "contrast"), [(2.0, -80.0), (1.5, -100.0), (3.0, -90.0)])
def test_a_deep_dark_void_is_a_void_not_an_extra_hole(small_station, size, contrast):
    # Dark enough to fall below the part/stage threshold and round enough to pass for a hole, but its
    # floor is material, not the stage seen through the part: a void only, reported once.
    truth = replace(_part(), defects=(synth.Defect("void", 18.0, 5.0, size, (), contrast),))
    res = _inspect(small_station, [truth])
    assert res.verdict == "FAIL"
    assert [d.type for d in res.defects] == ["void"], res.defects
    assert res.defects[0].size_mm == pytest.approx(size, rel=0.25)
    assert {m.name for m in res.measurements if not m.ok} == set()


def test_a_through_hole_beside_a_void_is_still_an_extra_hole(small_station):
    truth = replace(
        _part(),
        holes=(*_part().holes, synth.Hole("X", 30.0, 4.0, 2.5)),
        defects=(synth.Defect("void", 18.0, 5.0, 2.0, (), -80.0),),
    )
    res = _inspect(small_station, [truth])
    assert sorted(d.type for d in res.defects) == ["extra_hole", "void"], res.defects
