"""The 2-D slicer behind the print programs: outlines as polylines and rectilinear infill.

Written for exactly the shop's shape: a rounded rectangle (convex) with round holes. Perimeters are
exact offsets of those shapes flattened to polylines; infill lines are clipped by scanline intersection
against the inset outline and the enlarged hole circles. Bed coordinates, mm. Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from machines.cam.toolpath import Point

_CHORD_TOLERANCE = 0.05  # max sagitta when flattening arcs for the printer


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


def solid_spacing(width: float, height: float) -> float:
    """Line pitch at which beads of ``bead_area`` exactly fill the layer.

    bead_area = h·(w - h(1 - π/4)), so this pitch puts h mm³ per mm² down.
    """
    return width - height * (1.0 - math.pi / 4.0)


def layer_tops(thickness: float, first_layer_height: float, layer_height: float) -> list[float]:
    """Top Z of every layer: ceil((T - first)/h) + 1 layers, the last clipped to T.

    Clipping keeps the printed part at its drawn thickness instead of rounding
    it up to whole layers; the last layer is simply thinner.
    """
    extra = max(0, math.ceil((thickness - first_layer_height) / layer_height - 1e-9))
    return [min(first_layer_height + k * layer_height, thickness) for k in range(extra + 1)]
