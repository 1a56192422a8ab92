"""A part's drawing: the one definition, validation and JSON form of the shop's flat plates.

The shop makes one family of parts: flat plates whose outline is a rectangle with rounded corners, with
round through-holes (brackets, reinforcement strips). The catalogue stores the drawing of each part
revision as JSON; CAM writes machine programs from it and the camera stations measure parts against it.
All three read it through :class:`Drawing`, so a drawing the catalogue accepts is one CAM can cut and the
camera can inspect, and they all agree on what it says.

Coordinates are millimetres in the drawing frame: origin at the part's lower-left corner, x along the
length (the longer side), y along the width, seen from the top face.

The JSON form (``Drawing.to_dict`` / ``Drawing.from_dict``)::

    {
      "outline": {"length": 80.0, "width": 30.0, "corner_radius": 3.0},
      "thickness": 4.0,
      "holes": [{"id": "H1", "x": 10.0, "y": 15.0, "diameter": 6.5}, ...],
      "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15}
    }

Rules (every violation raises :class:`DrawingError`, a ``ValueError`` whose message names the field):

* ``outline`` and its three numbers, ``thickness`` and ``holes`` are required; ``holes`` may be ``[]``.
* Every number is a finite int or float; JSON ``true`` is not 1 mm.
* Length, width, thickness and hole diameters are > 0; the corner radius is >= 0.
* The width does not exceed the length (the camera measures the longer side as the length, so a
  drawing that says otherwise would swap the axes of every measurement).
* The corner radius is at most half the width.
* Hole ids are non-empty strings, unique within the drawing.
* Every hole lies inside the outline (rounded corners included) with at least ``EDGE_MARGIN`` of
  material to the edge, and every two holes leave at least ``HOLE_WEB`` of material between them.
* ``tolerances`` is optional and may name only some tolerances: the shop defaults fill the rest
  (a catalogue revision must state all four, see ``require_tolerances``). Each tolerance is > 0.
* Unknown keys are ignored, so the catalogue can grow without breaking older readers.

Stdlib only: no Django, no numpy, so every part of the system can import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Minimum material between a hole edge and the outline edge, mm. Thinner webs tear out on the mill and
#: cannot hold a perimeter on the printer.
EDGE_MARGIN = 1.0
#: Minimum material between two holes, mm (same reason).
HOLE_WEB = 1.0

#: The shop's tolerances (±, mm) for a drawing that does not state its own.
DEFAULT_TOLERANCES = {
    "outline": 0.2,
    "corner_radius": 0.5,
    "hole_diameter": 0.1,
    "hole_position": 0.15,
}
TOLERANCE_KEYS = tuple(DEFAULT_TOLERANCES)


class DrawingError(ValueError):
    """A drawing is malformed or geometrically impossible.

    ``field`` is the path of the offending field (``"outline.length"``, ``"holes[2].id"``,
    ``"holes"`` for a rule between holes, ``""`` for the document itself) so a form can point at it.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Outline:
    """Rounded rectangle with its lower-left corner at (0, 0), mm."""

    length: float
    width: float
    corner_radius: float


@dataclass(frozen=True)
class Hole:
    """Round through-hole; (x, y) is the centre from the part's lower-left corner."""

    id: str
    x: float
    y: float
    diameter: float

    @property
    def radius(self) -> float:
        return self.diameter / 2.0


@dataclass(frozen=True)
class Tolerances:
    """Symmetric (±) inspection tolerances, mm."""

    outline: float = DEFAULT_TOLERANCES["outline"]
    corner_radius: float = DEFAULT_TOLERANCES["corner_radius"]
    hole_diameter: float = DEFAULT_TOLERANCES["hole_diameter"]
    hole_position: float = DEFAULT_TOLERANCES["hole_position"]


def rounded_rect_distance(x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float) -> float:
    """Signed distance from (x, y) to a rounded rectangle: < 0 inside, > 0 outside.

    Exact (not an approximation): the rounded rectangle is the inner rectangle
    grown by ``r``, so the distance is the inner rectangle's distance minus r.
    """
    qx = abs(x - (x0 + x1) / 2.0) - ((x1 - x0) / 2.0 - r)
    qy = abs(y - (y0 + y1) / 2.0) - ((y1 - y0) / 2.0 - r)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    inside = min(max(qx, qy), 0.0)
    return outside + inside - r


@dataclass(frozen=True)
class Drawing:
    """A validated part drawing. Construction raises :class:`DrawingError` if it breaks a rule.

    Build one from catalogue JSON with :meth:`from_dict`; :meth:`to_dict` gives the JSON back
    (``Drawing.from_dict(d.to_dict()) == d``).
    """

    outline: Outline
    thickness: float
    holes: tuple[Hole, ...] = ()
    tolerances: Tolerances = Tolerances()

    def __post_init__(self) -> None:
        # Direct construction is validated too, so no Drawing object can break the rules.
        _check_outline(self.outline)
        _check_positive(self.thickness, "thickness")
        _check_tolerances(self.tolerances)
        _check_holes(self)

    @property
    def length(self) -> float:
        return self.outline.length

    @property
    def width(self) -> float:
        return self.outline.width

    @property
    def corner_radius(self) -> float:
        return self.outline.corner_radius

    def edge_distance(self, x: float, y: float) -> float:
        """Signed distance from a drawing-frame point to the outline (< 0 inside)."""
        o = self.outline
        return rounded_rect_distance(x, y, 0.0, 0.0, o.length, o.width, o.corner_radius)

    def area(self) -> float:
        """Plan area of the plate minus its holes, mm²."""
        o = self.outline
        plate = o.length * o.width - (4.0 - math.pi) * o.corner_radius**2
        return plate - sum(math.pi * h.radius**2 for h in self.holes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, require_tolerances: bool = False) -> Drawing:
        """Parse and validate the catalogue JSON form; :class:`DrawingError` on anything wrong.

        With ``require_tolerances`` every tolerance must be stated rather than defaulted (the catalogue
        asks this of a revision: a released drawing says what it is inspected against).
        """
        if not isinstance(data, Mapping):
            raise DrawingError(f"spec must be a JSON object, got {type(data).__name__}")
        outline = _mapping(data, "outline", "spec")
        return cls(
            outline=Outline(
                length=_number(outline, "length", "outline"),
                width=_number(outline, "width", "outline"),
                corner_radius=_number(outline, "corner_radius", "outline"),
            ),
            thickness=_number(data, "thickness", "spec"),
            holes=_holes_from(data),
            tolerances=_tolerances_from(data, require_all=require_tolerances),
        )

    def to_dict(self) -> dict[str, Any]:
        """The catalogue JSON form (a fresh dict every call)."""
        o, t = self.outline, self.tolerances
        return {
            "outline": {"length": o.length, "width": o.width, "corner_radius": o.corner_radius},
            "thickness": self.thickness,
            "holes": [{"id": h.id, "x": h.x, "y": h.y, "diameter": h.diameter} for h in self.holes],
            "tolerances": {key: getattr(t, key) for key in TOLERANCE_KEYS},
        }


# --- reading JSON -------------------------------------------------------------------------------


def _field_name(where: str, key: str) -> str:
    """``spec.thickness`` reads better as ``thickness``: the document itself is not a field."""
    return key if where == "spec" else f"{where}.{key}"


def _mapping(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise DrawingError(f"{where}.{key} is required and must be an object", _field_name(where, key))
    return value


def _number(data: Mapping[str, Any], key: str, where: str, field: str | None = None) -> float:
    """A finite number from ``data[key]`` as float; bools are rejected (JSON true is not 1 mm).

    ``where`` prefixes the message ("hole H1.x"); ``field`` is the path for :attr:`DrawingError.field`
    (defaults to ``where.key``).
    """
    field = field or _field_name(where, key)
    if key not in data:
        raise DrawingError(f"{where}.{key} is required", field)
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DrawingError(f"{where}.{key} must be a number, got {value!r}", field)
    if not math.isfinite(value):
        raise DrawingError(f"{where}.{key} must be finite, got {value!r}", field)
    return float(value)


def _holes_from(data: Mapping[str, Any]) -> tuple[Hole, ...]:
    raw_holes = data.get("holes")
    if raw_holes is None:
        raise DrawingError("spec.holes is required (use [] for a plate without holes)", "holes")
    if not isinstance(raw_holes, list | tuple):
        raise DrawingError("spec.holes must be a list", "holes")
    return tuple(_hole_from(raw, n) for n, raw in enumerate(raw_holes))


def _hole_from(raw: Any, n: int) -> Hole:
    if not isinstance(raw, Mapping):
        raise DrawingError(f"spec.holes[{n}] must be an object", f"holes[{n}]")
    hole_id = raw.get("id")
    if not isinstance(hole_id, str) or not hole_id.strip():
        raise DrawingError(f"spec.holes[{n}].id must be a non-empty string", f"holes[{n}].id")
    where = f"hole {hole_id}"
    return Hole(
        id=hole_id,
        x=_number(raw, "x", where, f"holes[{n}].x"),
        y=_number(raw, "y", where, f"holes[{n}].y"),
        diameter=_number(raw, "diameter", where, f"holes[{n}].diameter"),
    )


def _tolerances_from(data: Mapping[str, Any], *, require_all: bool) -> Tolerances:
    stated = data.get("tolerances", {})
    if not isinstance(stated, Mapping):
        raise DrawingError("spec.tolerances must be an object", "tolerances")
    missing = [key for key in TOLERANCE_KEYS if key not in stated]
    if require_all and missing:
        raise DrawingError(
            f"spec.tolerances: the drawing must state tolerances for: {', '.join(missing)}", "tolerances"
        )
    values = {key: _number(stated, key, "tolerances") for key in TOLERANCE_KEYS if key in stated}
    return Tolerances(**values)


# --- the rules ------------------------------------------------------------------------------------


def _check_finite(value: float, field: str) -> None:
    # Comparisons with NaN are all false, so a NaN would slip through every rule below.
    if not math.isfinite(value):
        raise DrawingError(f"{field} must be finite, got {value!r}", field)


def _check_positive(value: float, field: str) -> None:
    _check_finite(value, field)
    if not value > 0:
        raise DrawingError(f"{field} must be > 0, got {value}", field)


def _check_outline(o: Outline) -> None:
    _check_positive(o.length, "outline.length")
    _check_positive(o.width, "outline.width")
    _check_finite(o.corner_radius, "outline.corner_radius")
    if o.width > o.length:
        raise DrawingError(
            f"outline.width {o.width} exceeds outline.length {o.length}; the length is the longer side",
            "outline.width",
        )
    if o.corner_radius < 0:
        raise DrawingError(
            f"outline.corner_radius must be >= 0, got {o.corner_radius}", "outline.corner_radius"
        )
    half = o.width / 2.0
    if o.corner_radius > half:
        raise DrawingError(
            f"outline.corner_radius {o.corner_radius} exceeds half the width ({half})",
            "outline.corner_radius",
        )


def _check_tolerances(t: Tolerances) -> None:
    for key in TOLERANCE_KEYS:
        value = getattr(t, key)
        if not (math.isfinite(value) and value > 0):
            raise DrawingError(f"tolerances.{key} must be > 0, got {value}", f"tolerances.{key}")


def _check_holes(drawing: Drawing) -> None:
    seen: set[str] = set()
    for n, hole in enumerate(drawing.holes):
        field = f"holes[{n}]"
        if not isinstance(hole.id, str) or not hole.id.strip():
            raise DrawingError(f"spec.holes[{n}].id must be a non-empty string", f"{field}.id")
        if hole.id in seen:
            raise DrawingError(f"duplicate hole id {hole.id!r}", f"{field}.id")
        seen.add(hole.id)
        _check_hole_inside(drawing, hole, field)
    _check_hole_webs(drawing.holes)


def _check_hole_inside(drawing: Drawing, hole: Hole, field: str) -> None:
    """The hole is a real hole and leaves ``EDGE_MARGIN`` of material to the (rounded) outline."""
    for name in ("x", "y"):
        _check_finite(getattr(hole, name), f"hole {hole.id}.{name}")
    _check_finite(hole.diameter, f"hole {hole.id}.diameter")
    if not hole.diameter > 0:
        raise DrawingError(f"hole {hole.id}: diameter must be > 0, got {hole.diameter}", f"{field}.diameter")
    if drawing.edge_distance(hole.x, hole.y) > -(hole.radius + EDGE_MARGIN):
        raise DrawingError(
            f"hole {hole.id} at ({hole.x}, {hole.y}) d={hole.diameter} is not inside "
            f"the outline with a {EDGE_MARGIN} mm margin",
            field,
        )


def _check_hole_webs(holes: tuple[Hole, ...]) -> None:
    """Every two holes leave at least ``HOLE_WEB`` of material between their edges."""
    for n, a in enumerate(holes):
        for b in holes[n + 1 :]:
            gap = math.hypot(a.x - b.x, a.y - b.y) - a.radius - b.radius
            if gap < HOLE_WEB:
                raise DrawingError(
                    f"holes {a.id} and {b.id} overlap or leave less than a "
                    f"{HOLE_WEB} mm web (gap {gap:.3f} mm)",
                    "holes",
                )
