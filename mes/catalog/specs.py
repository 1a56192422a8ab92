"""The drawing spec of a part revision: validation of the JSON the catalogue stores.

The same document is the inspection spec the camera pipeline measures against, so it is checked strictly
when a revision is created: a wrong spec would pass or fail real parts. The geometry rules live in one
place, :meth:`machines.gcode.cam.PlateSpec.from_dict` (the programs are written from the same drawing);
the catalogue adds that a released drawing must state its tolerances rather than fall back on defaults.
"""

from machines.gcode.cam import PlateSpec
from mes.core.errors import RuleViolation

TOLERANCE_KEYS = ("outline", "corner_radius", "hole_diameter", "hole_position")


def validate_spec(spec) -> dict:
    """Return the normalised spec or raise :class:`RuleViolation` naming what is wrong."""
    if not isinstance(spec, dict):
        raise RuleViolation("The drawing spec must be a JSON object.", field="spec")
    tolerances = spec.get("tolerances")
    missing = [key for key in TOLERANCE_KEYS if not isinstance(tolerances, dict) or key not in tolerances]
    if missing:
        raise RuleViolation(f"The drawing must state tolerances for: {', '.join(missing)}.", field="spec")
    try:
        return PlateSpec.from_dict(spec).to_dict()
    except (ValueError, TypeError) as exc:
        raise RuleViolation(f"The drawing spec is invalid: {exc}", field="spec") from exc
