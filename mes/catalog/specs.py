"""The drawing spec of a part revision: validation of the JSON the catalogue stores.

The same document is the inspection spec the camera pipeline measures against and the drawing CAM writes
programs from, so it is checked strictly when a revision is created: a wrong spec would pass or fail real
parts. The format and every rule live in one place, :mod:`drawing`; the catalogue adds only that a
revision's drawing must state its tolerances rather than fall back on the shop defaults.
"""

from drawing import Drawing, DrawingError
from mes.core.errors import RuleViolation


def validate_spec(spec) -> dict:
    """The normalised spec (``Drawing.to_dict``); :class:`RuleViolation` naming what is wrong."""
    try:
        return Drawing.from_dict(spec, require_tolerances=True).to_dict()
    except DrawingError as exc:
        raise RuleViolation(f"The drawing spec is invalid: {exc}", field="spec") from exc
