"""GRBL 1.1 end-mill programs for the shop's plates: :func:`mill_plate_program`.

Holes are cut first (helical interpolation, or a helical entry plus concentric rings when the hole is
wider than two tool diameters), then the outside profile with the tool-radius offset computed here (no
G41/G42: GRBL has no cutter compensation). All cutting is **climb milling** with an M3 (clockwise)
spindle: the profile runs clockwise (G2 corners) and holes run counter-clockwise (G3).

Coordinates of the drawing are millimetres from the part's lower-left corner. Deterministic: the same
input gives a byte-identical program. Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from drawing import Drawing, Hole
from machines.cam.shop import BREAKTHROUGH, DEFAULT_TOOL_DIAMETER
from machines.cam.toolpath import Point, check_line_lengths, fmt_feed, fmt_number

MILL_GCODE_MAX_LINE = 70

_MILL_CLEARANCE_Z = 1.0  # rapid down to here, then feed: stock may not be flat
_TAB_HEIGHT = 1.0  # material left under a holding tab, mm
_TAB_WIDTH = 3.0  # length of material left in a tab, mm (tool width added)
_RING_STEPOVER = 0.4  # pocket ring spacing as a fraction of tool diameter
_POCKET_ENTRY = 0.4  # helix radius for pocket entry, fraction of tool diameter
_SPINDLE_DWELL_S = 2.0  # let the spindle reach speed before the first cut


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
            if value is not None and (
                current is None or fmt_number(value) != fmt_number(current) or centre is not None
            ):
                words.append(f"{axis}{fmt_number(value)}")
        if centre is not None:
            x0, y0 = self.pos[0], self.pos[1]
            if x0 is None or y0 is None:
                raise AssertionError("arc without a known start point")
            i = round(centre[0] + ox, 3) - round(x0, 3)
            j = round(centre[1] + oy, 3) - round(y0, 3)
            words += [f"I{fmt_number(i)}", f"J{fmt_number(j)}"]
        elif len(words) == 1:
            return  # no-op move
        if code != "G0" and feed is not None and feed != self.feed:
            words.append(f"F{fmt_feed(feed)}")
            self.feed = feed
        self.lines.append(" ".join(words))
        self.pos = [v if v is not None else c for v, c in zip(target, self.pos, strict=True)]


def mill_plate_program(
    spec: Drawing,
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
    size = f"{fmt_number(o.length)}X{fmt_number(o.width)}X{fmt_number(spec.thickness)}"
    w.raw(f"(PLATE {size} T{fmt_number(tool_diameter)} CLIMB)")
    w.raw("G21 G90 G17 G94")
    w.move("G0", z=safe_z)
    w.raw(f"M3 S{fmt_feed(spindle_rpm)}")
    w.raw(f"G4 P{fmt_number(_SPINDLE_DWELL_S)}")
    levels = _depth_levels(spec.thickness + BREAKTHROUGH, step_down)
    for hole in spec.holes:
        w.raw(f"(HOLE {hole.id})")
        _mill_hole(w, hole, levels)
    w.raw("(PROFILE)")
    _mill_profile(w, spec, levels)
    w.raw("M5")
    w.raw("M30")
    check_line_lengths(w.lines, MILL_GCODE_MAX_LINE, "mill")
    return "\n".join(w.lines) + "\n"


def _mill_setup(
    spec: Drawing,
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


def _tab_centres(spec: Drawing, tool_diameter: float) -> tuple[float, ...]:
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


def _mill_profile(w: _MillWriter, spec: Drawing, levels: Sequence[float]) -> None:
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
