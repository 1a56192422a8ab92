"""Pure image pipeline of the camera inspection stations (numpy + OpenCV, no Django).

Public entry points: :func:`inspect_image`, :func:`load_image_bytes`,
:func:`calibrate_camera`, :func:`stage_plane`; see the stage modules for the rest.
"""

from .calibration import (
    BoardConfig,
    CameraCalibration,
    StagePlane,
    calibrate_camera,
    detect_charuco,
    stage_plane,
)
from .errors import (
    CalibrationError,
    FaceDownError,
    ImageInputError,
    InspectionError,
    MeasurementError,
    MultiplePartsError,
    NoPartError,
    PartTooLargeError,
    PartTouchesBorderError,
    PipelineError,
    SpecError,
)
from .imageio import load_image_bytes
from .inspect import PIPELINE_VERSION, InspectionResult, MapStore, inspect_image, warm_maps
from .verdict import FAIL, PASS, UNABLE

__all__ = [
    "FAIL",
    "PASS",
    "PIPELINE_VERSION",
    "UNABLE",
    "BoardConfig",
    "CalibrationError",
    "CameraCalibration",
    "FaceDownError",
    "ImageInputError",
    "InspectionError",
    "InspectionResult",
    "MapStore",
    "MeasurementError",
    "MultiplePartsError",
    "NoPartError",
    "PartTooLargeError",
    "PartTouchesBorderError",
    "PipelineError",
    "SpecError",
    "StagePlane",
    "calibrate_camera",
    "detect_charuco",
    "inspect_image",
    "load_image_bytes",
    "stage_plane",
    "warm_maps",
]
