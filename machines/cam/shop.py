"""The shop's machines as CAM sees them: work envelopes, defaults, and which machines can make a drawing."""

from __future__ import annotations

from collections.abc import Sequence

from drawing import Drawing
from machines.cam.toolpath import Point

#: Depth cut below the plate so the tool fully separates the part, mm.
BREAKTHROUGH = 0.3
#: Work envelope of the shop's GRBL mills (X, Y, Z travel), mm.
MILL_ENVELOPE = (300.0, 200.0, 80.0)
#: Build volume of the shop's Marlin printers (X, Y, Z), mm.
PRINTER_BED = (250.0, 210.0, 210.0)
#: Distance the part must keep from the bed edge; the prime line lives there.
PRINT_MARGIN = 6.0
#: Lift of the nozzle over the finished part before parking, mm.
END_LIFT = 10.0

DEFAULT_TOOL_DIAMETER = 3.175  # 1/8" flat end mill, the shop's standard
DEFAULT_BED_CENTER = (110.0, 110.0)


def print_fits(
    spec: Drawing,
    *,
    bed_center: Point = DEFAULT_BED_CENTER,
    bed_size: Sequence[float] = PRINTER_BED,
) -> bool:
    """True if the part, centred on ``bed_center``, keeps ``PRINT_MARGIN`` to the bed edge."""
    o = spec.outline
    x0, x1 = bed_center[0] - o.length / 2.0, bed_center[0] + o.length / 2.0
    y0, y1 = bed_center[1] - o.width / 2.0, bed_center[1] + o.width / 2.0
    return (
        x0 >= PRINT_MARGIN
        and y0 >= PRINT_MARGIN
        and x1 <= bed_size[0] - PRINT_MARGIN
        and y1 <= bed_size[1] - PRINT_MARGIN
        and spec.thickness + END_LIFT <= bed_size[2]
    )


def mill_fits(spec: Drawing, *, tool_diameter: float = DEFAULT_TOOL_DIAMETER) -> bool:
    """True if the profile toolpath (part + tool) fits ``MILL_ENVELOPE``."""
    o = spec.outline
    return (
        o.length + tool_diameter <= MILL_ENVELOPE[0]
        and o.width + tool_diameter <= MILL_ENVELOPE[1]
        and spec.thickness + BREAKTHROUGH < MILL_ENVELOPE[2]
    )


def machine_types_for(spec: Drawing) -> tuple[str, ...]:
    """Machine types of the shop that can make ``spec`` with default settings."""
    types = []
    if mill_fits(spec) and all(h.diameter > DEFAULT_TOOL_DIAMETER for h in spec.holes):
        types.append("cnc_mill")
    if print_fits(spec):
        types.append("fdm_printer")
    return tuple(types)
