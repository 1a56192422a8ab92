"""Long reinforcement strips: measured whole at a coarser scale, refused clearly where they cannot fit."""

from dataclasses import replace

import numpy as np
import pytest

from tests.vision import synth
from vision.pipeline import CameraCalibration, PartTooLargeError, StagePlane, inspect_image
from vision.pipeline.locate import check_fits_view

MM_PER_PX = 0.125


def strip_spec(length=280.0, width=30.0) -> dict:
    """A 280 x 30 mm strip with a row of holes (one off the centre line, so it has a right way up)."""
    xs = [15.0, 75.0, 140.0, 205.0, 265.0]
    holes = [{"id": f"H{i + 1}", "x": x, "y": width / 2, "diameter": 6.5} for i, x in enumerate(xs)]
    holes[1] = {**holes[1], "y": 9.0, "diameter": 4.2}
    return {
        "outline": {"length": length, "width": width, "corner_radius": 3.0},
        "thickness": 5.0,
        "holes": holes,
        "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
    }


@pytest.fixture(scope="module")
def strip_station():
    """A 2448 x 400 px camera 600 mm up at 0.125 mm/px: a 306 x 50 mm view, room for a 280 mm strip."""
    cam = synth.make_camera((2448, 400), mm_per_px=MM_PER_PX, distance_mm=600.0, aim_mm=(153.0, 25.0))
    return cam, CameraCalibration(cam.K, cam.dist, 0.0, cam.size, 0), StagePlane(cam.R, cam.t)


def test_a_long_strip_measures_within_the_goals(strip_station):
    cam, calib, plane = strip_station
    spec = strip_spec()
    truth = synth.nominal_truth(spec, centre_mm=(153.0, 25.0), angle_deg=181.5)
    # As made: within tolerance but off nominal, so a reading of the nominal would not pass for a measurement.
    truth = replace(
        truth,
        length=280.06,
        width=29.95,
        holes=tuple(replace(h, x=h.x + 0.03, diameter=h.diameter - 0.02) for h in truth.holes),
    )
    image = synth.render_scene(cam, [truth], rng=np.random.default_rng(4))
    res = inspect_image(image, spec, calib, plane, mm_per_px=MM_PER_PX, annotate_image=False)
    assert res.verdict == "PASS", res.reasons
    m = {x.name: x.actual for x in res.measurements}
    assert abs(m["length"] - truth.length) <= 0.02
    assert abs(m["width"] - truth.width) <= 0.02
    for h in truth.holes:
        assert abs(m[f"{h.id}.diameter"] - h.diameter) <= 0.01, h.id
        # Well inside the 0.02 mm goal: a frame taken from the 30 mm ends alone tilts by ~1e-4 rad
        # and puts the end holes 0.01 mm off; the 280 mm sides fix the angle.
        assert np.hypot(m[f"{h.id}.x"] - h.x, m[f"{h.id}.y"] - h.y) <= 0.006, h.id


def test_a_strip_too_long_for_the_view_is_refused_clearly(small_station):
    cam, calib, plane = small_station  # a 64 x 51 mm view
    image = synth.render_scene(cam, [], rng=np.random.default_rng(0))
    res = inspect_image(image, strip_spec(), calib, plane)
    assert (res.verdict, res.unable_code) == ("UNABLE", "part_too_large")
    assert "280 x 30 mm" in res.reasons[0] and "larger view" in res.reasons[0]


def test_fit_check_allows_a_diagonal_placement():
    check_fits_view(280.0, 30.0, 306.0, 256.0)  # fits lying straight
    check_fits_view(250.0, 30.0, 245.0, 205.0)  # fits only on the diagonal
    with pytest.raises(PartTooLargeError):
        check_fits_view(280.0, 30.0, 210.0, 175.0)


def test_voids_at_the_limit_are_never_sized_below_it_at_the_coarse_scale(strip_station):
    # 0.3 mm is 2.4 px here, under two blur widths: integral and peak of such a spot both go as
    # contrast x area, so its size is barely measurable (one read 0.23 mm and the part passed).
    # Unresolved voids are reported at the largest size they can hide.
    cam, calib, plane = strip_station
    spec = strip_spec()
    voids = tuple(
        synth.Defect("void", 30 + 30 * k, 22.0 if k % 2 else 8.0, 0.30, (), -75.0) for k in range(8)
    )
    truth = replace(synth.nominal_truth(spec, centre_mm=(153.0, 25.0), angle_deg=1.0), defects=voids)
    image = synth.render_scene(cam, [truth], look=synth.Appearance(blur=0.9), rng=np.random.default_rng(0))
    res = inspect_image(image, spec, calib, plane, mm_per_px=MM_PER_PX, annotate_image=False)
    assert res.verdict == "FAIL"
    sizes = [d.size_mm for d in res.defects if d.type == "void"]
    assert len(sizes) >= 6 and min(sizes) >= 0.3, sizes
