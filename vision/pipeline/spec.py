"""The drawing spec (inspection spec) of a part, parsed from catalogue JSON.

Units are millimetres throughout.  Hole centres are given in the drawing frame: origin
at the part's lower-left corner, x along the length, y along the width, seen from the
top face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import SpecError

DEFAULT_TOLERANCES = {
    "outline": 0.2,
    "corner_radius": 0.5,
    "hole_diameter": 0.1,
    "hole_position": 0.15,
}


@dataclass(frozen=True)
class HoleSpec:
    id: str
    x: float
    y: float
    diameter: float


@dataclass(frozen=True)
class Tolerances:
    outline: float
    corner_radius: float
    hole_diameter: float
    hole_position: float


@dataclass(frozen=True)
class PartSpec:
    length: float
    width: float
    corner_radius: float
    thickness: float
    holes: tuple[HoleSpec, ...]
    tolerances: Tolerances

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartSpec:
        """Parse and validate catalogue JSON; raise :class:`SpecError` on any problem."""
        try:
            outline = data["outline"]
            length = _positive(outline["length"], "outline.length")
            width = _positive(outline["width"], "outline.width")
            radius = _number(outline.get("corner_radius", 0.0), "outline.corner_radius")
            thickness = _positive(data["thickness"], "thickness")
            tol_in = {**DEFAULT_TOLERANCES, **(data.get("tolerances") or {})}
            tolerances = Tolerances(**{k: _positive(tol_in[k], k) for k in DEFAULT_TOLERANCES})
            holes = tuple(_hole(h, i) for i, h in enumerate(data.get("holes") or []))
        except (KeyError, TypeError) as exc:
            raise SpecError(f"malformed part spec: missing or wrong field {exc}") from exc
        if width > length:
            # The pipeline measures the longer side as "length"; a spec that says
            # otherwise would silently swap axes, so refuse it.
            raise SpecError("outline.width must not exceed outline.length")
        if not 0 <= radius <= width / 2:
            raise SpecError("outline.corner_radius must be between 0 and width/2")
        ids = [h.id for h in holes]
        if len(set(ids)) != len(ids):
            raise SpecError("hole ids must be unique")
        for h in holes:
            r = h.diameter / 2
            if not (r <= h.x <= length - r and r <= h.y <= width - r):
                raise SpecError(f"hole {h.id} lies outside the outline")
        return cls(length, width, radius, thickness, holes, tolerances)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{name} must be a finite number")
    return float(value)


def _positive(value: Any, name: str) -> float:
    v = _number(value, name)
    if v <= 0:
        raise SpecError(f"{name} must be positive")
    return v


def _hole(h: dict[str, Any], index: int) -> HoleSpec:
    hid = str(h.get("id") or f"H{index + 1}")
    return HoleSpec(
        hid,
        _number(h["x"], f"{hid}.x"),
        _number(h["y"], f"{hid}.y"),
        _positive(h["diameter"], f"{hid}.diameter"),
    )
