import math
from dataclasses import replace

import numpy as np
import pytest

from tests.vision import synth
from tests.vision.conftest import bracket_spec
from vision.pipeline import inspect_image
from vision.pipeline.calibration import project_stage_points
from vision.pipeline.rectify import build_rectify_maps, height_scale, rectify


def _float_maps(maps):
    """Recover sub-pixel source coordinates from OpenCV's fixed-point maps."""
    frac = maps.map2.astype(np.int64)
    return maps.map1[..., 0] + (frac & 31) / 32.0, maps.map1[..., 1] + (frac >> 5) / 32.0


def test_maps_sample_the_top_face_plane(small_station):
    cam, calib, plane = small_station
    maps = build_rectify_maps(calib, plane, height_mm=4.0, mm_per_px=0.1)
    mx, my = _float_maps(maps)
    rows, cols = np.array([10, 200, 400]), np.array([20, 300, 500])
    xy = maps.px_to_mm(np.column_stack([cols, rows]))
    truth = synth.project(cam, np.column_stack([xy, np.full(3, -4.0)]))
    got = np.column_stack([mx[rows, cols], my[rows, cols]])
    assert np.max(np.abs(got - truth)) < 1 / 32 + 1e-6
    assert np.allclose(project_stage_points(np.column_stack([xy, np.full(3, -4.0)]), calib, plane), truth)
    assert maps.valid[rows, cols].all() and not maps.valid[0, 0] | maps.valid[-1, -1]


def test_height_homothety_matches_direct_maps(small_station):
    _, calib, plane = small_station
    at0 = build_rectify_maps(calib, plane, height_mm=0.0, mm_per_px=0.1)
    at4 = build_rectify_maps(calib, plane, height_mm=4.0, mm_per_px=0.1)
    image = (np.random.default_rng(0).random((512, 640)) * 255).astype(np.uint8)
    assert rectify(image, at0).shape == at0.shape
    # A length on the top face is the stage-plane length times the homothety factor.
    k = height_scale(plane, 0.0, 4.0)
    assert k == pytest.approx((400.0 - 4.0) / 400.0, abs=2e-3)
    assert at4.shape[1] == pytest.approx(at0.shape[1] * k, abs=2)


@pytest.fixture(scope="module")
def measured(small_station):
    cam, calib, plane = small_station
    rng = np.random.default_rng(5)
    spec = bracket_spec()
    out = []
    for ang in (17.0, 200.0):
        truth = replace(synth.nominal_truth(spec), centre_mm=(31.0, 26.0), angle_deg=ang)
        image = synth.render_scene(cam, [truth], rng=rng)
        out.append((truth, inspect_image(image, spec, calib, plane)))
    return out


def test_thickness_aware_rectification(small_station):
    """Ignoring the 4 mm thickness (camera 400 mm up) costs 1 % of every length."""
    cam, calib, plane = small_station
    spec = bracket_spec(thickness=4.0)
    truth = replace(synth.nominal_truth(spec), centre_mm=(31.0, 26.0), angle_deg=8.0)
    image = synth.render_scene(cam, [truth], rng=np.random.default_rng(1))
    aware = inspect_image(image, spec, calib, plane, annotate_image=False)
    naive = inspect_image(image, {**spec, "thickness": 1e-6}, calib, plane, annotate_image=False)
    err_aware = aware.measurement("length").actual - truth.length
    err_naive = naive.measurement("length").actual - truth.length
    assert abs(err_aware) < 0.02
    assert 0.008 < err_naive / truth.length < 0.012


def test_measurement_accuracy(measured):
    for truth, res in measured:
        assert res.verdict == "PASS", res.reasons
        assert res.measurement("length").actual == pytest.approx(truth.length, abs=0.02)
        assert res.measurement("width").actual == pytest.approx(truth.width, abs=0.02)
        for h in truth.holes:
            assert res.measurement(f"{h.id}.diameter").actual == pytest.approx(h.diameter, abs=0.015)
            assert res.measurement(f"{h.id}.x").actual == pytest.approx(h.x, abs=0.025)
            assert res.measurement(f"{h.id}.y").actual == pytest.approx(h.y, abs=0.025)
        radii = [m.actual for m in res.measurements if m.name.endswith(".radius")]
        assert len(radii) == 4 and max(abs(r - truth.corner_radius) for r in radii) < 0.05


def test_registration_finds_the_rotation_of_a_part_lying_face_up(measured):
    for truth, res in measured:
        assert res.pose["flipped"] is False
        assert not res.pose["orientation_ambiguous"]
        expected = truth.angle_deg
        assert math.cos(math.radians(res.pose["angle_deg"] - expected)) > math.cos(math.radians(0.2))
        assert res.pose["centre_mm"] == pytest.approx(list(truth.centre_mm), abs=0.05)
