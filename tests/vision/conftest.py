"""Small synthetic stations shared by the vision tests (kept small: 2 shared cores)."""

import numpy as np
import pytest

from tests.vision import synth
from vision.pipeline import BoardConfig, CameraCalibration, StagePlane


@pytest.fixture(scope="session")
def small_cam() -> synth.Camera:
    """640x512 camera 400 mm above the stage at 0.1 mm/px, tilted 3/-2 degrees."""
    return synth.make_camera(
        (640, 512),
        distance_mm=400.0,
        dist=(-0.1, 0.1, 4e-4, -3e-4, 0.0),
        principal_offset=(5.0, -4.0),
        aim_mm=(32.0, 25.6),
    )


@pytest.fixture(scope="session")
def small_station(small_cam):
    """(camera, calibration, plane) with the true calibration of ``small_cam``."""
    calib = CameraCalibration(small_cam.K, small_cam.dist, 0.0, small_cam.size, 0)
    return small_cam, calib, StagePlane(small_cam.R, small_cam.t)


@pytest.fixture(scope="session")
def calib_setup():
    """960x720 camera with strong distortion and a 8x6 ChArUco board."""
    cam = synth.make_camera(
        (960, 720),
        mm_per_px=250.0 / 1200.0,
        distance_mm=250.0,
        dist=(-0.2, 0.1, 5e-4, -4e-4, 0.0),
        principal_offset=(8.0, -5.0),
        aim_mm=(60.0, 45.0),
    )
    board = BoardConfig(8, 6, 15.0, 11.0, "DICT_4X4_50")
    views = synth.calibration_views(cam, board, 9, distance=260.0, spread=0.12, rng=np.random.default_rng(3))
    return cam, board, views


def bracket_spec(length=40.0, width=20.0, radius=2.5, thickness=4.0, holes=None) -> dict:
    """An asymmetric bracket that fits the small station's 64x51 mm view."""
    holes = holes or [
        {"id": "H1", "x": 7.0, "y": 6.0, "diameter": 4.5},
        {"id": "H2", "x": 30.0, "y": 12.5, "diameter": 6.5},
        {"id": "H3", "x": 18.0, "y": 14.0, "diameter": 3.2},
    ]
    return {
        "outline": {"length": length, "width": width, "corner_radius": radius},
        "thickness": thickness,
        "holes": holes,
        "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
    }
