"""Sub-pixel measurement of the outline and holes in a rectified (metric) image.

Input is a rectified region of interest in which one pixel is ``mm_per_px`` on the
part's top face.  Rough geometry comes from a threshold (only to choose pixels); every
number reported comes from :mod:`.subpixel` model fits:

* the four straight edges, fitted only along their straight portion (corner arcs and
  holes excluded), give length and width as distances between opposite lines measured
  through the part centre, and the part frame (centre + long axis);
* each hole and each corner arc is a circle fit; the radius is corrected for the
  curvature shift of a blurred disk's 50 % contour (``s^2 / 2R`` towards the centre).

The part frame here is *provisional*: origin at the lower-left corner with x along e1 and
y along e2 = e1 rotated -90 degrees in the image (i.e. "up" for a part seen top-face-up).
Registration later picks which of the four symmetric frames is the drawing's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import MeasurementError
from .subpixel import EdgeFit, circle_distance, fit_edge_model, line_distance, scan_wall_contrast

BAND_PX = 5.0  # pixels this far into the material take part in every edge fit
OUTER_PX = 4.0  # ... and this far out of it
# Edges whose visible wall is at least this wide (median px along a straight edge, 90th percentile
# round a hole, whose bore shows on one side only) fit the wall's grey level; the part's walls share
# one finish and one light, so the pooled value then serves every edge, corner and hole.  Narrower
# walls barely constrain it (their contrast trades against the fitted blur), but leaving a 1-3 px
# dark wall at the stage's level shifts an edge by ~0.05 px into the material.
WIDE_WALL_PX = 1.0
# Straight edges of long strips cover tens of thousands of pixels; fitting more than this many costs
# time (0.5 s a strip) for no accuracy: their position is then limited by pixel phase, not noise.
MAX_LINE_PX = 8000
# A through hole shows the stage (or its own darker bore) inside: its floor is at least this fraction of
# the part/stage contrast below the top face.  A void or pit is a cavity with a floor of material, lit
# like the top face, so it is dimmer but clearly brighter than the stage; it is left to defect detection.
THROUGH_MIN_CONTRAST = 0.8


@dataclass(frozen=True)
class Parallax:
    """Where side walls show: the camera nadir (ROI px) and thickness / camera height.

    In the top-face image the bottom outline appears shrunk towards the nadir by
    ``ratio``; the wall strip between the two is what the edge model must allow for.
    """

    nadir_px: tuple[float, float]
    ratio: float

    def wall_px(self, xs: np.ndarray, ys: np.ndarray, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
        """Visible wall width (px) at pixels (xs, ys) with off-material normal (nx, ny)."""
        toward = (self.nadir_px[0] - xs) * nx + (self.nadir_px[1] - ys) * ny
        return np.maximum(toward, 0.0) * self.ratio

    def bore_wall_px(self, xs: np.ndarray, ys: np.ndarray, centre, radius: float) -> np.ndarray:
        """Visible width (px) of a round through hole's bore at pixels (xs, ys), measured inwards
        from the top edge (centre, radius px).

        The stage shows only through the bottom opening, the top circle shrunk by ``ratio`` towards
        the nadir: the bore is what lies between the two circles, so its width at a pixel is the
        difference of the pixel's distances to them (exact, where :meth:`wall_px`'s first-order
        form misses ``(ratio D)^2 / 2r`` on the hole's flanks: px for a small hole far off axis).
        """
        cx, cy = centre
        bx = cx + self.ratio * (self.nadir_px[0] - cx)
        by = cy + self.ratio * (self.nadir_px[1] - cy)
        w = np.hypot(xs - bx, ys - by) - np.hypot(xs - cx, ys - cy) + self.ratio * radius
        return np.maximum(w, 0.0)


@dataclass(frozen=True)
class LineEdge:
    """Edge line ``normal . p = rho`` in ROI px, ``normal`` pointing out of the part."""

    normal: tuple[float, float]
    rho: float
    blur_px: float
    rms: float
    n_px: int
    wall_contrast: float | None = None  # fitted wall-minus-stage grey level, if wide
    wall_px: float = 0.0  # median visible wall width along the edge
    wall_weight: float = 0.0  # sum of squared wall widths over the pixels fitted (see pooled_wall_contrast)


@dataclass(frozen=True)
class CircleEdge:
    """Circle in ROI px; ``radius`` already corrected for blur curvature shift."""

    centre: tuple[float, float]
    radius: float
    blur_px: float
    rms: float
    n_px: int
    contrast: float
    wall_contrast: float | None = None  # fitted wall-minus-stage grey level, if fitted (wide walls)
    wall_px: float = 0.0  # 90th percentile of the visible wall width round the arc
    wall_weight: float = 0.0  # as LineEdge.wall_weight


@dataclass(frozen=True)
class HoleMeasurement:
    """A measured hole: centre in the provisional part frame (mm), diameter (mm)."""

    x: float
    y: float
    diameter: float
    edge: CircleEdge


@dataclass(frozen=True, eq=False)
class PartMeasurement:
    """All sub-pixel measurements of one part (see module docstring for frames).

    centre_px/e1/e2 define the provisional frame in ROI pixels; edges are ordered
    (bottom y=0, right x=L, top y=W, left x=0); corner_radii_mm in the order
    (x0y0, xLy0, xLyW, x0yW), None where not measurable (sharp corners).
    levels = (material, background) grey levels; blur_px = median fitted edge blur.
    """

    length_mm: float
    width_mm: float
    corner_radii_mm: tuple[float | None, ...]
    holes: tuple[HoleMeasurement, ...]
    centre_px: tuple[float, float]
    e1: tuple[float, float]
    e2: tuple[float, float]
    mm_per_px: float
    edges: tuple[LineEdge, ...]
    corners: tuple[CircleEdge | None, ...]
    blur_px: float
    levels: tuple[float, float]
    mask: np.ndarray
    #: Where the side walls show (None: ignored) and their grey level above the stage's (pooled).
    parallax: Parallax | None = None
    wall_contrast: float = 0.0

    def to_part_mm(self, pts_px: np.ndarray) -> np.ndarray:
        """ROI pixel coordinates (N, 2) -> provisional part frame (N, 2) mm."""
        rel = np.asarray(pts_px, float).reshape(-1, 2) - self.centre_px
        x = rel @ np.asarray(self.e1) * self.mm_per_px + self.length_mm / 2
        y = rel @ np.asarray(self.e2) * self.mm_per_px + self.width_mm / 2
        return np.column_stack([x, y])

    def to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        """Provisional part frame (N, 2) mm -> ROI pixel coordinates (N, 2)."""
        p = np.asarray(pts_mm, float).reshape(-1, 2)
        u = (p[:, 0] - self.length_mm / 2) / self.mm_per_px
        v = (p[:, 1] - self.width_mm / 2) / self.mm_per_px
        return np.asarray(self.centre_px) + np.outer(u, self.e1) + np.outer(v, self.e2)


def _band_pixels(shape, p0, tangent, normal, half_len, half_width):
    """Integer pixels (x, y) within the rotated rectangle around p0 (no duplicates, in raster
    order): the pixels hit by a half-pixel grid over the rectangle widened by a pixel."""
    h, w = shape
    ts = np.arange(-half_len, half_len + 0.5, 0.5)
    ds = np.arange(-half_width - 1, half_width + 1.5, 0.5)
    T, D = np.meshgrid(ts, ds)
    x = np.rint(p0[0] + T * tangent[0] + D * normal[0]).astype(np.int64)
    y = np.rint(p0[1] + T * tangent[1] + D * normal[1]).astype(np.int64)
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    # Marking a bitmap and reading it back is np.unique without the sort (5x cheaper).
    hit = np.zeros(h * w, bool)
    hit[y[ok] * w + x[ok]] = True
    idx = np.flatnonzero(hit)
    return idx % w, idx // w


def _disk_pixels(shape, centre, radius):
    h, w = shape
    x0 = max(0, int(np.floor(centre[0] - radius)))
    x1 = min(w, int(np.ceil(centre[0] + radius)) + 1)
    y0 = max(0, int(np.floor(centre[1] - radius)))
    y1 = min(h, int(np.ceil(centre[1] + radius)) + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return xx.ravel(), yy.ravel()


@dataclass(frozen=True, eq=False)
class _LineBand:
    """The pixels one straight-edge fit uses (chosen once, shared by its fit and refit).

    p0, normal, half_len: the seed line (ROI px, outward unit normal, half length of the
    straight portion); rel: (N, 2) pixel centres relative to p0; vals: grey levels; basis:
    plateau basis (1, position along the edge); wall: visible wall width per pixel (None
    without parallax) and wall_med its median.
    """

    p0: np.ndarray
    normal: np.ndarray
    half_len: float
    rel: np.ndarray
    vals: np.ndarray
    basis: np.ndarray
    wall: np.ndarray | None
    wall_med: float


def _line_band(image, p0, normal, half_len, exclude, parallax) -> _LineBand:
    """Select the pixels of the straight edge through p0 (ROI px) with outward ``normal``:
    BAND_PX into the material to OUTER_PX out of it past the wall the parallax shows there (so the
    stage is always in the band: a fit that sees only top face and wall cannot tell the wall's level
    from the stage's), clear of the ``exclude`` discs ((centre, radius) px), at most MAX_LINE_PX of
    them.  Raises MeasurementError."""
    n = np.asarray(normal, float)
    p0 = np.asarray(p0, float)
    t = np.array([-n[1], n[0]])
    outer = OUTER_PX + _edge_wall_px(p0, n, parallax)
    reach = max(BAND_PX, outer)
    xs, ys = _band_pixels(image.shape, p0, t, n, half_len, reach)
    rel = np.column_stack([xs - p0[0], ys - p0[1]]).astype(float)
    d = rel @ n
    along = rel @ t
    keep = (d >= -BAND_PX) & (d <= outer) & (np.abs(along) <= half_len)
    for (cx, cy), r in exclude:
        keep &= np.hypot(xs - cx, ys - cy) > r
    if keep.sum() < 30:
        raise MeasurementError("too few pixels along a straight edge")
    if keep.sum() > MAX_LINE_PX:
        # A fixed pseudo-random subset (same pixels for the same edge every time): unbiased, and
        # thousands of pixels already pin a line to ~0.003 px.
        idx = np.flatnonzero(keep)
        keep = np.zeros_like(keep)
        keep[np.random.default_rng(0).choice(idx, MAX_LINE_PX, replace=False)] = True
    rel, along = rel[keep], along[keep]
    vals = image[ys[keep], xs[keep]].astype(np.float64)
    basis = np.column_stack([np.ones(len(vals)), along / max(half_len, 1.0)])
    wall = None
    wall_med = 0.0
    if parallax is not None:
        wall = parallax.wall_px(xs[keep].astype(float), ys[keep].astype(float), n[0], n[1])
        wall_med = float(np.median(wall))
    return _LineBand(p0, n, float(half_len), rel, vals, basis, wall, wall_med)


SCAN_PX = 1500  # pixels of an edge that choose its wall contrast's starting point


def _scan_subset(n: int) -> np.ndarray:
    """Indices of an evenly spread subset of ``n`` pixels, at most ``SCAN_PX`` of them."""
    return np.arange(0, n, max(1, -(-n // SCAN_PX)))


def _edge_wall_px(point: np.ndarray, normal: np.ndarray, parallax: Parallax | None) -> float:
    """Width (px) of the wall visible beyond a straight edge through ``point`` with outward ``normal``
    (the same all along a straight edge); 0 without parallax."""
    if parallax is None:
        return 0.0
    xs, ys = np.array([point[0]], float), np.array([point[1]], float)
    return float(parallax.wall_px(xs, ys, normal[0], normal[1])[0])


def _fit_line(band: _LineBand, wall_contrast=None, start: EdgeFit | None = None) -> tuple[LineEdge, EdgeFit]:
    """Fit the straight edge of ``band``; returns the edge and the raw fit (to refit from).

    wall_contrast: the walls' grey level minus the stage's, or None to fit it where the wall is
    wide (median ``WIDE_WALL_PX`` or more; else 0).  start: an earlier fit of this band (see
    :func:`.subpixel.fit_edge_model`); one robust round then follows it.  Raises MeasurementError.
    """
    n, p0 = band.normal, band.p0
    wide = band.wall is not None and band.wall_med >= WIDE_WALL_PX
    if band.wall is not None and wall_contrast is None and not wide:
        wall_contrast = 0.0  # too narrow to fit: pass 2 gives it the pooled contrast
    distance = line_distance(band.rel[:, 0], band.rel[:, 1])
    geom0 = np.array([np.arctan2(n[1], n[0]), 0.0])
    rounds = 1 if start is not None else 2
    if start is not None:
        geom0 = start.geom
    elif wall_contrast is None and wide and band.wall is not None:
        # The scan chooses the contrast (and blur) to start from; the geometry stays the seed's (a
        # short fit at a wrong contrast can wander off it).
        few = _scan_subset(len(band.vals))
        near = line_distance(band.rel[few, 0], band.rel[few, 1])
        start = scan_wall_contrast(band.vals[few], band.basis[few], near, geom0, wall_px=band.wall[few])
    fit = fit_edge_model(
        band.vals,
        band.basis,
        distance,
        geom0,
        wall_px=band.wall,
        wall_contrast=wall_contrast,
        start=start,
        robust_rounds=rounds,
    )
    th, rho = fit.geom
    nn = np.array([np.cos(th), np.sin(th)])
    if not fit.converged or abs(rho) > 3.0 or nn @ n < 0.99:
        raise MeasurementError("a straight-edge fit did not converge")
    edge = LineEdge(
        (float(nn[0]), float(nn[1])),
        float(rho + nn @ p0),
        fit.blur_px,
        fit.rms,
        fit.n_used,
        fit.wall_contrast if wide else None,
        band.wall_med,
        float(np.sum(band.wall**2)) if band.wall is not None else 0.0,
    )
    return edge, fit


def pooled_wall_contrast(edges, lo: float = -np.inf, hi: float = np.inf) -> float | None:
    """One wall-minus-stage grey level for the part from the edges (LineEdge / CircleEdge) that
    fitted it, or None when none did.

    lo / hi: the physically possible range (a wall's grey level lies in 0-255, so its contrast to
    the stage in [-stage, 255 - stage]); fits outside it are degenerate (e.g. a small deep bore
    that shows almost no stage leaves the wall and the stage levels trading against each other)
    and are dropped.  The rest are combined by a weighted median, weighted by the squared wall
    width summed over the fitted pixels: a wall's contrast is told from an edge shift only by the
    shape of the blurred profile, a second-order effect in the width, so wider and longer walls
    are surer.
    """
    fitted = [
        (e.wall_contrast, e.wall_weight)
        for e in edges
        if e.wall_contrast is not None and lo <= e.wall_contrast <= hi and e.wall_weight > 0
    ]
    if not fitted:
        return None
    c, w = np.array(sorted(fitted)).T
    cum = np.cumsum(w)
    return float(c[np.searchsorted(cum, 0.5 * cum[-1])])


@dataclass(frozen=True, eq=False)
class _CircleBand:
    """The pixels of one circular-edge fit: xs, ys (float px), grey levels, plateau basis
    (1, x, y about the seed centre) and which side the material is on."""

    xs: np.ndarray
    ys: np.ndarray
    vals: np.ndarray
    basis: np.ndarray
    material_inside: bool


def _circle_band(image, centre, radius, sector=None, *, material_inside: bool, parallax=None) -> _CircleBand:
    """Pixels BAND_PX into the material to OUTER_PX out of it round the circle (centre, radius)
    px, optionally only where ``sector(xs, ys)`` is true.  Inside a hole, the band reaches OUTER_PX
    past the bore's wall where the parallax shows it (the stage seen through the hole must be in
    the band).  Raises MeasurementError."""
    xs, ys = _disk_pixels(image.shape, centre, radius + BAND_PX + 1)
    d = np.hypot(xs - centre[0], ys - centre[1]) - radius
    if not material_inside:
        d = -d
    outer = OUTER_PX
    if parallax is not None and not material_inside:
        outer = OUTER_PX + parallax.bore_wall_px(xs.astype(float), ys.astype(float), centre, radius)
    keep = (d >= -BAND_PX) & (d <= outer)
    if sector is not None:
        keep &= sector(xs, ys)
    if keep.sum() < 30:
        raise MeasurementError("too few pixels around a circular edge")
    xs, ys = xs[keep], ys[keep]
    vals = image[ys, xs].astype(np.float64)
    cx0, cy0 = centre
    basis = np.column_stack(
        [np.ones(len(vals)), (xs - cx0) / (radius + BAND_PX), (ys - cy0) / (radius + BAND_PX)]
    )
    return _CircleBand(xs.astype(float), ys.astype(float), vals, basis, material_inside)


def _circle_walls(band: _CircleBand, centre, radius: float, parallax: Parallax | None) -> np.ndarray | None:
    """Visible wall width (px, (N,) float64) at each band pixel for the circle (centre, radius) px:
    outside a corner arc (material inside), the bore inside a hole; None without parallax."""
    if parallax is None:
        return None
    xf, yf = band.xs, band.ys
    cx0, cy0 = centre
    if not band.material_inside:
        return parallax.bore_wall_px(xf, yf, (cx0, cy0), radius)
    rho = np.hypot(xf - cx0, yf - cy0) + 1e-9
    return parallax.wall_px(xf, yf, (xf - cx0) / rho, (yf - cy0) / rho)


def _fit_circle_band(
    band: _CircleBand,
    centre,
    radius,
    *,
    parallax=None,
    wall_contrast=0.0,
    blur0: float = 1.0,
    robust_rounds: int = 2,
) -> tuple[CircleEdge, EdgeFit]:
    """Fit the circular edge of ``band`` from (centre, radius) px; returns the edge and the raw fit.

    The visible walls are computed for that circle.  wall_contrast: the walls' grey level minus the
    stage's, or None to fit it where the wall is wide enough (``WIDE_WALL_PX``; else 0).  blur0: the
    starting blur (px); robust_rounds: see :func:`.subpixel.fit_edge_model`.  Raises MeasurementError.
    """
    xf, yf = band.xs, band.ys
    cx0, cy0 = centre
    wall = _circle_walls(band, centre, radius, parallax)
    wall_p90 = float(np.percentile(wall, 90)) if wall is not None else 0.0
    wide = wall_p90 >= WIDE_WALL_PX
    if wall_contrast is None and not wide:
        wall_contrast = 0.0
    # The edge model wants d > 0 off the material: outside a corner arc, inside a hole (where the
    # bore's wall shows, between the top edge and the stage seen through the hole).
    distance = circle_distance(xf, yf) if band.material_inside else _negated(circle_distance(xf, yf))
    geom0 = np.array([cx0, cy0, radius])
    start = None
    if wall_contrast is None and wall is not None:
        few = _scan_subset(len(band.vals))
        near = circle_distance(xf[few], yf[few])
        near = near if band.material_inside else _negated(near)
        values, basis = band.vals[few], band.basis[few]
        start = scan_wall_contrast(values, basis, near, geom0, wall_px=wall[few], blur0=blur0)
    fit: EdgeFit = fit_edge_model(
        band.vals,
        band.basis,
        distance,
        geom0,  # the scan chose the contrast to start from, not the geometry (see _fit_line)
        wall_px=wall,
        wall_contrast=wall_contrast,
        blur0=blur0,
        robust_rounds=robust_rounds,
        start=start,
    )
    cx, cy, r = fit.geom
    if not fit.converged or r <= 0 or np.hypot(cx - cx0, cy - cy0) > 3 or abs(r - radius) > 3:
        raise MeasurementError("a circular-edge fit did not converge")
    # A blurred disk's 50 % contour lies s^2 / (2R) inside the true edge (to first
    # order in s / R): undo that so small holes are not measured small.
    r_true = 0.5 * (r + np.sqrt(r * r + 2 * fit.blur_px**2))
    edge = CircleEdge(
        (float(cx), float(cy)),
        float(r_true),
        fit.blur_px,
        fit.rms,
        fit.n_used,
        abs(fit.outer - fit.inner),
        fit.wall_contrast if wide else None,
        wall_p90,
        float(np.sum(wall**2)) if wall is not None else 0.0,
    )
    return edge, fit


def _fit_circle(
    image, centre, radius, sector=None, *, material_inside: bool, parallax=None, wall_contrast=0.0
) -> CircleEdge:
    """Fit a circular edge near (centre, radius) px.

    material_inside: True for a corner arc (part inside the circle), False for a hole.
    sector: optional function (xs, ys) -> bool mask restricting the pixels used.
    wall_contrast: the walls' grey level minus the stage's, or None to fit it where the wall is
    wide enough (``WIDE_WALL_PX``; else 0).
    """
    band = _circle_band(image, centre, radius, sector, material_inside=material_inside)
    return _fit_circle_band(band, centre, radius, parallax=parallax, wall_contrast=wall_contrast)[0]


def _refit_hole(image, hole: CircleEdge, fit: EdgeFit, parallax, wall_contrast: float) -> CircleEdge | None:
    """Fit a hole again with the part's pooled wall contrast, on the band round its first fit and
    from that fit's geometry and blur.  Not on the first fit's pixels: the rough seed they were
    chosen round can be half a pixel off, which moved diameters by up to 0.002 mm; nor with fewer
    robust rounds (up to 0.0018 mm where a defect touches the band).

    Returns the new CircleEdge, or None if that fails (the caller keeps the first fit: dropping a
    real hole would report it missing and its dark disc as a void)."""
    try:
        band = _circle_band(image, hole.centre, hole.radius, material_inside=False, parallax=parallax)
        edge, _ = _fit_circle_band(
            band, hole.centre, hole.radius, parallax=parallax, wall_contrast=wall_contrast, blur0=fit.blur_px
        )
    except MeasurementError:
        return None
    return edge


def _line_edge_pass2(band: _LineBand, first, pooled: float | None) -> LineEdge:
    """The final fit of a straight edge given its first one (``(edge, fit)``, or None when its wall
    was too narrow to fit) and the part's pooled wall contrast (None: no edge could fit it).

    A narrow wall is fitted once, with the pooled contrast (0 without); a wide one, fitted with its
    own contrast first, is refitted from that fit (plateaus, blur and robust weights: one robust
    round) with the pooled contrast; walls under 0.05 px are left as fitted.  (Keeping the first fit
    where its own contrast agrees with the pooled one within 0.5 grey levels still moved an edge
    by 0.003 px: the refit is cheap enough.)
    """
    if first is None:
        return _fit_line(band, 0.0 if pooled is None else pooled)[0]
    edge, fit = first
    if pooled is None or edge.wall_px <= 0.05:
        return edge
    return _fit_line(band, pooled, start=fit)[0]


def _levels(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Median grey level of the part (mask > 0) and of the stage around it (np.median's value).

    A uint8 image's medians come from 256-bin histograms (~20x cheaper than sorting a megapixel);
    any other image is sorted.
    """
    inside = mask > 0
    if image.dtype == np.uint8:
        h_in = cv2.calcHist([image], [0], inside.astype(np.uint8), [256], [0, 256]).ravel()
        h_all = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
        return _hist_median(h_in), _hist_median(h_all - h_in)
    return float(np.median(image[inside])), float(np.median(image[~inside]))


def _hist_median(hist: np.ndarray) -> float:
    """np.median of the values a 256-bin histogram (bin i = value i) counts (nan when empty)."""
    n = round(float(hist.sum()))
    if n == 0:
        return float("nan")
    cum = np.cumsum(hist)
    lo = int(np.searchsorted(cum, (n - 1) // 2 + 1))  # value of the ((n - 1) // 2)-th smallest
    hi = int(np.searchsorted(cum, n // 2 + 1))  # and of the (n // 2)-th
    return 0.5 * (lo + hi)


def _negated(distance):
    """The distance function with its sign (and derivative) flipped."""

    def fn(geom):
        d, dd = distance(geom)
        return -d, -dd

    return fn


def floor_level(image: np.ndarray, centre, radius: float) -> float:
    """Median grey level well inside a dark round region (2 px in from its rough edge)."""
    xs, ys = _disk_pixels(image.shape, centre, radius)
    inner = np.hypot(xs - centre[0], ys - centre[1]) <= max(radius - 2.0, 1.0)
    return float(np.median(image[ys[inner], xs[inner]]))


def is_through(floor: float, material: float, stage: float) -> bool:
    """Whether a dark round region with median grey level ``floor`` goes through the part.

    material / stage: grey levels of the top face and of the stage around the part.  Through, the
    region shows the stage or the (darker) bore wall, so its floor lies within
    ``1 - THROUGH_MIN_CONTRAST`` of the part/stage contrast of the stage level, or below; a cavity's
    floor is material, lit like the top face, and lies well above.  The pixels themselves are used,
    not an edge fit's plateau: a bore wall several pixels wide leaves that plateau unconstrained.
    """
    return floor <= stage + (1.0 - THROUGH_MIN_CONTRAST) * (material - stage)


def _frame_axis(normals: list[np.ndarray], half_lengths: list[float]) -> np.ndarray:
    """Unit x axis of the part frame from the outward normals of the (bottom, right, top, left) edges.

    Both pairs of opposite edges give the direction; the angle of a fitted line is about L^1.5 times
    surer for a straight portion of length L (its variance goes as 1/L^3), so each pair is weighted
    by the cube of its length.  On a 280 x 30 mm strip the short ends alone tilt the frame by ~1e-4
    rad: 0.01 mm across the holes at its ends.
    """
    n0, n1, n2, n3 = normals
    from_ends = (n1 - n3) / np.linalg.norm(n1 - n3)
    across = (n2 - n0) / np.linalg.norm(n2 - n0)  # +-e2, from the sides
    from_sides = np.array([-across[1], across[0]])  # rotated to +-e1
    if from_sides @ from_ends < 0:
        from_sides = -from_sides
    w_ends, w_sides = half_lengths[1] ** 3, half_lengths[0] ** 3
    axis = w_ends * from_ends + w_sides * from_sides
    return axis / np.linalg.norm(axis)


def dark_openings(smooth: np.ndarray, outer: np.ndarray, levels: tuple[float, float]) -> list[np.ndarray]:
    """Contours ((N, 2) int px) of the regions inside the part's outer contour that are nearly as
    dark as the stage (within 15 % of the part/stage contrast): where the stage shows through a
    hole.  Unlike the part mask's threshold, this level is below any side wall's (walls lie between
    the stage's and the top face's grey levels, a station's darkest some 25 % of the contrast above
    the stage under the dimmest light), so a hole's bore does not split its region.
    smooth: float32 ROI, lightly smoothed; levels: material and stage grey levels."""
    material, stage = levels
    inside = np.zeros(smooth.shape, np.uint8)
    cv2.drawContours(inside, [outer.reshape(-1, 1, 2).astype(np.int32)], -1, 1, thickness=cv2.FILLED)
    dark = ((smooth < stage + 0.15 * (material - stage)) & (inside > 0)).astype(np.uint8)
    contours, _ = cv2.findContours(dark, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [contour.reshape(-1, 2) for contour in contours]


def part_mask(image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Largest bright blob of ``image > threshold``: (mask uint8, outer contour, hole contours)."""
    mask = (image > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n < 2:
        raise MeasurementError("part vanished in the rectified region")
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = (labels == k).astype(np.uint8)
    contours, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    hier = hier[0]
    outer_i = max(
        (i for i in range(len(contours)) if hier[i][3] < 0), key=lambda i: cv2.contourArea(contours[i])
    )
    holes = [contours[i].reshape(-1, 2) for i in range(len(contours)) if hier[i][3] == outer_i]
    return mask, contours[outer_i].reshape(-1, 2), holes


@dataclass(frozen=True, eq=False)
class PartFrame:
    """A part's frame in ROI pixels: centre (2,) px, unit axes e1 (along the length) and e2 = e1
    rotated -90 degrees (2,), and the extent along them (px)."""

    centre: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    length_px: float
    width_px: float


@dataclass(frozen=True, eq=False)
class EdgeSeed:
    """Where to look for one straight edge: a point on it (2,) px, its outward unit normal (2,)
    and the half length of its straight portion (px)."""

    point: np.ndarray
    normal: np.ndarray
    half_len: float


RoughHole = tuple[tuple[float, float], float]  # (centre px, radius px)


@dataclass(frozen=True)
class HoleSeed:
    """Where to fit one hole: the top opening's circle (centre, radius px), and the dark region it
    was seen as (its centroid and equal-area radius, px), whose floor says whether it goes through."""

    centre: tuple[float, float]
    radius: float
    dark_centre: tuple[float, float]
    dark_radius: float


def rough_frame(outer: np.ndarray) -> PartFrame:
    """The minimum-area rectangle round the outer contour ((N, 2) int px) as a :class:`PartFrame`
    (e1 along its longer side): the seed of every fit, moved by burrs and chips."""
    (cx, cy), (length, width), angle_deg = cv2.minAreaRect(outer)
    if length < width:
        length, width, angle_deg = width, length, angle_deg + 90.0
    angle = np.deg2rad(angle_deg)
    e1 = np.array([np.cos(angle), np.sin(angle)])
    e2 = np.array([e1[1], -e1[0]])
    return PartFrame(np.array([cx, cy]), e1, e2, length, width)


def rough_holes(
    hole_contours: list[np.ndarray], min_diameter_px: float, parallax: Parallax | None = None
) -> list[HoleSeed]:
    """The :class:`HoleSeed` of each dark region's contour ((N, 2) int px) whose top opening (see
    :func:`top_circle_seed`) is at least ``min_diameter_px`` across and which is roughly round
    (isoperimetric ratio >= 0.75), or the overlap of two openings (a lens, seen off axis)."""
    holes = []
    min_area = np.pi * (min_diameter_px / 2) ** 2
    for contour in hole_contours:
        area = cv2.contourArea(contour)
        perimeter = cv2.arcLength(contour.reshape(-1, 1, 2), True)
        if perimeter <= 0:
            continue
        m = cv2.moments(contour.reshape(-1, 1, 2))
        if m["m00"] <= 0:
            continue
        centroid = (m["m10"] / m["m00"], m["m01"] / m["m00"])
        dark_radius = np.sqrt(area / np.pi) + 0.5
        centre, radius = top_circle_seed(contour, centroid, dark_radius, parallax)
        hull = cv2.convexHull(contour.reshape(-1, 1, 2))
        hull_perimeter = cv2.arcLength(hull, True)
        hull_round = hull_perimeter > 0 and 4 * np.pi * cv2.contourArea(hull) / hull_perimeter**2 >= 0.75
        round_enough = hull_round or radius > dark_radius + 1.0
        if np.pi * radius**2 < min_area or not round_enough:
            continue
        holes.append(HoleSeed(centre, radius, centroid, dark_radius))
    return holes


def top_circle_seed(contour: np.ndarray, centroid, radius: float, parallax: Parallax | None) -> RoughHole:
    """The top edge's circle of a through hole from its dark region ((N, 2) int px contour).

    Seen off axis, a through hole shows the stage only where the top and bottom openings overlap:
    the bottom circle is the top one moved by ``delta`` (towards the nadir; its length is the bore's
    parallax).  If the bore's wall is darker than the threshold, the dark region is the whole top
    circle; if brighter, only that lens, whose centroid lies ``delta / 2`` off the top circle's
    centre and whose equal-area radius is short by up to half the bore.  Either way the region's
    point furthest towards the nadir is on the top circle.  The two readings are told apart by the
    region's width across ``delta`` (the lens is narrower than it is long plus ``|delta|``); returns
    the centroid and equal-area ``radius`` when the parallax is under two pixels."""
    if parallax is None:
        return centroid, radius
    cx, cy = centroid
    delta = parallax.ratio * (np.asarray(parallax.nadir_px) - np.array([cx, cy]))
    shift = float(np.hypot(*delta))
    if shift < 2.0:
        return centroid, radius
    toward = delta / shift
    across = np.array([-toward[1], toward[0]])
    pts = np.asarray(contour, float)
    along_t, along_a = pts @ toward, pts @ across
    length = float(np.ptp(along_t)) + 1.0  # contour pixel centres: half a pixel in on each side
    width = float(np.ptp(along_a)) + 1.0
    as_disk = length / 2
    as_lens = (length + shift) / (2 - parallax.ratio)
    lens_width = 2 * np.sqrt(max(as_lens**2 - (shift / 2) ** 2, 0.0))
    r = as_lens if abs(lens_width - width) < abs(2 * as_disk - width) else as_disk
    front = float(along_t.max()) + 0.5
    middle = (float(along_a.max()) + float(along_a.min())) / 2
    centre = (front - r) * toward + middle * across
    return (float(centre[0]), float(centre[1])), float(r)


def _seed_line(outer: np.ndarray, centre: np.ndarray, normal: np.ndarray, dist: float, half_len: float):
    """A point (2,) px and outward unit normal (2,) of the straight edge ``dist`` px from ``centre``
    along ``normal``: a robust line through the contour points of its straight portion when at least
    10 lie close to their median offset (a burr or chip moves minAreaRect and a few contour points,
    but not the median), else the rough rectangle's side."""
    rel = outer - centre
    tangent = np.array([-normal[1], normal[0]])
    offset = rel @ normal
    along = rel @ tangent
    on_side = (np.abs(along) < half_len) & (offset > 0.5 * dist)
    seed_normal, point = normal, centre + dist * normal
    if on_side.sum() >= 10:
        median = float(np.median(offset[on_side]))
        close = on_side & (np.abs(offset - median) < 3)
        if close.sum() >= 10:
            vx, vy, x0, y0 = cv2.fitLine(
                outer[close].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01
            ).ravel()
            seed_normal = np.array([-vy, vx]) * np.sign(np.array([-vy, vx]) @ normal)
            point = np.array([x0, y0]) + 0.5 * seed_normal  # contour pixels sit ~half a pixel inside
            seed_tangent = np.array([-seed_normal[1], seed_normal[0]])
            point = point + ((centre - point) @ seed_tangent) * seed_tangent
    return point, seed_normal


def seed_on_top_face(
    image: np.ndarray,
    seed: EdgeSeed,
    parallax: Parallax | None,
    levels: tuple[float, float],
    exclude=(),
) -> EdgeSeed:
    """The seed moved onto the top face's edge, wherever the mask put it.

    Beyond an edge whose wall shows, the mask's edge is the top edge when the wall is darker than
    the mask's threshold, the wall's foot (``w`` px out, ``w`` the parallax's wall width there) when
    brighter, and anywhere between when the threshold cuts through the wall's grey levels.  The
    profile across the edge (the mean of each half-pixel step of distance over the whole straight
    portion, clear of the ``exclude`` discs) leaves the top face's plateau at the top edge whatever
    the wall's level, as long as the wall is darker than the top face by a fifth of the part/stage
    contrast (a wall as bright as the top face shows no top edge at all).  image: float32 ROI;
    levels: material and stage grey levels."""
    wall = _edge_wall_px(seed.point, seed.normal, parallax)
    if wall < 2.0:
        return seed  # within the fit's reach either way
    n = seed.normal
    t = np.array([-n[1], n[0]])
    inner, outer = wall + BAND_PX + 4.0, OUTER_PX + 2.0
    xs, ys = _band_pixels(image.shape, seed.point, t, n, seed.half_len, max(inner, outer))
    rel = np.column_stack([xs - seed.point[0], ys - seed.point[1]])
    d, along = rel @ n, rel @ t
    keep = (np.abs(along) <= seed.half_len) & (d >= -inner) & (d <= outer)
    for (cx, cy), r in exclude:
        keep &= np.hypot(xs - cx, ys - cy) > r
    if keep.sum() < 50:
        return seed
    steps = np.rint((d[keep] + inner) * 2).astype(np.int64)
    counts = np.bincount(steps)
    sums = np.bincount(steps, weights=image[ys[keep], xs[keep]])
    filled = counts > 0
    profile = sums[filled] / counts[filled]
    offsets = np.flatnonzero(filled) / 2.0 - inner
    material, stage = levels
    top = float(np.median(profile[offsets < -wall - BAND_PX]))
    below = np.flatnonzero((offsets > -wall - BAND_PX) & (profile < top - 0.2 * abs(material - stage)))
    if below.size == 0:
        return seed
    return EdgeSeed(seed.point + (offsets[below[0]] + 0.5) * n, n, seed.half_len)


def straight_edge_seeds(outer: np.ndarray, frame: PartFrame, corner_radius_px: float) -> list[EdgeSeed]:
    """Seeds of the bottom (-e2), right (+e1), top (+e2) and left (-e1) edges from the outer contour
    ((N, 2) int px) and its rough frame; the straight portions stop ``BAND_PX + 2`` px short of the
    corner arcs (radius px).  Raises MeasurementError when a portion is under 10 px long."""
    e1, e2, length, width = frame.e1, frame.e2, frame.length_px, frame.width_px
    sides = [(-e2, width / 2, length / 2), (e1, length / 2, width / 2), (e2, width / 2, length / 2)]
    sides.append((-e1, length / 2, width / 2))
    seeds = []
    for normal, dist, half_side in sides:
        half_len = half_side - corner_radius_px - BAND_PX - 2
        if half_len < 10:
            raise MeasurementError("straight edge too short to measure (corner radius too large?)")
        point, seed_normal = _seed_line(outer, frame.centre, normal, dist, half_len)
        seeds.append(EdgeSeed(point, seed_normal, half_len))
    return seeds


def fit_through_holes(
    image: np.ndarray,
    holes: list[HoleSeed],
    levels: tuple[float, float],
    parallax: Parallax | None,
) -> list[tuple[CircleEdge, EdgeFit]]:
    """First fit (wall contrast free where the bore is wide) of each rough hole that goes through
    the part (see :func:`is_through`; levels: material and stage grey levels).  image: float32
    (H, W).  A dark cavity (void) is left out: defect detection reports it, once; so is a hole
    whose fit fails is not: dropping it would report the hole missing and its dark disc as a void,
    failing a good part, so MeasurementError says which hole could not be measured (the part is then
    unable to inspect, and a person looks)."""
    material_level, stage_level = levels
    fitted = []
    for seed in holes:
        centre, radius = seed.centre, seed.radius
        # The floor is read where the region is dark: off axis, the top opening also holds the bore.
        floor = floor_level(image, seed.dark_centre, seed.dark_radius)
        if not is_through(floor, material_level, stage_level):
            continue
        try:
            band = _circle_band(image, centre, radius, material_inside=False, parallax=parallax)
            edge, fit = _fit_circle_band(band, centre, radius, parallax=parallax, wall_contrast=None)
        except MeasurementError as exc:
            raise MeasurementError(
                f"a through hole about {2 * radius:.0f} px across at ({centre[0]:.0f}, {centre[1]:.0f}) px "
                f"of the part's picture could not be measured ({exc})"
            ) from exc
        fitted.append((edge, fit))
    return fitted


def frame_from_edges(edges: list[LineEdge], half_lengths: list[float]) -> tuple[PartFrame, list[LineEdge]]:
    """The part frame from the four fitted lines (bottom, right, top, left): centre where the two
    mid-lines cross, length and width through it (px), axis from :func:`_frame_axis`.  Returns it
    and the edges, bottom and top swapped if needed to keep that naming consistent with e2."""
    normals = [np.asarray(edge.normal) for edge in edges]
    rho = [edge.rho for edge in edges]
    mid_normals = np.array([normals[2] - normals[0], normals[1] - normals[3]])
    mid_rho = np.array([rho[2] - rho[0], rho[1] - rho[3]])
    centre = np.linalg.solve(mid_normals, mid_rho)
    width_px = -((normals[0] @ centre - rho[0]) + (normals[2] @ centre - rho[2]))
    length_px = -((normals[1] @ centre - rho[1]) + (normals[3] @ centre - rho[3]))
    e1 = _frame_axis(normals, half_lengths)
    e2 = np.array([e1[1], -e1[0]])
    if e2 @ (normals[2] - normals[0]) < 0:
        edges = [edges[2], edges[1], edges[0], edges[3]]
    return PartFrame(centre, e1, e2, length_px, width_px), edges


def _corner_sector(frame: PartFrame, sx: int, sy: int, u_lim: float, v_lim: float):
    """Mask function (xs, ys) -> bool of the quadrant (signs sx, sy along e1, e2) beyond where the
    straight edges end (u_lim, v_lim px from the centre, less a pixel)."""
    centre, e1, e2 = frame.centre, frame.e1, frame.e2

    def sector(xs, ys):
        rel = np.column_stack([xs - centre[0], ys - centre[1]])
        return (sx * (rel @ e1) > u_lim - 1) & (sy * (rel @ e2) > v_lim - 1)

    return sector


def fit_corner_arcs(
    image: np.ndarray,
    frame: PartFrame,
    corner_radius_px: float,
    parallax: Parallax | None,
    wall_contrast: float,
) -> list[CircleEdge | None]:
    """Circle fits of the corner arcs in the order (-,-), (+,-), (+,+), (-,+) along (e1, e2), each on
    the quadrant beyond where the straight edges end.  None for a corner whose fit fails (e.g. badly
    chipped: defects will say why) and for all four when the nominal radius is under 4 px."""
    corners: list[CircleEdge | None] = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        if corner_radius_px < 4:
            corners.append(None)
            continue
        u_lim, v_lim = frame.length_px / 2 - corner_radius_px, frame.width_px / 2 - corner_radius_px
        arc_centre = frame.centre + sx * u_lim * frame.e1 + sy * v_lim * frame.e2
        sector = _corner_sector(frame, sx, sy, u_lim, v_lim)
        try:
            corners.append(
                _fit_circle(
                    image,
                    arc_centre,
                    corner_radius_px,
                    sector,
                    material_inside=True,
                    parallax=parallax,
                    wall_contrast=wall_contrast,
                )
            )
        except MeasurementError:
            corners.append(None)
    return corners


def measure_part(
    image: np.ndarray,
    threshold: float,
    *,
    mm_per_px: float,
    corner_radius_mm: float,
    parallax: Parallax | None = None,
    min_hole_mm: float = 1.2,
) -> PartMeasurement:
    """Measure outline, corner radii and holes of the part in a rectified ROI.

    image: (H, W) float32/uint8 rectified ROI containing the whole part with >= 8 px of
    stage around it; threshold: grey level between stage and part (from locate);
    mm_per_px: scale of the rectified image; corner_radius_mm: nominal radius (used
    only to keep the corner arcs out of the straight-edge fits); parallax: where the
    side walls show (None: ignore walls, fine for a camera looking straight down).  Holes are dark
    enclosed regions at least ``min_hole_mm`` across, roughly round and through the part (see
    :func:`is_through`); smaller, irregular or blind ones are left to defect detection.  Raises
    MeasurementError.
    """
    img = np.asarray(image, np.float32)
    # Seeds come from a lightly smoothed copy: a threshold that cuts through a wall's grey levels
    # leaves speckle on the raw pixels, and speckle breaks contours into fragments.
    smooth = cv2.GaussianBlur(img, (0, 0), 1.0)
    mask, outer, _ = part_mask(smooth, threshold)
    corner_radius_px = corner_radius_mm / mm_per_px
    levels = _levels(np.asarray(image), mask)

    # ---- rough geometry: seeds of the fits; rough holes also keep the straight-edge bands clear.
    seed_frame = rough_frame(outer)
    holes_seen = rough_holes(dark_openings(smooth, outer, levels), min_hole_mm / mm_per_px, parallax)
    exclude = [(seed.centre, seed.radius + BAND_PX + 2) for seed in holes_seen]
    seeds = [
        seed_on_top_face(img, seed, parallax, levels, exclude)
        for seed in straight_edge_seeds(outer, seed_frame, corner_radius_px)
    ]

    # ---- edges and holes.  Pass 1: edges with wide walls measure the wall contrast (holes too),
    # which is then pooled; pass 2 fits every other edge that shows a wall with the pooled value
    # and refits the wide ones.
    bands = [_line_band(img, seed.point, seed.normal, seed.half_len, exclude, parallax) for seed in seeds]
    narrow = [parallax is not None and 0.05 < band.wall_med < WIDE_WALL_PX for band in bands]
    first = [None if is_narrow else _fit_line(band) for band, is_narrow in zip(bands, narrow, strict=True)]
    holes = fit_through_holes(img, holes_seen, levels, parallax)
    pooled = None
    if parallax is not None:
        fitted = [first_fit[0] for first_fit in first if first_fit is not None] + [edge for edge, _ in holes]
        pooled = pooled_wall_contrast(fitted, -levels[1], 255.0 - levels[1])
    wall_contrast = 0.0 if pooled is None else pooled
    edges = [_line_edge_pass2(band, first_fit, pooled) for band, first_fit in zip(bands, first, strict=True)]
    hole_edges = [
        edge
        if pooled is None or edge.wall_px <= 0.05
        else _refit_hole(img, edge, fit, parallax, wall_contrast) or edge
        for edge, fit in holes
    ]

    # ---- part frame from the four lines, then the corner arcs in it.
    frame, edges = frame_from_edges(edges, [seed.half_len for seed in seeds])
    corners = fit_corner_arcs(img, frame, corner_radius_px, parallax, wall_contrast)
    part = _part_measurement(frame, edges, corners, hole_edges, mm_per_px, levels, mask)
    return PartMeasurement(**{**part.__dict__, "parallax": parallax, "wall_contrast": wall_contrast})


def _part_measurement(
    frame: PartFrame,
    edges: list[LineEdge],
    corners: list[CircleEdge | None],
    hole_edges: list[CircleEdge],
    mm_per_px: float,
    levels: tuple[float, float],
    mask: np.ndarray,
) -> PartMeasurement:
    """The :class:`PartMeasurement` of the fits (px) at ``mm_per_px``; holes in its part frame (mm)."""
    blurs = [e.blur_px for e in edges]
    centre, e1, e2 = frame.centre, frame.e1, frame.e2
    part = PartMeasurement(
        float(frame.length_px * mm_per_px),
        float(frame.width_px * mm_per_px),
        tuple(None if ce is None else ce.radius * mm_per_px for ce in corners),
        (),
        (float(centre[0]), float(centre[1])),
        (float(e1[0]), float(e1[1])),
        (float(e2[0]), float(e2[1])),
        float(mm_per_px),
        tuple(edges),
        tuple(corners),
        float(np.median(blurs)),
        levels,
        mask,
    )
    hole_meas = []
    for edge in hole_edges:
        ((x, y),) = part.to_part_mm(np.array([edge.centre]))
        hole_meas.append(HoleMeasurement(float(x), float(y), 2 * edge.radius * mm_per_px, edge))
    return PartMeasurement(**{**part.__dict__, "holes": tuple(hole_meas)})
