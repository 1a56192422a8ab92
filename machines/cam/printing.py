"""Marlin FDM programs for the shop's plates: :func:`print_plate_program`.

Uses the slicer in :mod:`machines.cam.slicing`: inward perimeters of the rounded rectangle, outward
perimeters around each hole, and rectilinear infill. Absolute E, retraction on long travels.
Deterministic: the same input gives a byte-identical program. Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drawing import Drawing, rounded_rect_distance
from machines.cam.shop import DEFAULT_BED_CENTER, END_LIFT, PRINT_MARGIN, PRINTER_BED, print_fits
from machines.cam.slicing import (
    Circle,
    RoundedRect,
    bead_area,
    circle_loop,
    layer_tops,
    rounded_rect_loop,
    scanline_infill,
    solid_spacing,
)
from machines.cam.toolpath import Point, check_line_lengths, fmt_feed, fmt_number

PRINT_GCODE_MAX_LINE = 90

_RETRACT_MIN_TRAVEL = 2.0  # retract on travels longer than this, mm
_RETRACT_FEED = 2100  # 35 mm/s, a safe default for direct and Bowden drives
_Z_FEED = 600  # printer Z axes are slow leadscrews
_SOLID_LAYERS = 3  # solid layers at the bottom and at the top
_SPARSE_DENSITY = 0.2
_INFILL_OVERLAP = 0.25  # infill bead end overlaps the inner perimeter, fraction of w
_FIRST_LAYER_SPEED = 0.5  # first layer at half speed for adhesion
_PRIME_START = (5.0, 3.0)
_PRIME_END = (85.0, 3.0)


@dataclass(frozen=True)
class PrintSetup:
    """Validated slicing parameters for one print program."""

    layer_height: float
    first_layer_height: float
    line_width: float
    filament_area: float
    hotend_temp: float
    bed_temp: float
    offset: Point  # part frame -> bed frame
    perimeters: int
    print_feed: float
    travel_feed: float
    retract_mm: float
    bed_size: tuple[float, float, float]


def _check_printable(spec: Drawing, perimeters: int, w: float) -> None:
    """Reject plates whose webs are too thin for the requested perimeter shells."""
    shell = perimeters * w
    o = spec.outline
    if 2.0 * shell >= min(o.length, o.width):
        raise ValueError(f"plate narrower than {perimeters} perimeters on each side")
    for hole in spec.holes:
        if spec.edge_distance(hole.x, hole.y) > -(hole.radius + 2.0 * shell):
            raise ValueError(f"hole {hole.id}: web to the edge too thin for {perimeters} perimeters")
    for n, a in enumerate(spec.holes):
        for b in spec.holes[n + 1 :]:
            if math.hypot(a.x - b.x, a.y - b.y) < a.radius + b.radius + 2.0 * shell:
                raise ValueError(f"holes {a.id} and {b.id}: web too thin for {perimeters} perimeters")


class _PrintWriter:
    """Collects Marlin lines; tracks position, absolute E, feed and retraction."""

    def __init__(self, setup: PrintSetup) -> None:
        self.setup = setup
        self.lines: list[str] = []
        self.x: float | None = None
        self.y: float | None = None
        self.e = 0.0
        self.feed: float | None = None
        self.retracted = False

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def _f(self, feed: float) -> str:
        if feed == self.feed:
            return ""
        self.feed = feed
        return f" F{fmt_feed(feed)}"

    def z(self, z: float) -> None:
        self.lines.append(f"G0 Z{fmt_number(z)}{self._f(_Z_FEED)}")

    def travel(self, x: float, y: float) -> None:
        """Non-printing move; retracts first if it is long enough to string."""
        if self.x is not None and self.x == x and self.y == y:
            return
        # The very first move has nothing to string from: E is still at rest.
        far = self.x is not None and math.hypot(x - self.x, y - self.y) > _RETRACT_MIN_TRAVEL
        if far and not self.retracted and self.setup.retract_mm > 0:
            self.e -= self.setup.retract_mm
            self.lines.append(f"G1 E{fmt_number(self.e, 5)}{self._f(_RETRACT_FEED)}")
            self.retracted = True
        self.lines.append(f"G0 X{fmt_number(x)} Y{fmt_number(y)}{self._f(self.setup.travel_feed)}")
        self.x, self.y = x, y

    def extrude(self, x: float, y: float, area: float, feed: float) -> None:
        """Printing move; E grows by length · bead area / filament area."""
        if self.retracted:
            self.e += self.setup.retract_mm
            self.lines.append(f"G1 E{fmt_number(self.e, 5)}{self._f(_RETRACT_FEED)}")
            self.retracted = False
        length = math.hypot(x - self.x, y - self.y)
        self.e += length * area / self.setup.filament_area
        self.lines.append(f"G1 X{fmt_number(x)} Y{fmt_number(y)} E{fmt_number(self.e, 5)}{self._f(feed)}")
        self.x, self.y = x, y

    def path(self, points: Sequence[Point], area: float, feed: float) -> None:
        self.travel(*points[0])
        for x, y in points[1:]:
            self.extrude(x, y, area, feed)


def print_plate_program(
    spec: Drawing,
    *,
    nozzle: float = 0.4,
    layer_height: float = 0.2,
    first_layer_height: float = 0.3,
    line_width: float = 0.45,
    filament_diameter: float = 1.75,
    hotend_temp: float = 210,
    bed_temp: float = 60,
    bed_center: Point = DEFAULT_BED_CENTER,
    perimeters: int = 2,
    infill: str = "rectilinear",
    print_feed: float = 2400,
    travel_feed: float = 7800,
    retract_mm: float = 0.8,
    bed_size: Sequence[float] = PRINTER_BED,
) -> str:
    """Marlin program that prints ``spec`` flat on the bed, centred on ``bed_center``.

    Per layer: outline perimeters (inward offsets, innermost first so the
    visible wall goes down last), hole perimeters (outward offsets, wall last),
    then rectilinear infill at +45°/-45° alternating per layer - solid on the
    bottom and top three layers, 20 % elsewhere. Absolute E (M82), retraction
    on travels over 2 mm, fan on from layer 1. Raises ``ValueError`` for
    parameters that cannot print or a part that does not fit the bed.
    """
    setup = _print_setup(
        spec,
        nozzle=nozzle,
        layer_height=layer_height,
        first_layer_height=first_layer_height,
        line_width=line_width,
        filament_diameter=filament_diameter,
        hotend_temp=hotend_temp,
        bed_temp=bed_temp,
        bed_center=bed_center,
        perimeters=perimeters,
        infill=infill,
        print_feed=print_feed,
        travel_feed=travel_feed,
        retract_mm=retract_mm,
        bed_size=bed_size,
    )
    w = _PrintWriter(setup)
    _start_code(w, spec)
    tops = layer_tops(spec.thickness, first_layer_height, layer_height)
    z_prev = 0.0
    for n, z in enumerate(tops):
        _print_layer(w, spec, n, len(tops), z, z - z_prev)
        z_prev = z
    _end_code(w, tops[-1])
    check_line_lengths(w.lines, PRINT_GCODE_MAX_LINE, "printer")
    return "\n".join(w.lines) + "\n"


def _print_setup(spec: Drawing, **p: Any) -> PrintSetup:
    """Check the print parameters ``p`` (those of :func:`print_plate_program`) against ``spec``.

    Raises ``ValueError`` naming the parameter for anything that cannot print; else the setup in
    bed coordinates (the part centred on ``bed_center``).
    """
    _check_print_parameters(p)
    _check_layers_fit(spec, p)
    if not print_fits(spec, bed_center=p["bed_center"], bed_size=p["bed_size"]):
        raise ValueError(
            f"plate {spec.length}x{spec.width} does not fit the bed {tuple(p['bed_size'])} "
            f"centred at {tuple(p['bed_center'])} with a {PRINT_MARGIN} mm margin"
        )
    _check_printable(spec, p["perimeters"], p["line_width"])
    cx, cy = p["bed_center"]
    return PrintSetup(
        layer_height=float(p["layer_height"]),
        first_layer_height=float(p["first_layer_height"]),
        line_width=float(p["line_width"]),
        filament_area=math.pi * (p["filament_diameter"] / 2.0) ** 2,
        hotend_temp=float(p["hotend_temp"]),
        bed_temp=float(p["bed_temp"]),
        offset=(cx - spec.length / 2.0, cy - spec.width / 2.0),
        perimeters=p["perimeters"],
        print_feed=float(p["print_feed"]),
        travel_feed=float(p["travel_feed"]),
        retract_mm=float(p["retract_mm"]),
        bed_size=(float(p["bed_size"][0]), float(p["bed_size"][1]), float(p["bed_size"][2])),
    )


def _check_print_parameters(p: dict[str, Any]) -> None:
    """Parameters that are wrong whatever the part: sizes and feeds > 0, known infill, whole perimeters."""
    for name in (
        "nozzle",
        "layer_height",
        "first_layer_height",
        "line_width",
        "filament_diameter",
        "print_feed",
        "travel_feed",
    ):
        if not p[name] > 0:
            raise ValueError(f"{name} must be > 0, got {p[name]}")
    if p["infill"] != "rectilinear":
        raise ValueError(f"infill {p['infill']!r} not supported (only 'rectilinear')")
    if not isinstance(p["perimeters"], int) or p["perimeters"] < 1:
        raise ValueError("perimeters must be an integer >= 1")
    if p["retract_mm"] < 0:
        raise ValueError("retract_mm must be >= 0")


def _check_layers_fit(spec: Drawing, p: dict[str, Any]) -> None:
    """Layers the nozzle can lay down, and a first layer no thicker than the plate."""
    for name in ("layer_height", "first_layer_height"):
        # A layer thicker than ~80 % of the nozzle cannot be squashed onto the last.
        if p[name] > 0.8 * p["nozzle"] or p[name] > p["line_width"]:
            raise ValueError(f"{name} {p[name]} too thick for the nozzle / line width")
    if p["first_layer_height"] > spec.thickness:
        raise ValueError("first_layer_height exceeds the plate thickness")


def _start_code(w: _PrintWriter, spec: Drawing) -> None:
    """Heat bed and hotend together, home, wait, then a prime line at the bed front."""
    s = w.setup
    w.raw(f";plate {fmt_number(spec.length)}x{fmt_number(spec.width)}x{fmt_number(spec.thickness)}")
    w.raw(f"M140 S{fmt_feed(s.bed_temp)}")
    w.raw(f"M104 S{fmt_feed(s.hotend_temp)}")
    w.raw("G28")
    w.raw(f"M190 S{fmt_feed(s.bed_temp)}")
    w.raw(f"M109 S{fmt_feed(s.hotend_temp)}")
    w.raw("G21")
    w.raw("G90")
    w.raw("M82")
    w.raw("G92 E0")
    w.z(s.first_layer_height)
    w.travel(*_PRIME_START)
    prime_area = bead_area(2.0 * s.line_width, s.first_layer_height)
    w.extrude(*_PRIME_END, prime_area, s.print_feed * _FIRST_LAYER_SPEED)


def _print_layer(w: _PrintWriter, spec: Drawing, n: int, count: int, z: float, h: float) -> None:
    """Layer ``n`` of ``count`` at top height z and thickness h: perimeters, then infill."""
    s = w.setup
    area = bead_area(s.line_width, h)
    feed = s.print_feed * (_FIRST_LAYER_SPEED if n == 0 else 1.0)
    w.raw(f";LAYER:{n}")
    if n == 1:
        w.raw("M106 S255")  # fan from the second layer: the first must stay hot to stick to the bed
    w.z(z)
    ox, oy = s.offset
    part = RoundedRect(ox, oy, ox + spec.length, oy + spec.width, spec.outline.corner_radius)
    _print_perimeters(w, spec, part, area, feed)
    _print_infill(w, spec, part, n, count, h, area, feed)


def _print_perimeters(w: _PrintWriter, spec: Drawing, part: RoundedRect, area: float, feed: float) -> None:
    """Outline loops inward, then loops around each hole outward; the visible wall of each goes last."""
    s = w.setup
    lw = s.line_width
    ox, oy = s.offset
    for k in reversed(range(s.perimeters)):
        w.path(rounded_rect_loop(part.inset(lw / 2.0 + k * lw)), area, feed)
    for hole in spec.holes:
        for k in reversed(range(s.perimeters)):
            circle = Circle(hole.x + ox, hole.y + oy, hole.radius + lw / 2.0 + k * lw)
            w.path(circle_loop(circle), area, feed)


def _print_infill(
    w: _PrintWriter, spec: Drawing, part: RoundedRect, n: int, count: int, h: float, area: float, feed: float
) -> None:
    """Rectilinear infill inside the perimeters: solid near bottom and top, sparse between, ±45° by layer."""
    s = w.setup
    lw = s.line_width
    ox, oy = s.offset
    # Infill centrelines stop so that the bead's round end (w/2 long) overlaps
    # the innermost perimeter by _INFILL_OVERLAP·w: enough to bond, no blob.
    clip = s.perimeters * lw + (0.5 - _INFILL_OVERLAP) * lw
    boundary = part.inset(clip)
    holes = [Circle(hh.x + ox, hh.y + oy, hh.radius + clip) for hh in spec.holes]
    # Sparse pitch uses the nominal layer height so sparse lines stack on a fixed grid.
    solid = n < _SOLID_LAYERS or n >= count - _SOLID_LAYERS
    density = 1.0 if solid else _SPARSE_DENSITY
    spacing = solid_spacing(lw, h if solid else s.layer_height) / density
    angle = 45.0 if n % 2 == 0 else -45.0
    segments = scanline_infill(boundary, holes, angle, spacing, min_length=lw)
    for n_seg, (start, end) in enumerate(segments):
        link_ok = n_seg > 0 and _can_link(w.x, w.y, start, boundary, holes, 2.0 * spacing)
        if link_ok:
            w.extrude(*start, area, feed)
        else:
            w.travel(*start)
        w.extrude(*end, area, feed)


def _can_link(x: float, y: float, to: Point, boundary: RoundedRect, holes: Sequence[Circle], limit: float):
    """True if the hop from (x, y) to the next infill line may be printed as a link.

    Linking consecutive lines along the boundary (as rectilinear infill usually
    does) avoids a retraction per sparse line. Allowed only for short hops that
    stay inside the (convex) infill boundary and clear of every hole circle:
    a hop between two points on a hole's circle would cut across the hole.
    """
    if math.hypot(to[0] - x, to[1] - y) > limit:
        return False
    mid = ((x + to[0]) / 2.0, (y + to[1]) / 2.0)
    b = boundary
    if rounded_rect_distance(*mid, b.x0, b.y0, b.x1, b.y1, b.r) > 1e-6:
        return False
    return all(_segment_clear_of(c, (x, y), to) for c in holes)


def _segment_clear_of(c: Circle, a: Point, b: Point) -> bool:
    """True if segment ab stays outside circle c (touching allowed)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else ((c.cx - a[0]) * dx + (c.cy - a[1]) * dy) / length2
    t = min(1.0, max(0.0, t))
    return math.hypot(a[0] + t * dx - c.cx, a[1] + t * dy - c.cy) >= c.r - 1e-6


def _end_code(w: _PrintWriter, top: float) -> None:
    """Retract, heaters and fan off, lift clear of the part, park X, motors off."""
    s = w.setup
    if not w.retracted and s.retract_mm > 0:
        w.e -= s.retract_mm
        w.raw(f"G1 E{fmt_number(w.e, 5)} F{_RETRACT_FEED}")
    w.raw("M104 S0")
    w.raw("M140 S0")
    w.raw("M107")
    w.raw(f"G1 Z{fmt_number(min(top + END_LIFT, s.bed_size[2]))} F{_Z_FEED}")
    # Marlin homes the axes named in G28 and ignores their values; "X0" rather
    # than a bare "X" keeps the line parseable by strict G-code tools.
    w.raw("G28 X0")
    w.raw("M84")
