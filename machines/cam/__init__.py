"""CAM for the shop's flat plates: turn a :class:`drawing.Drawing` into G-code a real machine can run.

* :mod:`.milling` - :func:`mill_plate_program`, a GRBL 1.1 end-mill program (climb milled, tool
  offset computed here, optional holding tabs).
* :mod:`.printing` - :func:`print_plate_program`, a Marlin FDM program, sliced by :mod:`.slicing`
  (perimeters and rectilinear infill for exactly this shape).
* :mod:`.shop` - the machines' envelopes and which of them can make a drawing.
* :mod:`.toolpath` - number formatting shared by both generators.

The drawing format itself is :mod:`drawing`. Everything is deterministic: the same input gives a
byte-identical program. Stdlib only.
"""

from machines.cam.milling import MILL_GCODE_MAX_LINE, MillSetup, mill_plate_program
from machines.cam.printing import PRINT_GCODE_MAX_LINE, PrintSetup, print_plate_program
from machines.cam.shop import (
    BREAKTHROUGH,
    DEFAULT_BED_CENTER,
    DEFAULT_TOOL_DIAMETER,
    MILL_ENVELOPE,
    PRINT_MARGIN,
    PRINTER_BED,
    machine_types_for,
    mill_fits,
    print_fits,
)
from machines.cam.slicing import bead_area, layer_tops, scanline_infill

__all__ = [
    "BREAKTHROUGH",
    "DEFAULT_BED_CENTER",
    "DEFAULT_TOOL_DIAMETER",
    "MILL_ENVELOPE",
    "MILL_GCODE_MAX_LINE",
    "PRINTER_BED",
    "PRINT_GCODE_MAX_LINE",
    "PRINT_MARGIN",
    "MillSetup",
    "PrintSetup",
    "bead_area",
    "layer_tops",
    "machine_types_for",
    "mill_fits",
    "mill_plate_program",
    "print_fits",
    "print_plate_program",
    "scanline_infill",
]
