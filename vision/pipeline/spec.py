"""The part's drawing as the pipeline sees it: a :class:`drawing.Drawing`, with errors as SpecError.

The drawing format and its rules live in :mod:`drawing`; this module only adapts it to the pipeline's
vocabulary (``PartSpec``, ``HoleSpec``) and error hierarchy, so a bad drawing surfaces as
:class:`~.errors.SpecError` ("the station is mis-configured") rather than as an inspection failure.
Units are millimetres in the drawing frame (origin at the part's lower-left corner, x along the length,
y along the width, seen from the top face); the stages convert to pixels themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drawing import DEFAULT_TOLERANCES, Drawing, DrawingError, Hole, Tolerances

from .errors import SpecError

__all__ = ["DEFAULT_TOLERANCES", "HoleSpec", "PartSpec", "Tolerances"]

#: A nominal hole of the drawing (id, x, y, diameter in mm).
HoleSpec = Hole


class PartSpec(Drawing):
    """A :class:`drawing.Drawing` the pipeline measures against (length, width, corner_radius,
    thickness, holes, tolerances)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Drawing, **options: Any) -> PartSpec:
        """The pipeline's spec from catalogue JSON (parsed by :mod:`drawing`) or from a ``Drawing``.

        Raises :class:`SpecError` (naming the field) for a drawing that breaks the rules.
        """
        if isinstance(data, Drawing):
            return cls(data.outline, data.thickness, data.holes, data.tolerances)
        try:
            drawing = Drawing.from_dict(data, **options)
        except DrawingError as exc:
            raise SpecError(f"malformed part spec: {exc}") from exc
        return cls(drawing.outline, drawing.thickness, drawing.holes, drawing.tolerances)
