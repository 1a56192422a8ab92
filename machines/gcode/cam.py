"""CAM for flat plates: turn a plate drawing into G-code a real machine can run.

The shop makes one family of parts: flat rectangular plates with rounded
corners and round through-holes (brackets, reinforcement strips). This module
owns the drawing format (:class:`PlateSpec`) and two program generators:

* :func:`mill_plate_program` - GRBL 1.1 end-mill program. Holes are cut first
  (helical interpolation, or a helical entry plus concentric rings when the hole
  is wider than two tool diameters), then the outside profile with the
  tool-radius offset computed here (no G41/G42: GRBL has no cutter
  compensation). All cutting is **climb milling** with an M3 (clockwise)
  spindle: the profile runs clockwise (G2 corners) and holes run
  counter-clockwise (G3).
* :func:`print_plate_program` - Marlin FDM program from a tiny slicer written
  for exactly this shape: inward perimeters of the rounded rectangle, outward
  perimeters around each hole, and rectilinear infill clipped by scanline
  intersection against the inset outline and the enlarged hole circles.

Coordinates in a drawing are millimetres from the part's lower-left corner.
Everything is deterministic: the same input gives a byte-identical program.
Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# --- shop constants ---------------------------------------------------------

#: Minimum material between a hole edge and the outline edge, mm. Thinner webs
#: tear out on the mill and cannot hold a perimeter on the printer.
EDGE_MARGIN = 1.0
#: Minimum material between two holes, mm (same reason).
HOLE_WEB = 1.0
#: Depth cut below the plate so the tool fully separates the part, mm.
BREAKTHROUGH = 0.3
#: Work envelope of the shop's GRBL mills (X, Y, Z travel), mm.
MILL_ENVELOPE = (300.0, 200.0, 80.0)
#: Build volume of the shop's Marlin printers (X, Y, Z), mm.
PRINTER_BED = (250.0, 210.0, 210.0)
#: Distance the part must keep from the bed edge; the prime line lives there.
PRINT_MARGIN = 6.0

DEFAULT_TOOL_DIAMETER = 3.175  # 1/8" flat end mill, the shop's standard
DEFAULT_BED_CENTER = (110.0, 110.0)

MILL_GCODE_MAX_LINE = 70
PRINT_GCODE_MAX_LINE = 90

_MILL_CLEARANCE_Z = 1.0  # rapid down to here, then feed: stock may not be flat
_TAB_HEIGHT = 1.0  # material left under a holding tab, mm
_TAB_WIDTH = 3.0  # length of material left in a tab, mm (tool width added)
_RING_STEPOVER = 0.4  # pocket ring spacing as a fraction of tool diameter
_POCKET_ENTRY = 0.4  # helix radius for pocket entry, fraction of tool diameter
_SPINDLE_DWELL_S = 2.0  # let the spindle reach speed before the first cut

_CHORD_TOLERANCE = 0.05  # max sagitta when flattening arcs for the printer
_RETRACT_MIN_TRAVEL = 2.0  # retract on travels longer than this, mm
_RETRACT_FEED = 2100  # 35 mm/s, a safe default for direct and Bowden drives
_Z_FEED = 600  # printer Z axes are slow leadscrews
_SOLID_LAYERS = 3  # solid layers at the bottom and at the top
_SPARSE_DENSITY = 0.2
_INFILL_OVERLAP = 0.25  # infill bead end overlaps the inner perimeter, fraction of w
_FIRST_LAYER_SPEED = 0.5  # first layer at half speed for adhesion
_PRIME_START = (5.0, 3.0)
_PRIME_END = (85.0, 3.0)
_END_LIFT = 10.0

DEFAULT_TOLERANCES = {
    "outline": 0.2,
    "corner_radius": 0.5,
    "hole_diameter": 0.1,
    "hole_position": 0.15,
}

Point = tuple[float, float]


# --- the drawing ------------------------------------------------------------


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
class PlateSpec:
    """A validated plate drawing. Construction raises ``ValueError`` if invalid.

    Rules: all sizes > 0 (corner radius may be 0), corner radius <= half the
    width and half the length, every hole at least ``EDGE_MARGIN`` inside the
    outline, every pair of holes at least ``HOLE_WEB`` apart, hole ids unique,
    tolerances > 0.
    """

    outline: Outline
    thickness: float
    holes: tuple[Hole, ...] = ()
    tolerances: Tolerances = Tolerances()

    def __post_init__(self) -> None:
        _validate_plate(self)

    @property
    def length(self) -> float:
        return self.outline.length

    @property
    def width(self) -> float:
        return self.outline.width

    def edge_distance(self, x: float, y: float) -> float:
        """Signed distance from a part-frame point to the outline (< 0 inside)."""
        o = self.outline
        return rounded_rect_distance(x, y, 0.0, 0.0, o.length, o.width, o.corner_radius)

    def area(self) -> float:
        """Plan area of the plate minus its holes, mm²."""
        o = self.outline
        plate = o.length * o.width - (4.0 - math.pi) * o.corner_radius**2
        return plate - sum(math.pi * h.radius**2 for h in self.holes)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlateSpec:
        """Build from the catalogue JSON format; ``ValueError`` on anything wrong.

        ``tolerances`` is optional (shop defaults apply); everything else is
        required. Unknown keys are ignored so the catalogue can grow.
        """
        if not isinstance(d, Mapping):
            raise ValueError("plate spec must be an object")
        outline = _mapping(d, "outline", "spec")
        holes_raw = d.get("holes")
        if holes_raw is None:
            raise ValueError("spec.holes is required (use [] for a plate without holes)")
        if not isinstance(holes_raw, list | tuple):
            raise ValueError("spec.holes must be a list")
        holes = []
        for n, raw in enumerate(holes_raw):
            if not isinstance(raw, Mapping):
                raise ValueError(f"spec.holes[{n}] must be an object")
            hole_id = raw.get("id")
            if not isinstance(hole_id, str) or not hole_id.strip():
                raise ValueError(f"spec.holes[{n}].id must be a non-empty string")
            where = f"hole {hole_id}"
            holes.append(
                Hole(
                    id=hole_id,
                    x=_number(raw, "x", where),
                    y=_number(raw, "y", where),
                    diameter=_number(raw, "diameter", where),
                )
            )
        tol_raw = d.get("tolerances", DEFAULT_TOLERANCES)
        if not isinstance(tol_raw, Mapping):
            raise ValueError("spec.tolerances must be an object")
        tol_values = {
            key: _number(tol_raw, key, "tolerances") if key in tol_raw else default
            for key, default in DEFAULT_TOLERANCES.items()
        }
        return cls(
            outline=Outline(
                length=_number(outline, "length", "outline"),
                width=_number(outline, "width", "outline"),
                corner_radius=_number(outline, "corner_radius", "outline"),
            ),
            thickness=_number(d, "thickness", "spec"),
            holes=tuple(holes),
            tolerances=Tolerances(**tol_values),
        )

    def to_dict(self) -> dict[str, Any]:
        """The catalogue JSON format; ``from_dict(to_dict())`` round-trips."""
        o, t = self.outline, self.tolerances
        return {
            "outline": {
                "length": o.length,
                "width": o.width,
                "corner_radius": o.corner_radius,
            },
            "thickness": self.thickness,
            "holes": [{"id": h.id, "x": h.x, "y": h.y, "diameter": h.diameter} for h in self.holes],
            "tolerances": {
                "outline": t.outline,
                "corner_radius": t.corner_radius,
                "hole_diameter": t.hole_diameter,
                "hole_position": t.hole_position,
            },
        }


def _mapping(d: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = d.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}.{key} is required and must be an object")
    return value


def _number(d: Mapping[str, Any], key: str, where: str) -> float:
    """A finite number from ``d[key]``; bools are rejected (JSON true is not 1 mm)."""
    if key not in d:
        raise ValueError(f"{where}.{key} is required")
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}.{key} must be finite, got {value!r}")
    return float(value)


def _validate_plate(spec: PlateSpec) -> None:
    o = spec.outline
    for name, value in (("length", o.length), ("width", o.width)):
        if not value > 0:
            raise ValueError(f"outline.{name} must be > 0, got {value}")
    if not spec.thickness > 0:
        raise ValueError(f"thickness must be > 0, got {spec.thickness}")
    if o.corner_radius < 0:
        raise ValueError(f"outline.corner_radius must be >= 0, got {o.corner_radius}")
    half = min(o.length, o.width) / 2.0
    if o.corner_radius > half:
        raise ValueError(f"outline.corner_radius {o.corner_radius} exceeds half the width ({half})")
    for name in ("outline", "corner_radius", "hole_diameter", "hole_position"):
        if not getattr(spec.tolerances, name) > 0:
            raise ValueError(f"tolerances.{name} must be > 0")
    _validate_holes(spec)


def _validate_holes(spec: PlateSpec) -> None:
    seen: set[str] = set()
    for hole in spec.holes:
        if hole.id in seen:
            raise ValueError(f"duplicate hole id {hole.id!r}")
        seen.add(hole.id)
        if not hole.diameter > 0:
            raise ValueError(f"hole {hole.id}: diameter must be > 0, got {hole.diameter}")
        if spec.edge_distance(hole.x, hole.y) > -(hole.radius + EDGE_MARGIN):
            raise ValueError(
                f"hole {hole.id} at ({hole.x}, {hole.y}) d={hole.diameter} is not inside "
                f"the outline with a {EDGE_MARGIN} mm margin"
            )
    for n, a in enumerate(spec.holes):
        for b in spec.holes[n + 1 :]:
            gap = math.hypot(a.x - b.x, a.y - b.y) - a.radius - b.radius
            if gap < HOLE_WEB:
                raise ValueError(
                    f"holes {a.id} and {b.id} overlap or leave less than a "
                    f"{HOLE_WEB} mm web (gap {gap:.3f} mm)"
                )


# --- number formatting --------------------------------------------------------


def _fmt(value: float, decimals: int = 3) -> str:
    """Shortest fixed-point text with at most ``decimals`` decimals, never ``-0``."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _feed(value: float) -> str:
    return str(round(value))


# --- milling --------------------------------------------------------------------


@dataclass(frozen=True)
class MillSetup:
    """Validated cutting parameters for one mill program."""

    tool_diameter: float
    origin: Point
    safe_z: float
    step_down: float
    feed: float
    plunge_feed: float
    spindle_rpm: float
    #: X of holding-tab centres on the long edges; empty without tabs.
    tab_xs: tuple[float, ...] = ()
    #: Z of the tool over a tab (leaves ``_TAB_HEIGHT`` of material).
    tab_z: float = 0.0

    @property
    def tool_radius(self) -> float:
        return self.tool_diameter / 2.0

    @property
    def clearance_z(self) -> float:
        return min(_MILL_CLEARANCE_Z, self.safe_z)


class _MillWriter:
    """Collects GRBL lines; keeps F modal and drops moves that go nowhere."""

    def __init__(self, setup: MillSetup) -> None:
        self.setup = setup
        self.lines: list[str] = []
        self.feed: float | None = None
        self.pos: list[float | None] = [None, None, None]

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def move(
        self,
        code: str,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        *,
        feed: float | None = None,
        centre: Point | None = None,
    ) -> None:
        """Emit a G0/G1/G2/G3. x, y and the arc centre are part-frame.

        The stock origin is added here. Arc I/J are taken between the *rounded*
        start and centre, so start and end radius agree to the printed precision
        (GRBL rejects arcs whose radii differ by more than 0.005 mm).
        """
        ox, oy = self.setup.origin
        target = [
            None if x is None else x + ox,
            None if y is None else y + oy,
            z,
        ]
        words = [code]
        for axis, value, current in zip("XYZ", target, self.pos, strict=True):
            # Compare formatted text: that is what the controller will see.
            if value is not None and (current is None or _fmt(value) != _fmt(current) or centre is not None):
                words.append(f"{axis}{_fmt(value)}")
        if centre is not None:
            x0, y0 = self.pos[0], self.pos[1]
            if x0 is None or y0 is None:
                raise AssertionError("arc without a known start point")
            i = round(centre[0] + ox, 3) - round(x0, 3)
            j = round(centre[1] + oy, 3) - round(y0, 3)
            words += [f"I{_fmt(i)}", f"J{_fmt(j)}"]
        elif len(words) == 1:
            return  # no-op move
        if code != "G0" and feed is not None and feed != self.feed:
            words.append(f"F{_feed(feed)}")
            self.feed = feed
        self.lines.append(" ".join(words))
        self.pos = [v if v is not None else c for v, c in zip(target, self.pos, strict=True)]


def mill_plate_program(
    spec: PlateSpec,
    *,
    tool_diameter: float = DEFAULT_TOOL_DIAMETER,
    stock_origin: Point = (0.0, 0.0),
    safe_z: float = 5.0,
    step_down: float = 1.0,
    feed: float = 600,
    plunge_feed: float = 150,
    spindle_rpm: float = 12000,
    tabs: bool = False,
) -> str:
    """GRBL 1.1 program that cuts ``spec`` from plate stock with a flat end mill.

    Work zero: X0 Y0 at the part's lower-left corner (shifted by
    ``stock_origin``, the work-coordinate position of that corner), Z0 on the
    stock's top surface; every cut is at Z < 0, down to ``-(thickness + 0.3)``.
    Holes first (the plate is still held by the surrounding stock), then the
    outside profile in ``step_down`` passes, climb milled. With ``tabs`` the
    final passes leave four 1 mm high tabs on the long edges so the part does
    not break loose. Raises ``ValueError`` for impossible parameters or a hole
    not wider than the tool. Returns newline-terminated text.
    """
    setup = _mill_setup(
        spec,
        tool_diameter,
        stock_origin,
        safe_z,
        step_down,
        feed,
        plunge_feed,
        spindle_rpm,
        tabs,
    )
    w = _MillWriter(setup)
    o = spec.outline
    w.raw(f"(PLATE {_fmt(o.length)}X{_fmt(o.width)}X{_fmt(spec.thickness)} T{_fmt(tool_diameter)} CLIMB)")
    w.raw("G21 G90 G17 G94")
    w.move("G0", z=safe_z)
    w.raw(f"M3 S{_feed(spindle_rpm)}")
    w.raw(f"G4 P{_fmt(_SPINDLE_DWELL_S)}")
    levels = _depth_levels(spec.thickness + BREAKTHROUGH, step_down)
    for hole in spec.holes:
        w.raw(f"(HOLE {hole.id})")
        _mill_hole(w, hole, levels)
    w.raw("(PROFILE)")
    _mill_profile(w, spec, levels)
    w.raw("M5")
    w.raw("M30")
    for line in w.lines:
        if len(line) > MILL_GCODE_MAX_LINE:  # pragma: no cover - guards a format bug
            raise AssertionError(f"line too long for the mill: {line!r}")
    return "\n".join(w.lines) + "\n"


def _mill_setup(
    spec: PlateSpec,
    tool_diameter: float,
    stock_origin: Point,
    safe_z: float,
    step_down: float,
    feed: float,
    plunge_feed: float,
    spindle_rpm: float,
    tabs: bool,
) -> MillSetup:
    positives = {
        "tool_diameter": tool_diameter,
        "safe_z": safe_z,
        "step_down": step_down,
        "feed": feed,
        "plunge_feed": plunge_feed,
        "spindle_rpm": spindle_rpm,
    }
    for name, value in positives.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    for hole in spec.holes:
        if hole.diameter <= tool_diameter:
            raise ValueError(
                f"hole {hole.id} (d={hole.diameter}) must be wider than the "
                f"{tool_diameter} mm tool; drill it or pick a smaller end mill"
            )
    return MillSetup(
        tool_diameter=float(tool_diameter),
        origin=(float(stock_origin[0]), float(stock_origin[1])),
        safe_z=float(safe_z),
        step_down=float(step_down),
        feed=float(feed),
        plunge_feed=float(plunge_feed),
        spindle_rpm=float(spindle_rpm),
        tab_xs=_tab_centres(spec, tool_diameter) if tabs else (),
        tab_z=-(spec.thickness - _TAB_HEIGHT),
    )


def _depth_levels(depth: float, step_down: float) -> tuple[float, ...]:
    """Equal passes, none deeper than ``step_down``, ending exactly at ``-depth``."""
    passes = max(1, math.ceil(depth / step_down - 1e-9))
    return tuple(-depth * k / passes for k in range(1, passes + 1))


def _hole_rings(path_radius: float, tool_diameter: float) -> tuple[float, ...]:
    """Tool-centre radii used to clear a hole, innermost first, last = finish radius.

    Up to two tool diameters the single finishing circle leaves no core; wider
    holes get a small entry helix and concentric rings no further apart than
    ``_RING_STEPOVER`` tool diameters, so no slug breaks loose.
    """
    if path_radius <= tool_diameter / 2.0:
        return (path_radius,)
    entry = _POCKET_ENTRY * tool_diameter
    rings = math.ceil((path_radius - entry) / (_RING_STEPOVER * tool_diameter))
    return tuple(entry + (path_radius - entry) * k / rings for k in range(rings + 1))


def _arc_feed(setup: MillSetup, ring: float) -> float:
    """Feed for the tool centre on an inside arc of radius ``ring``.

    On an inside arc the cutting edge travels faster than the tool centre by
    (ring + tool radius) / ring; slowing the centre keeps the chip load the
    programmed feed would give on a straight cut.
    """
    scaled = setup.feed * ring / (ring + setup.tool_radius)
    return round(max(setup.plunge_feed, scaled))


def _full_circle(w: _MillWriter, cx: float, cy: float, ring: float, z0: float, z1: float):
    """Counter-clockwise circle (climb, inside) from (cx + ring, cy), Z ramping z0 -> z1.

    Two half circles rather than one full-circle word: unambiguous on every
    controller and each arc has a well-conditioned centre.
    """
    feed = _arc_feed(w.setup, ring)
    w.move("G3", cx - ring, cy, (z0 + z1) / 2.0, centre=(cx, cy), feed=feed)
    w.move("G3", cx + ring, cy, z1, centre=(cx, cy), feed=feed)


def _mill_hole(w: _MillWriter, hole: Hole, levels: Sequence[float]) -> None:
    """Helix down one ``step_down`` per turn, clean the floor, step out to the wall."""
    setup = w.setup
    rings = _hole_rings(hole.radius - setup.tool_radius, setup.tool_diameter)
    cx, cy = hole.x, hole.y
    w.move("G0", z=setup.safe_z)
    w.move("G0", cx + rings[0], cy)
    w.move("G0", z=setup.clearance_z)
    w.move("G1", z=0.0, feed=setup.plunge_feed)
    z_prev = 0.0
    for n, z in enumerate(levels):
        w.move("G1", cx + rings[0], cy, feed=setup.feed)
        _full_circle(w, cx, cy, rings[0], z_prev, z)
        if n == len(levels) - 1:
            _full_circle(w, cx, cy, rings[0], z, z)  # flat floor through the bottom
        for ring in rings[1:]:
            w.move("G1", cx + ring, cy, feed=_arc_feed(setup, ring))
            _full_circle(w, cx, cy, ring, z, z)
        z_prev = z
    w.move("G1", cx, cy, feed=setup.feed)  # leave the wall before retracting: no drag mark
    w.move("G0", z=setup.safe_z)


def _tab_centres(spec: PlateSpec, tool_diameter: float) -> tuple[float, ...]:
    """X of tab centres at 1/4 and 3/4 of the long (bottom and top) edges."""
    if spec.thickness <= _TAB_HEIGHT:
        raise ValueError(f"tabs need a plate thicker than {_TAB_HEIGHT} mm")
    o = spec.outline
    half = (_TAB_WIDTH + tool_diameter) / 2.0
    xs = (o.length / 4.0, 3.0 * o.length / 4.0)
    # Tabs must sit on the straight part and clear the pass start at L/2.
    if xs[0] - half < o.corner_radius or xs[0] + half > o.length / 2.0:
        raise ValueError("plate too short for holding tabs")
    return xs


def _profile_line(w: _MillWriter, x_from: float, x_to: float, y: float, z: float) -> None:
    """Straight horizontal cut, hopping up to tab height over any tab on the way."""
    setup = w.setup
    z_tab = setup.tab_z
    half = (_TAB_WIDTH + setup.tool_diameter) / 2.0
    lo, hi = min(x_from, x_to), max(x_from, x_to)
    crossing = sorted((c for c in setup.tab_xs if lo < c - half and c + half < hi), reverse=x_to < x_from)
    for c in crossing if z < z_tab else ():
        near, far = (c - half, c + half) if x_to > x_from else (c + half, c - half)
        w.move("G1", near, y, feed=setup.feed)
        w.move("G1", z=z_tab, feed=setup.plunge_feed)
        w.move("G1", far, y, feed=setup.feed)
        w.move("G1", z=z, feed=setup.plunge_feed)
    w.move("G1", x_to, y, feed=setup.feed)


def _mill_profile(w: _MillWriter, spec: PlateSpec, levels: Sequence[float]) -> None:
    """Outside profile, clockwise (climb with M3), tool centre offset by its radius.

    The offset of a rounded rectangle by the tool radius is again a rounded
    rectangle, with corner radius r + tool radius around the same corner
    centres, so lines plus G2 quarter circles are exact (also for r = 0).
    """
    setup = w.setup
    o = spec.outline
    L, W, r, t = o.length, o.width, o.corner_radius, setup.tool_radius
    w.move("G0", z=setup.safe_z)
    w.move("G0", L / 2.0, -t)
    w.move("G0", z=setup.clearance_z)
    for z in levels:
        w.move("G1", z=z, feed=setup.plunge_feed)
        _profile_line(w, L / 2.0, r, -t, z)
        w.move("G2", -t, r, centre=(r, r), feed=setup.feed)
        w.move("G1", -t, W - r, feed=setup.feed)
        w.move("G2", r, W + t, centre=(r, W - r), feed=setup.feed)
        _profile_line(w, r, L - r, W + t, z)
        w.move("G2", L + t, W - r, centre=(L - r, W - r), feed=setup.feed)
        w.move("G1", L + t, r, feed=setup.feed)
        w.move("G2", L - r, -t, centre=(L - r, r), feed=setup.feed)
        _profile_line(w, L - r, L / 2.0, -t, z)
    w.move("G0", z=setup.safe_z)


# --- printing: geometry -----------------------------------------------------------


@dataclass(frozen=True)
class RoundedRect:
    """Axis-aligned rounded rectangle in bed coordinates (convex)."""

    x0: float
    y0: float
    x1: float
    y1: float
    r: float

    def inset(self, d: float) -> RoundedRect:
        """Exact inward offset: corners shrink to sharp once d >= r."""
        return RoundedRect(self.x0 + d, self.y0 + d, self.x1 - d, self.y1 - d, max(self.r - d, 0.0))


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float


def _arc_points(
    cx: float, cy: float, r: float, a0: float, a1: float, *, tol: float = _CHORD_TOLERANCE
) -> list[Point]:
    """Points on an arc from angle a0 to a1 (radians, either direction), ends included.

    Segment count is the smallest whose sagitta r(1 - cos(θ/2)) stays <= tol.
    """
    sweep = abs(a1 - a0)
    if r <= 0 or sweep == 0:
        return [(cx + r * math.cos(a0), cy + r * math.sin(a0))]
    max_step = 2.0 * math.acos(1.0 - tol / r) if r > tol else math.pi
    n = max(1, math.ceil(sweep / max_step - 1e-9))
    return [
        (cx + r * math.cos(a0 + (a1 - a0) * k / n), cy + r * math.sin(a0 + (a1 - a0) * k / n))
        for k in range(n + 1)
    ]


def _dedupe(points: Iterable[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        if not out or math.hypot(p[0] - out[-1][0], p[1] - out[-1][1]) > 1e-9:
            out.append(p)
    return out


def rounded_rect_loop(rect: RoundedRect) -> list[Point]:
    """Closed counter-clockwise polyline (first point repeated last).

    Starts mid bottom edge so every layer's seam lines up in one place.
    """
    x0, y0, x1, y1, r = rect.x0, rect.y0, rect.x1, rect.y1, rect.r
    half_pi = math.pi / 2.0
    start = ((x0 + x1) / 2.0, y0)
    points = [start]
    corners = (
        (x1 - r, y0 + r, -half_pi),
        (x1 - r, y1 - r, 0.0),
        (x0 + r, y1 - r, half_pi),
        (x0 + r, y0 + r, math.pi),
    )
    for cx, cy, a in corners:
        points += _arc_points(cx, cy, r, a, a + half_pi)
    points.append(start)
    return _dedupe(points)


def circle_loop(circle: Circle) -> list[Point]:
    """Closed counter-clockwise polyline on the circle, starting at its bottom."""
    a0 = -math.pi / 2.0
    return _dedupe(_arc_points(circle.cx, circle.cy, circle.r, a0, a0 + 2.0 * math.pi))


def _slab(o: float, u: float, lo: float, hi: float) -> tuple[float, float] | None:
    """Parameter interval where o + t·u lies in [lo, hi] (one axis of a box)."""
    if abs(u) < 1e-12:
        return (-math.inf, math.inf) if lo <= o <= hi else None
    ta, tb = (lo - o) / u, (hi - o) / u
    return (min(ta, tb), max(ta, tb))


def _line_box(o: Point, u: Point, box: tuple[float, float, float, float]):
    sx = _slab(o[0], u[0], box[0], box[2])
    sy = _slab(o[1], u[1], box[1], box[3])
    if sx is None or sy is None:
        return None
    t0, t1 = max(sx[0], sy[0]), min(sx[1], sy[1])
    return (t0, t1) if t0 <= t1 else None


def _line_circle(o: Point, u: Point, c: Circle) -> tuple[float, float] | None:
    """Parameter interval of the unit-direction line o + t·u inside circle c."""
    dx, dy = c.cx - o[0], c.cy - o[1]
    t_mid = dx * u[0] + dy * u[1]
    perp2 = dx * dx + dy * dy - t_mid * t_mid
    if perp2 >= c.r * c.r:
        return None
    half = math.sqrt(c.r * c.r - perp2)
    return (t_mid - half, t_mid + half)


def _line_rounded_rect(o: Point, u: Point, rect: RoundedRect) -> tuple[float, float] | None:
    """Parameter interval of the line inside the rounded rectangle.

    The shape is the union of a horizontal bar, a vertical bar and four corner
    disks. It is convex, so the line's chord through it is one interval: the
    hull of the chords through the pieces.
    """
    x0, y0, x1, y1, r = rect.x0, rect.y0, rect.x1, rect.y1, rect.r
    pieces = [
        _line_box(o, u, (x0, y0 + r, x1, y1 - r)),
        _line_box(o, u, (x0 + r, y0, x1 - r, y1)),
    ]
    if r > 0:
        for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x1 - r, y1 - r), (x0 + r, y1 - r)):
            pieces.append(_line_circle(o, u, Circle(cx, cy, r)))
    hits = [p for p in pieces if p is not None]
    if not hits:
        return None
    return (min(p[0] for p in hits), max(p[1] for p in hits))


def _subtract(intervals: list[tuple[float, float]], cut: tuple[float, float]) -> list[tuple[float, float]]:
    out = []
    for a, b in intervals:
        if cut[1] <= a or cut[0] >= b:
            out.append((a, b))
            continue
        if cut[0] > a:
            out.append((a, cut[0]))
        if cut[1] < b:
            out.append((cut[1], b))
    return out


def scanline_infill(
    boundary: RoundedRect,
    holes: Sequence[Circle],
    angle_deg: float,
    spacing: float,
    min_length: float,
) -> list[tuple[Point, Point]]:
    """Parallel infill lines inside ``boundary`` and outside every hole circle.

    Lines run at ``angle_deg`` on a global grid (offset k·spacing from the bed
    origin) so sparse layers of equal angle stack on each other. Pieces shorter
    than ``min_length`` are dropped (they would only make blobs). The order is
    a zig-zag that finishes one region (e.g. beside a hole) before jumping to
    the next, see :func:`_order_scanlines`.
    """
    a = math.radians(angle_deg)
    u = (math.cos(a), math.sin(a))
    n = (-u[1], u[0])
    corners = [(x, y) for x in (boundary.x0, boundary.x1) for y in (boundary.y0, boundary.y1)]
    proj = [x * n[0] + y * n[1] for x, y in corners]
    k_lo = math.ceil(min(proj) / spacing)
    k_hi = math.floor(max(proj) / spacing)
    scanlines: list[list[tuple[Point, Point]]] = []
    for k in range(k_lo, k_hi + 1):
        o = (k * spacing * n[0], k * spacing * n[1])
        chord = _line_rounded_rect(o, u, boundary)
        if chord is None:
            continue
        pieces = [chord]
        for hole in holes:
            cut = _line_circle(o, u, hole)
            if cut is not None:
                pieces = _subtract(pieces, cut)
        pieces = [p for p in pieces if p[1] - p[0] >= min_length]
        if not pieces:
            continue
        scanlines.append(
            [
                ((o[0] + t0 * u[0], o[1] + t0 * u[1]), (o[0] + t1 * u[0], o[1] + t1 * u[1]))
                for t0, t1 in pieces
            ]
        )
    return _order_scanlines(scanlines)


def _order_scanlines(scanlines: list[list[tuple[Point, Point]]]) -> list[tuple[Point, Point]]:
    """Greedy nearest-next ordering, looking only at neighbouring scanlines.

    Plain zig-zag crosses every hole on every line (a retraction each time).
    Choosing the nearest unprinted piece on the same or an adjacent scanline,
    entered from its nearer end, runs down one side of a hole, then the other.
    Only when no neighbour is left does it search everything. Ties resolve by
    scanline then piece index, so the result is deterministic. O(pieces · k).
    """
    left = [list(range(len(line))) for line in scanlines]
    remaining = sum(len(line) for line in scanlines)
    out: list[tuple[Point, Point]] = []
    pos: Point | None = None
    row = 0
    while remaining:
        rows = [r for r in (row, row + 1, row - 1) if 0 <= r < len(scanlines) and left[r]]
        if pos is None or not rows:
            rows = [r for r in range(len(scanlines)) if left[r]]
        best = None
        for r in rows:
            for i in left[r]:
                a, b = scanlines[r][i]
                for dist, seg in ((_dist(pos, a), (a, b)), (_dist(pos, b), (b, a))):
                    if best is None or dist < best[0]:
                        best = (dist, r, i, seg)
        assert best is not None
        _, row, i, seg = best
        left[row].remove(i)
        remaining -= 1
        out.append(seg)
        pos = seg[1]
    return out


def _dist(p: Point | None, q: Point) -> float:
    return 0.0 if p is None else math.hypot(q[0] - p[0], q[1] - p[1])


def bead_area(width: float, height: float) -> float:
    """Cross-section of an extruded line: rectangle with semicircular ends, mm²."""
    return (width - height) * height + math.pi * (height / 2.0) ** 2


def _solid_spacing(width: float, height: float) -> float:
    """Line pitch at which beads of ``bead_area`` exactly fill the layer.

    bead_area = h·(w - h(1 - π/4)), so this pitch puts h mm³ per mm² down.
    """
    return width - height * (1.0 - math.pi / 4.0)


# --- printing: program --------------------------------------------------------------


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


def layer_tops(thickness: float, first_layer_height: float, layer_height: float) -> list[float]:
    """Top Z of every layer: ceil((T - first)/h) + 1 layers, the last clipped to T.

    Clipping keeps the printed part at its drawn thickness instead of rounding
    it up to whole layers; the last layer is simply thinner.
    """
    extra = max(0, math.ceil((thickness - first_layer_height) / layer_height - 1e-9))
    return [min(first_layer_height + k * layer_height, thickness) for k in range(extra + 1)]


def print_fits(
    spec: PlateSpec,
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
        and spec.thickness + _END_LIFT <= bed_size[2]
    )


def mill_fits(spec: PlateSpec, *, tool_diameter: float = DEFAULT_TOOL_DIAMETER) -> bool:
    """True if the profile toolpath (part + tool) fits ``MILL_ENVELOPE``."""
    o = spec.outline
    return (
        o.length + tool_diameter <= MILL_ENVELOPE[0]
        and o.width + tool_diameter <= MILL_ENVELOPE[1]
        and spec.thickness + BREAKTHROUGH < MILL_ENVELOPE[2]
    )


def machine_types_for(spec: PlateSpec) -> tuple[str, ...]:
    """Machine types of the shop that can make ``spec`` with default settings."""
    types = []
    if mill_fits(spec) and all(h.diameter > DEFAULT_TOOL_DIAMETER for h in spec.holes):
        types.append("cnc_mill")
    if print_fits(spec):
        types.append("fdm_printer")
    return tuple(types)


def _check_printable(spec: PlateSpec, perimeters: int, w: float) -> None:
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
        return f" F{_feed(feed)}"

    def z(self, z: float) -> None:
        self.lines.append(f"G0 Z{_fmt(z)}{self._f(_Z_FEED)}")

    def travel(self, x: float, y: float) -> None:
        """Non-printing move; retracts first if it is long enough to string."""
        if self.x is not None and self.x == x and self.y == y:
            return
        # The very first move has nothing to string from: E is still at rest.
        far = self.x is not None and math.hypot(x - self.x, y - self.y) > _RETRACT_MIN_TRAVEL
        if far and not self.retracted and self.setup.retract_mm > 0:
            self.e -= self.setup.retract_mm
            self.lines.append(f"G1 E{_fmt(self.e, 5)}{self._f(_RETRACT_FEED)}")
            self.retracted = True
        self.lines.append(f"G0 X{_fmt(x)} Y{_fmt(y)}{self._f(self.setup.travel_feed)}")
        self.x, self.y = x, y

    def extrude(self, x: float, y: float, area: float, feed: float) -> None:
        """Printing move; E grows by length · bead area / filament area."""
        if self.retracted:
            self.e += self.setup.retract_mm
            self.lines.append(f"G1 E{_fmt(self.e, 5)}{self._f(_RETRACT_FEED)}")
            self.retracted = False
        length = math.hypot(x - self.x, y - self.y)
        self.e += length * area / self.setup.filament_area
        self.lines.append(f"G1 X{_fmt(x)} Y{_fmt(y)} E{_fmt(self.e, 5)}{self._f(feed)}")
        self.x, self.y = x, y

    def path(self, points: Sequence[Point], area: float, feed: float) -> None:
        self.travel(*points[0])
        for x, y in points[1:]:
            self.extrude(x, y, area, feed)


def print_plate_program(
    spec: PlateSpec,
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
    for line in w.lines:
        if len(line) > PRINT_GCODE_MAX_LINE:  # pragma: no cover - guards a format bug
            raise AssertionError(f"line too long for the printer: {line!r}")
    return "\n".join(w.lines) + "\n"


def _print_setup(spec: PlateSpec, **p: Any) -> PrintSetup:
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
    for name in ("layer_height", "first_layer_height"):
        # A layer thicker than ~80 % of the nozzle cannot be squashed onto the last.
        if p[name] > 0.8 * p["nozzle"] or p[name] > p["line_width"]:
            raise ValueError(f"{name} {p[name]} too thick for the nozzle / line width")
    if p["first_layer_height"] > spec.thickness:
        raise ValueError("first_layer_height exceeds the plate thickness")
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


def _start_code(w: _PrintWriter, spec: PlateSpec) -> None:
    """Heat bed and hotend together, home, wait, then a prime line at the bed front."""
    s = w.setup
    w.raw(f";plate {_fmt(spec.length)}x{_fmt(spec.width)}x{_fmt(spec.thickness)}")
    w.raw(f"M140 S{_feed(s.bed_temp)}")
    w.raw(f"M104 S{_feed(s.hotend_temp)}")
    w.raw("G28")
    w.raw(f"M190 S{_feed(s.bed_temp)}")
    w.raw(f"M109 S{_feed(s.hotend_temp)}")
    w.raw("G21")
    w.raw("G90")
    w.raw("M82")
    w.raw("G92 E0")
    w.z(s.first_layer_height)
    w.travel(*_PRIME_START)
    prime_area = bead_area(2.0 * s.line_width, s.first_layer_height)
    w.extrude(*_PRIME_END, prime_area, s.print_feed * _FIRST_LAYER_SPEED)


def _print_layer(w: _PrintWriter, spec: PlateSpec, n: int, count: int, z: float, h: float):
    """One layer at top height z and thickness h: perimeters, then infill."""
    s = w.setup
    lw = s.line_width
    area = bead_area(lw, h)
    feed = s.print_feed * (_FIRST_LAYER_SPEED if n == 0 else 1.0)
    w.raw(f";LAYER:{n}")
    if n == 1:
        w.raw("M106 S255")
    w.z(z)
    ox, oy = s.offset
    part = RoundedRect(ox, oy, ox + spec.length, oy + spec.width, spec.outline.corner_radius)
    for k in reversed(range(s.perimeters)):
        w.path(rounded_rect_loop(part.inset(lw / 2.0 + k * lw)), area, feed)
    for hole in spec.holes:
        for k in reversed(range(s.perimeters)):
            circle = Circle(hole.x + ox, hole.y + oy, hole.radius + lw / 2.0 + k * lw)
            w.path(circle_loop(circle), area, feed)
    # Infill centrelines stop so that the bead's round end (w/2 long) overlaps
    # the innermost perimeter by _INFILL_OVERLAP·w: enough to bond, no blob.
    clip = s.perimeters * lw + (0.5 - _INFILL_OVERLAP) * lw
    boundary = part.inset(clip)
    holes = [Circle(hh.x + ox, hh.y + oy, hh.radius + clip) for hh in spec.holes]
    # Sparse pitch uses the nominal layer height so sparse lines stack on a fixed grid.
    solid = n < _SOLID_LAYERS or n >= count - _SOLID_LAYERS
    density = 1.0 if solid else _SPARSE_DENSITY
    spacing = _solid_spacing(lw, h if solid else s.layer_height) / density
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
        w.raw(f"G1 E{_fmt(w.e, 5)} F{_RETRACT_FEED}")
    w.raw("M104 S0")
    w.raw("M140 S0")
    w.raw("M107")
    w.raw(f"G1 Z{_fmt(min(top + _END_LIFT, s.bed_size[2]))} F{_Z_FEED}")
    # Marlin homes the axes named in G28 and ignores their values; "X0" rather
    # than a bare "X" keeps the line parseable by strict G-code tools.
    w.raw("G28 X0")
    w.raw("M84")


# --- the demo shop's catalogue ----------------------------------------------------------


@dataclass(frozen=True)
class DemoDesign:
    """A catalogue part the demo shop is seeded with.

    ``machine_types`` records which machine types can make it (checked against
    :func:`machine_types_for` by the tests). ``spec`` is a fresh catalogue
    dict on every access, so nobody can mutate the shared design by accident.
    """

    part_number: str
    name: str
    kind: str  # "bracket" | "strip"
    revision: str
    material_hint: str
    plate: PlateSpec
    machine_types: tuple[str, ...]

    @property
    def spec(self) -> dict[str, Any]:
        return self.plate.to_dict()


def _row(prefix: str, xs: Sequence[float], y: float, d: float, first: int = 1) -> list[Hole]:
    return [Hole(f"{prefix}{first + n}", float(x), float(y), d) for n, x in enumerate(xs)]


def _plate(length: float, width: float, thickness: float, r: float, holes: list[Hole]):
    return PlateSpec(Outline(float(length), float(width), float(r)), float(thickness), tuple(holes))


_BOTH = ("cnc_mill", "fdm_printer")

DEMO_DESIGNS: tuple[DemoDesign, ...] = (
    DemoDesign(
        "BRK-080",
        "Flat bracket 80 mm, 3 holes",
        "bracket",
        "A",
        "aluminium 6061-T6 (or PLA/PETG for fit checks)",
        _plate(80, 30, 4, 3, _row("H", (10, 40, 70), 15, 6.5)),
        _BOTH,
    ),
    DemoDesign(
        "BRK-120",
        "L-mounting plate 120 mm, 4 holes",
        "bracket",
        "A",
        "aluminium 6061-T6",
        _plate(120, 40, 5, 4, _row("H", (12, 108), 10, 8.5) + _row("H", (12, 108), 30, 8.5, 3)),
        _BOTH,
    ),
    DemoDesign(
        "BRK-050",
        "Gusset plate 50 mm, 4 holes",
        "bracket",
        "A",
        "aluminium 6061-T6",
        _plate(50, 50, 6, 5, _row("H", (10, 40), 10, 6.6) + _row("H", (10, 40), 40, 6.6, 3)),
        _BOTH,
    ),
    DemoDesign(
        "STR-200",
        "Reinforcement strip 200 mm, 6 holes",
        "strip",
        "A",
        "aluminium 5052 (or PETG)",
        _plate(200, 20, 3, 2, _row("H", (10, 46, 82, 118, 154, 190), 10, 5.5)),
        _BOTH,
    ),
    DemoDesign(
        # Family number kept; the blank is 290 long so the toolpath fits the
        # 300 mm mill travel (290 + tool). Too long for any printer bed.
        "STR-300",
        "Reinforcement strip 290 mm, 8 holes",
        "strip",
        "A",
        "aluminium 6061-T6",
        _plate(290, 25, 4, 3, _row("H", tuple(12 + 38 * k for k in range(8)), 12.5, 6.5)),
        ("cnc_mill",),
    ),
)
