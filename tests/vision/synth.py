"""Synthetic ground truth for the vision tests: the simulated camera's renderer, under its test name.

The renderer is product-side demo equipment (:mod:`simulators.camera`); this module only re-exports
it so the tests and the benchmark keep reading ``synth.render_scene(...)``.
"""

from simulators.camera import (
    CASE_KINDS,
    DEFECT_TYPES,
    Appearance,
    Camera,
    Defect,
    Hole,
    PartTruth,
    Station,
    board_pose,
    calibration_views,
    full_station,
    make_camera,
    make_case,
    nominal_truth,
    plant_defect,
    project,
    random_spec,
    render_board,
    render_scene,
    stage_board_pose,
)

__all__ = [
    "CASE_KINDS",
    "DEFECT_TYPES",
    "Appearance",
    "Camera",
    "Defect",
    "Hole",
    "PartTruth",
    "Station",
    "board_pose",
    "calibration_views",
    "full_station",
    "make_camera",
    "make_case",
    "nominal_truth",
    "plant_defect",
    "project",
    "random_spec",
    "render_board",
    "render_scene",
    "stage_board_pose",
]
