"""The drawing of a part: definition, validation and JSON form, shared by the catalogue, CAM and vision.

Django-free and stdlib-only; see :mod:`drawing.spec` for the format and its rules.
"""

from drawing.spec import (
    DEFAULT_TOLERANCES,
    EDGE_MARGIN,
    HOLE_WEB,
    TOLERANCE_KEYS,
    Drawing,
    DrawingError,
    Hole,
    Outline,
    Tolerances,
    rounded_rect_distance,
)

__all__ = [
    "DEFAULT_TOLERANCES",
    "EDGE_MARGIN",
    "HOLE_WEB",
    "TOLERANCE_KEYS",
    "Drawing",
    "DrawingError",
    "Hole",
    "Outline",
    "Tolerances",
    "rounded_rect_distance",
]
