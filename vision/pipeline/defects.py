"""Defect detection: compare the image with the part the measurements describe.

From the fitted outline and holes an ideal image of the part is predicted (blurred with
the fitted edge blur); the grey levels of material and stage are fitted as smooth
surfaces so lighting gradients cancel.  Then:

* **outline defects** - material outside the fitted outline (``burr``) or missing
  inside it next to the edge (``chipped_corner`` on a corner arc, ``chip`` elsewhere).
  Size is the protrusion / depth along the outline normal, integrated across the edge
  from the normalised excess image, which is sub-pixel and independent of blur;
* **interior defects** - dark or bright blobs inside the material away from every
  edge.  Round ones are ``void`` (size = diameter from the blob's integrated contrast
  and peak, corrected for blur), elongated ones ``crack`` (size = length from the
  blob's second moments, where the blur cancels);
* **missing / extra holes** from registration.

Every defect carries a location in the drawing frame (mm), a size (mm) and a score
(signal-to-noise of the detection; higher is surer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .measure import PartMeasurement
from .register import Registration
from .subpixel import norm_cdf

OUTLINE_BAND_MM = 4.0
EXCESS_THRESHOLD = 0.35  # fraction of full material contrast
INTERIOR_K = 5.0  # detection threshold in noise sigmas of the smoothed residual
SMOOTH_PX = 1.0
# Voids smaller than this many effective blur sigmas (optics + smoothing) are unresolved: see below.
UNRESOLVED_SIGMAS = 2.0

DrawingMapper = Callable[[float, float], tuple[float, float]]  # ROI px -> drawing frame mm


@dataclass(frozen=True)
class Defect:
    """type: void, crack, burr, chip, chipped_corner, missing_hole or extra_hole.

    x, y: drawing frame mm; size_mm: see module docstring; score: detection SNR;
    bbox_px: (x0, y0, x1, y1) in ROI pixels for drawing.
    """

    type: str
    x: float
    y: float
    size_mm: float
    score: float
    bbox_px: tuple[int, int, int, int]

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "x": round(self.x, 4),
            "y": round(self.y, 4),
            "size_mm": round(self.size_mm, 4),
            "score": round(self.score, 2),
        }


def _poly2_fit(xs, ys, vals, rounds: int = 3):
    """Robust quadratic surface fit; returns a function (xs, ys) -> level."""
    sx, sy = max(float(np.ptp(xs)), 1.0), max(float(np.ptp(ys)), 1.0)
    mx, my = float(np.mean(xs)), float(np.mean(ys))

    def basis(x, y):
        u = (np.asarray(x, np.float64) - mx) / sx
        v = (np.asarray(y, np.float64) - my) / sy
        return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])

    design = basis(xs, ys)
    vals = np.asarray(vals, np.float64)
    keep = np.ones(len(vals), bool)
    coef = np.zeros(6)
    for _ in range(rounds):
        # Normal equations: six O(1) columns (coordinates scaled to the spread), so they are well
        # conditioned and ~5x cheaper than lstsq's SVD on tens of thousands of rows.
        inlier_rows = design[keep]
        coef = np.linalg.solve(inlier_rows.T @ inlier_rows + 1e-9 * np.eye(6), inlier_rows.T @ vals[keep])
        residuals = vals - design @ coef
        sigma = 1.4826 * np.median(np.abs(residuals[keep])) + 1e-6
        keep = np.abs(residuals) < 3 * sigma
    return lambda x, y: (basis(np.ravel(x), np.ravel(y)) @ coef).reshape(np.shape(x))


def _surface(fn, shape, step: int = 8) -> np.ndarray:
    """Evaluate a smooth surface on a coarse grid and interpolate: the quadratic is
    smooth, so this is exact to ~1e-3 grey levels and ~50x cheaper than per pixel."""
    h, w = shape
    gy = np.arange(0, h + step, step, dtype=np.float64)
    gx = np.arange(0, w + step, step, dtype=np.float64)
    GX, GY = np.meshgrid(gx, gy)
    coarse = fn(GX, GY).astype(np.float32)
    # cv2.resize maps pixel centres, so pad the target and crop to align grid knots.
    full = cv2.resize(coarse, (len(gx) * step, len(gy) * step), interpolation=cv2.INTER_LINEAR)
    off = (step - 1) // 2 if step > 1 else 0
    return np.ascontiguousarray(full[off : off + h, off : off + w]) if step > 1 else full[:h, :w]


def _rrect_frame(meas: PartMeasurement, shape):
    """Pixel coordinates xx, yy (float32, read-only broadcast views of one row / column) and
    provisional-frame coordinates u, v (float32 (H, W), px relative to the part centre)."""
    h, w = shape
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    dx, dy = x - np.float32(meas.centre_px[0]), y - np.float32(meas.centre_px[1])
    u = dx * np.float32(meas.e1[0]) + dy * np.float32(meas.e1[1])
    v = dx * np.float32(meas.e2[0]) + dy * np.float32(meas.e2[1])
    return np.broadcast_to(x, shape), np.broadcast_to(y, shape), u, v


def _rrect_sdf(u, v, a, b, r):
    """Signed distance (px, > 0 outside) to the rounded rectangle |u| <= a, |v| <= b with corner
    radius r; float32 arrays in, float32 out (computed in place: it is a whole-ROI map)."""
    u = np.asarray(u, np.float32)
    v = np.asarray(v, np.float32)
    qx = np.abs(u)
    qx -= np.float32(a - r)
    qy = np.abs(v)
    qy -= np.float32(b - r)
    inner = np.maximum(qx, qy)
    np.minimum(inner, 0, out=inner)
    np.maximum(qx, 0, out=qx)
    np.maximum(qy, 0, out=qy)
    out = cv2.magnitude(qx, qy) if qx.ndim == 2 else np.hypot(qx, qy)
    out += inner
    out -= np.float32(r)
    return out


def _rrect_normal(u, v, a, b, r):
    """Outward unit normal (provisional frame) of the nearest outline point."""
    qx = np.abs(u) - (a - r)
    qy = np.abs(v) - (b - r)
    if qx > 0 and qy > 0:
        n = np.array([np.sign(u) * qx, np.sign(v) * qy])
        return n / np.linalg.norm(n), True
    if qx > qy:
        return np.array([np.sign(u) or 1.0, 0.0]), False
    return np.array([0.0, np.sign(v) or 1.0]), False


def _void_diameter(integral: float, peak: float, s_eff: float) -> float:
    """Diameter (px) of a uniform disk whose blurred image has this integral and peak.

    For a disk of diameter D blurred by a Gaussian s: integral = C pi D^2 / 4 and
    peak = C (1 - exp(-D^2 / 8 s^2)), so integral / peak = 2 pi s^2 x / (1 - e^-x) with
    x = D^2 / 8 s^2 - monotonic in x, solved by bisection.  The unknown contrast C
    cancels, so faint and strong voids of the same size get the same answer.
    """
    if peak <= 0 or integral <= 0:
        return 0.0
    q = integral / (peak * 2 * np.pi * s_eff**2)
    if q <= 1.0:
        return 0.0
    lo, hi = 1e-9, max(2.0 * q, 1.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid / (1 - np.exp(-mid)) < q:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(8 * s_eff**2 * lo))


def _sample(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float32 (H, W) image at (N,) pixel coordinates; (N,) float32."""
    mx = np.ascontiguousarray(xs, np.float32).reshape(1, -1)
    my = np.ascontiguousarray(ys, np.float32).reshape(1, -1)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()


@dataclass(frozen=True, eq=False)
class IdealPart:
    """The part the measurements describe, drawn over the ROI (every array (H, W), ROI pixels).

    xx, yy: pixel coordinates (float32, read-only broadcast views); u, v: provisional-frame
    coordinates (float32, px from the part centre along e1 / e2); outline_sdf: signed distance (px,
    float32, > 0 outside) to the rounded-rectangle outline; material_sdf: the same with the holes cut
    out (> 0 off the material); clear_of_holes: bool, farther than the blur reach from every hole
    edge; model: float32 fraction of material each pixel should show (0..1, blurred by blur_px).
    half_length_px, half_width_px, corner_radius_px: the outline in px; blur_px: edge blur (px);
    e1, e2: the provisional frame's axes in the ROI.
    """

    xx: np.ndarray
    yy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    outline_sdf: np.ndarray
    material_sdf: np.ndarray
    clear_of_holes: np.ndarray
    model: np.ndarray
    half_length_px: float
    half_width_px: float
    corner_radius_px: float
    blur_px: float
    e1: tuple[float, float]
    e2: tuple[float, float]
    #: float32 (H, W): fraction of each pixel that shows a side wall (outside the top face, inside the
    #: part's silhouette, out of the stage seen through a hole), blurred; None when no wall shows.
    wall: np.ndarray | None = None
    #: Widest wall the parallax shows (px): the stage starts that much beyond the outline.
    wall_reach_px: float = 0.0


@dataclass(frozen=True, eq=False)
class Lighting:
    """Smooth grey-level surfaces fitted to the ROI: material (top face) and stage, float32 (H, W)."""

    material: np.ndarray
    stage: np.ndarray


def cut_holes(
    outline_sdf: np.ndarray,
    xx: np.ndarray,
    yy: np.ndarray,
    holes: list[tuple[tuple[float, float], float]],
    blur_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance to the material and the pixels clear of every hole edge.

    outline_sdf: float32 (H, W) distance to the outline (px, > 0 outside); xx, yy: pixel
    coordinates broadcastable to (H, W); holes: ((cx, cy), radius) px of each fitted hole.
    Returns (material_sdf float32 (H, W): the outline's distance, raised to the distance into each
    hole; clear_of_holes bool (H, W): more than ``4 blur + 2`` px outside every hole).  Only each
    hole's bounding box is visited (cheaper than the whole ROI); the input is not modified.
    """
    shape = outline_sdf.shape
    material_sdf = outline_sdf.copy()
    clear_of_holes = np.ones(shape, bool)
    for (cx, cy), radius in holes:
        reach = radius + 4 * blur_px + 3
        ys0, ys1 = max(0, int(cy - reach)), min(shape[0], int(cy + reach) + 2)
        xs0, xs1 = max(0, int(cx - reach)), min(shape[1], int(cx + reach) + 2)
        rho = np.hypot(xx[ys0:ys1, xs0:xs1] - cx, yy[ys0:ys1, xs0:xs1] - cy)
        box = material_sdf[ys0:ys1, xs0:xs1]
        np.maximum(box, radius - rho, out=box)
        clear_of_holes[ys0:ys1, xs0:xs1] &= rho > radius + 4 * blur_px + 2
    return material_sdf, clear_of_holes


def ideal_image(material_sdf: np.ndarray, blur_px: float) -> np.ndarray:
    """Fraction of material (float32 (H, W), 0..1) a blurred step at ``material_sdf`` (px) shows."""
    model = (material_sdf < 0).astype(np.float32)
    edge_band = np.abs(material_sdf) < 6 * blur_px
    model[edge_band] = norm_cdf(-material_sdf[edge_band] / blur_px)
    return model


def _frame_uv(meas: PartMeasurement, point) -> tuple[float, float]:
    """Provisional-frame coordinates (px from the centre along e1, e2) of an ROI point."""
    dx, dy = point[0] - meas.centre_px[0], point[1] - meas.centre_px[1]
    return dx * meas.e1[0] + dy * meas.e1[1], dx * meas.e2[0] + dy * meas.e2[1]


def widest_wall_px(meas: PartMeasurement, half_length: float, half_width: float) -> float:
    """The widest side wall the parallax shows round the part (px): at the corner furthest from the
    nadir."""
    par = meas.parallax
    nadir_u, nadir_v = _frame_uv(meas, par.nadir_px)
    corners_u = np.array([-half_length, half_length, half_length, -half_length])
    corners_v = np.array([-half_width, -half_width, half_width, half_width])
    return float(par.ratio * np.max(np.hypot(corners_u - nadir_u, corners_v - nadir_v)))


def silhouette_sdf(meas: PartMeasurement, u, v, dims: tuple[float, ...], widest: float) -> np.ndarray:
    """Signed distance (px, float32, > 0 outside) to the part's silhouette at frame coordinates u, v
    ((N,) float32); dims: half length, half width and corner radius (px); widest: the widest wall.

    The silhouette of a prism is the convex hull of its top and bottom faces; in the top face's
    image the bottom is the top shrunk towards the nadir by the parallax ratio.  The hull is the
    union of the faces in between (a homothety family), sampled about a pixel of wall apart: the
    minimum of their distances is the hull's to within a few hundredths of a pixel."""
    par = meas.parallax
    nadir_u, nadir_v = _frame_uv(meas, par.nadir_px)
    sdf = _rrect_sdf(u, v, *dims)
    for t in np.linspace(0.0, 1.0, int(min(np.ceil(widest), 40)) + 1)[1:]:
        k = float(t * par.ratio)
        face = _rrect_sdf((u - k * nadir_u) / (1 - k), (v - k * nadir_v) / (1 - k), *dims)
        np.minimum(sdf, face * np.float32(1 - k), out=sdf)
    return sdf


def not_stage_sdf(
    meas: PartMeasurement, outline_sdf: np.ndarray, u, v, xx, yy, dims, blur_px: float
) -> tuple[np.ndarray | None, float]:
    """Signed distance (px, float32 (H, W), > 0 where only stage shows) to what hides the stage: the
    silhouette less the stage seen through the holes; and the widest wall (px).  (None, 0) without
    parallax.  The silhouette is computed only within reach of the widest wall (beyond it the outline's
    distance serves: nothing but stage shows there); inside each hole the stage shows through the
    overlap of the top opening and the bottom one (the top circle moved towards the nadir)."""
    par = meas.parallax
    if par is None or par.ratio <= 0:
        return None, 0.0
    widest = widest_wall_px(meas, dims[0], dims[1])
    reach = 6 * blur_px
    nonstage = outline_sdf.copy()
    rows, cols = np.nonzero((outline_sdf > -reach) & (outline_sdf < widest + reach))
    nonstage[rows, cols] = silhouette_sdf(meas, u[rows, cols], v[rows, cols], dims, widest)
    for hole in meas.holes:
        (cx, cy), radius = hole.edge.centre, hole.edge.radius
        bx, by = cx + par.ratio * (par.nadir_px[0] - cx), cy + par.ratio * (par.nadir_px[1] - cy)
        box = radius + reach + 2
        y0, y1 = max(0, int(cy - box)), min(nonstage.shape[0], int(cy + box) + 2)
        x0, x1 = max(0, int(cx - box)), min(nonstage.shape[1], int(cx + box) + 2)
        px, py = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]
        top_opening = np.hypot(px - cx, py - cy) - radius
        bottom_opening = np.hypot(px - bx, py - by) - radius * (1 - par.ratio)
        window = nonstage[y0:y1, x0:x1]
        np.maximum(window, -np.maximum(top_opening, bottom_opening), out=window)
    return nonstage, widest


def ideal_part(shape: tuple[int, int], meas: PartMeasurement, corner_radius_mm: float) -> IdealPart:
    """The :class:`IdealPart` of ``meas`` over an ROI of ``shape`` (H, W), with corner radius
    ``corner_radius_mm`` (mm; capped a pixel short of the half width) and, when the measurement
    carries a parallax, the side walls it shows."""
    blur_px = max(meas.blur_px, 0.5)
    mm_per_px = meas.mm_per_px
    half_length, half_width = meas.length_mm / mm_per_px / 2, meas.width_mm / mm_per_px / 2
    corner_radius = min(corner_radius_mm / mm_per_px, half_width - 1)
    xx, yy, u, v = _rrect_frame(meas, shape)
    outline_sdf = _rrect_sdf(u, v, half_length, half_width, corner_radius)
    holes = [(hole.edge.centre, hole.edge.radius) for hole in meas.holes]
    material_sdf, clear_of_holes = cut_holes(outline_sdf, xx, yy, holes, blur_px)
    model = ideal_image(material_sdf, blur_px)
    dims = (half_length, half_width, corner_radius)
    nonstage, widest = not_stage_sdf(meas, outline_sdf, u, v, xx, yy, dims, blur_px)
    wall = None if nonstage is None else np.clip(ideal_image(nonstage, blur_px) - model, 0.0, 1.0)
    return IdealPart(
        xx,
        yy,
        u,
        v,
        outline_sdf,
        material_sdf,
        clear_of_holes,
        model,
        half_length,
        half_width,
        corner_radius,
        blur_px,
        meas.e1,
        meas.e2,
        wall,
        widest,
    )


def fit_lighting(image: np.ndarray, part: IdealPart, step: int = 5) -> Lighting | None:
    """Quadratic surfaces of the material and stage grey levels (lighting gradients).

    image: float32 (H, W) ROI.  Fitted on pixels clear of every edge (material: more than
    ``4 blur + 2`` px inside; stage: ``4 blur + 14`` to 60 px outside the outline), every ``step``-th
    row and column: that still gives thousands of pixels to each quadratic (0.02 grey levels of
    noise).  Returns None when either side has fewer than 50 such pixels (part too small).
    """
    sub = (slice(None, None, step), slice(None, None, step))
    blur_px = part.blur_px
    material_px = part.material_sdf[sub] < -4 * blur_px - 2
    beyond = part.outline_sdf[sub] - part.wall_reach_px  # clear of the widest wall
    stage_px = (beyond > 4 * blur_px + 14) & (beyond < 60)
    if material_px.sum() < 50 or stage_px.sum() < 50:
        return None
    xs, ys, values = part.xx[sub], part.yy[sub], image[sub]
    material = _poly2_fit(xs[material_px], ys[material_px], values[material_px])
    stage = _poly2_fit(xs[stage_px], ys[stage_px], values[stage_px])
    return Lighting(_surface(material, image.shape), _surface(stage, image.shape))


def normalised_excess(
    image: np.ndarray,
    lighting: Lighting,
    model: np.ndarray,
    wall: np.ndarray | None = None,
    wall_contrast: float = 0.0,
) -> np.ndarray:
    """Image minus the ideal part, in units of the local material contrast: float32 (H, W),
    > 0 where there is more material than predicted, < 0 where less (1 = a whole pixel).  The walls
    (``wall`` fraction, float32 (H, W), at ``wall_contrast`` grey levels above the stage) are part of
    the prediction: a wall the camera sees is not material outside the outline."""
    contrast = np.maximum(lighting.material - lighting.stage, 1.0)
    excess = (image - lighting.stage) / contrast - model
    if wall is not None and wall_contrast:
        excess -= wall * (np.float32(wall_contrast) / contrast)
    return excess


def _excess_depth(
    excess: np.ndarray,
    edge_point: np.ndarray,
    normal: np.ndarray,
    tangent: np.ndarray,
    offsets: np.ndarray,
    sign: int,
) -> float:
    """Protrusion (sign 1) or depth (sign -1) of an outline defect, px: the excess integrated along
    the outward ``normal`` over ``offsets`` (px, 0.25 apart) from ``edge_point`` (ROI px), the
    largest over profiles up to 2 px either side along ``tangent``."""
    depth = 0.0
    for shift in np.arange(-2.0, 2.01, 0.5):
        pts = edge_point + shift * tangent + offsets[:, None] * normal
        profile = _sample(excess, pts[:, 0], pts[:, 1])
        depth = max(depth, sign * float(np.sum(profile)) * 0.25)
    return depth


def _outline_defect(
    excess: np.ndarray, part: IdealPart, xs: np.ndarray, ys: np.ndarray, sign: int, mm_per_px: float
) -> tuple[str, float, float] | None:
    """Kind, size (mm) and score of one outline blob (pixels xs, ys), or None when it does not
    touch the outline (the interior search handles it).  sign: 1 for excess material, -1 missing."""
    dist = part.outline_sdf[ys, xs]
    if np.min(np.abs(dist)) > 2.5:
        return None
    a, b, r, blur_px = part.half_length_px, part.half_width_px, part.corner_radius_px, part.blur_px
    deepest = int(np.argmax(np.abs(dist)))
    u, v = part.u[ys[deepest], xs[deepest]], part.v[ys[deepest], xs[deepest]]
    frame_normal, on_corner = _rrect_normal(u, v, a, b, r)
    normal = frame_normal[0] * np.asarray(part.e1) + frame_normal[1] * np.asarray(part.e2)
    tangent = np.array([-normal[1], normal[0]])
    edge_point = np.array([xs[deepest], ys[deepest]], float) - dist[deepest] * normal
    reach = float(np.max(np.abs(dist))) + 4 * blur_px + 2
    if sign > 0:
        offsets = np.arange(-4 * blur_px - 2, reach, 0.25)
    else:
        offsets = np.arange(-reach, 4 * blur_px + 2, 0.25)
    depth = _excess_depth(excess, edge_point, normal, tangent, offsets, sign)
    if sign > 0:
        kind = "burr"
    else:
        kind = "chipped_corner" if on_corner or _near_corner(u, v, a, b, r, 1.0 / mm_per_px) else "chip"
    score = float(np.max(sign * excess[ys, xs])) / 0.02
    return kind, depth * mm_per_px, score


def outline_defects(
    excess: np.ndarray, part: IdealPart, mm_per_px: float, to_drawing: DrawingMapper
) -> tuple[list[Defect], np.ndarray]:
    """Burrs, chips and chipped corners: blobs of excess (or missing) material above
    ``EXCESS_THRESHOLD`` within ``OUTLINE_BAND_MM`` of the outline, away from holes.

    excess: float32 (H, W) from :func:`normalised_excess`; to_drawing: ROI px -> drawing mm.
    Returns (defects, explained: uint8 (H, W), 1 on the pixels of the defects found).
    """
    defects: list[Defect] = []
    explained = np.zeros(excess.shape, np.uint8)
    outline_sdf = part.outline_sdf
    near = (np.abs(outline_sdf) < OUTLINE_BAND_MM / mm_per_px) & part.clear_of_holes
    for sign, region in ((1, outline_sdf > 0.5), (-1, outline_sdf < -0.5)):
        candidates = (near & region & (sign * excess > EXCESS_THRESHOLD)).astype(np.uint8)
        if not cv2.countNonZero(candidates):
            continue
        n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
        for label in range(1, n_labels):
            if stats[label, cv2.CC_STAT_AREA] < 2:
                continue
            ys, xs = np.nonzero(labels == label)
            found = _outline_defect(excess, part, xs, ys, sign, mm_per_px)
            if found is None:
                continue
            kind, size_mm, score = found
            x_mm, y_mm = to_drawing(float(xs.mean()), float(ys.mean()))
            explained[labels == label] = 1
            defects.append(Defect(kind, x_mm, y_mm, size_mm, score, _bbox(stats[label])))
    return defects, explained


def interior_core(material_sdf: np.ndarray, blur_px: float, explained: np.ndarray) -> np.ndarray:
    """Material pixels (bool (H, W)) more than ``3 blur + 2`` px from every edge and clear of the
    outline defects in ``explained`` (uint8 (H, W)): missing material at a chip would otherwise
    show up again as a dark blob."""
    core = material_sdf < -(3 * blur_px + 2)
    if explained.any():
        grow = int(2 * (4 * blur_px + 3)) | 1
        core &= cv2.dilate(explained, np.ones((grow, grow), np.uint8)) == 0
    return core


def smoothed_residual(
    image: np.ndarray, material_level: np.ndarray, core: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Image minus the material level on ``core`` (0 elsewhere), raw and smoothed by a Gaussian
    of ``SMOOTH_PX`` normalised over the core: both float32 (H, W), grey levels."""
    residual = np.where(core, image - material_level, 0).astype(np.float32)
    weight = cv2.GaussianBlur(core.astype(np.float32), (0, 0), SMOOTH_PX)
    smoothed = cv2.GaussianBlur(residual, (0, 0), SMOOTH_PX) / np.maximum(weight, 1e-3)
    return residual, smoothed


def robust_noise(residual: np.ndarray, smoothed: np.ndarray, core: np.ndarray) -> tuple[float, float]:
    """Noise sigma (grey levels, from the MAD) of the raw and smoothed residual over ``core``,
    from every other row and column: a quarter of the pixels pins a median to ~0.2 %."""
    grid = (slice(None, None, 2), slice(None, None, 2))
    core_grid = core[grid]
    noise_smoothed = 1.4826 * float(np.median(np.abs(smoothed[grid][core_grid]))) + 1e-3
    noise = 1.4826 * float(np.median(np.abs(residual[grid][core_grid]))) + 1e-3
    return noise, noise_smoothed


@dataclass(frozen=True)
class BlobShape:
    """Size of one interior blob, px: diameter of the equivalent blurred disk, length and width
    from its second moments (blur cancelled), weighted centre (ROI px) and peak smoothed contrast."""

    diameter: float
    length: float
    width: float
    centre: tuple[float, float]
    peak: float


def blob_shape(
    weights: np.ndarray, inside: np.ndarray, peak: float, blur_px: float, effective_blur_px: float
) -> BlobShape:
    """Measure a blob from its contrast ``weights`` (float32 (h, w), 0 off the blob) over a box.

    inside: bool (h, w), the blob's (grown) pixels; peak: its peak smoothed contrast; blur_px: the
    edge blur; effective_blur_px: blur and smoothing combined.  The centre is in box pixels (the
    box centre when the weights sum to zero or less).
    """
    diameter = _void_diameter(float(weights.sum()), peak, effective_blur_px)
    gy, gx = np.nonzero(inside)
    ww = weights[gy, gx]
    wsum = ww.sum()
    length = width = 0.0
    if wsum > 0:
        mx, my = (ww @ gx) / wsum, (ww @ gy) / wsum
        cxx = (ww @ (gx - mx) ** 2) / wsum
        cyy = (ww @ (gy - my) ** 2) / wsum
        cxy = (ww @ ((gx - mx) * (gy - my))) / wsum
        lam = np.linalg.eigvalsh(np.array([[cxx, cxy], [cxy, cyy]]))
        # A uniform segment of length L has variance L^2 / 12 along it; the
        # blur adds the same s^2 along and across, so it cancels here.
        length = float(np.sqrt(12 * max(lam[1] - lam[0], 0.0)))
        width = float(np.sqrt(12 * max(lam[0] - blur_px * blur_px, 0.0)))
        centre = (mx, my)
    else:
        centre = (weights.shape[1] / 2, weights.shape[0] / 2)
    return BlobShape(diameter, length, width, centre, peak)


def classify_blob(shape: BlobShape, mm_per_px: float, effective_blur_px: float) -> tuple[str, float]:
    """("crack" or "void", size in mm) of an interior blob."""
    kind = (
        "crack" if shape.length >= 2 * max(shape.width, 1.0) and shape.length * mm_per_px >= 0.45 else "void"
    )
    size = max(shape.diameter, shape.length) * mm_per_px
    if kind == "void" and max(shape.diameter, shape.length) < UNRESOLVED_SIGMAS * effective_blur_px:
        # Below about two blur widths a spot's integral and peak both go as contrast x
        # area, so its diameter is barely measurable (a 0.32 mm void at 0.125 mm/px read
        # 0.23 mm).  Report the largest size such a spot can hide: never pass a void at
        # the limit because the optics could not size it.
        size = UNRESOLVED_SIGMAS * effective_blur_px * mm_per_px
    return kind, size


# A faint blob is checked again with the face's brushed texture taken out: below this many noise
# sigmas a streak of the texture can pass for a void; above it, no texture on a station reaches.
RECHECK_BELOW_K = 9.0
TEXTURE_COHERENCE = 0.15  # structure-tensor coherence above which the residual is streaked
STREAK_PX = 31  # length of the line average that estimates the streaks (odd)
# Threshold (noise sigmas) with the streaks taken out.  At 5.5 or 6 a 0.4 mm void of 15 grey
# levels and a faint 0.6 mm crack on a brushed face pass unseen; at 5 they are found, at the price
# of some false rejects (docs/benchmarks.md): a good part rejected goes to a person, a bad one passed
# goes into a hull.
FLAT_K = INTERIOR_K


def streak_direction(smoothed: np.ndarray, core: np.ndarray, noise_smoothed: float) -> float | None:
    """Direction (radians, image axes) along which the residual is streaked (a brushed or turned
    face), or None when it is not: the structure tensor of its gradients over ``core`` (bool) has a
    coherence of at least ``TEXTURE_COHERENCE`` (gradients run across streaks, so the streaks run
    along its weaker eigenvector).  Pixels near anything beyond 4 noise sigmas are left out: one
    crack would otherwise make a plain face look streaked along itself."""
    gx = cv2.Sobel(smoothed, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smoothed, cv2.CV_32F, 0, 1, ksize=3)
    quiet = core & (np.abs(smoothed) < 4 * noise_smoothed)
    inner = cv2.erode(quiet.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    if inner.sum() < 500:
        return None
    jxx, jyy, jxy = (float(np.sum(g[inner], dtype=np.float64)) for g in (gx * gx, gy * gy, gx * gy))
    trace = jxx + jyy
    if trace <= 0:
        return None
    spread = np.hypot(jxx - jyy, 2 * jxy)
    if spread / trace < TEXTURE_COHERENCE:
        return None
    across = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # the stronger eigenvector: across the streaks
    return float(across + np.pi / 2)


def destreaked(residual: np.ndarray, core: np.ndarray, angle: float) -> np.ndarray:
    """``residual`` (float32 (H, W), 0 off ``core``) less its mean along a ``STREAK_PX`` line at
    ``angle`` (core pixels only): what stays constant along the streaks goes, a round blob a few
    pixels across keeps most of its contrast.  The image is turned so the streaks run along its rows
    and a box filter takes the line means (a line kernel at an angle would cost a convolution by DFT)."""
    h, w = residual.shape
    size = int(np.ceil(np.hypot(h, w))) + 2
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), float(np.degrees(angle)), 1.0)
    turn[:, 2] += ((size - w) / 2, (size - h) / 2)
    back = cv2.invertAffineTransform(turn)
    weight = core.astype(np.float32)
    stack = cv2.merge([residual, weight])
    turned = cv2.warpAffine(stack, turn, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    sums = cv2.boxFilter(turned, -1, (STREAK_PX, 1), normalize=False, borderType=cv2.BORDER_CONSTANT)
    means = sums[:, :, 0] / np.maximum(sums[:, :, 1], 1.0)
    mean = cv2.warpAffine(means, back, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.where(core, residual - mean, 0.0).astype(np.float32)


def interior_defects(
    image: np.ndarray,
    material_level: np.ndarray,
    part: IdealPart,
    core: np.ndarray,
    smoothed: np.ndarray,
    noise_smoothed: float,
    mm_per_px: float,
    to_drawing: DrawingMapper,
) -> list[Defect]:
    """Voids and cracks: blobs of the smoothed residual beyond ``INTERIOR_K`` noise sigmas (and 3
    grey levels) on the core, darker (first) or brighter than the material.

    image, material_level, smoothed: float32 (H, W) grey levels; core: bool (H, W) from
    :func:`interior_core`; noise_smoothed: noise of ``smoothed``; to_drawing: ROI px -> drawing mm.
    """
    defects: list[Defect] = []
    blur_px = part.blur_px
    material = part.material_sdf < -1.0
    effective_blur = float(np.sqrt(blur_px * blur_px + SMOOTH_PX**2))
    # On a brushed face the streaks raise the noise: faint voids are sought with them taken out too,
    # and a faint blob of the plain residual must also stand out there (a streak does not).
    flat = flattened_residual(image, material_level, core, smoothed, noise_smoothed)
    for sign in (-1, 1):
        strong = sign * smoothed > max(INTERIOR_K * noise_smoothed, 3.0)
        flat_strong = None if flat is None else sign * flat[0] > max(FLAT_K * flat[1], 3.0)
        candidates = (core & (strong if flat_strong is None else strong | flat_strong)).astype(np.uint8)
        if not cv2.countNonZero(candidates):
            continue
        n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
        for label in range(1, n_labels):
            if stats[label, cv2.CC_STAT_AREA] < 3:
                continue
            if flat_strong is not None and not _stands_out(
                labels, label, stats[label], sign, smoothed, noise_smoothed, flat_strong
            ):
                continue
            x0, y0, x1, y1 = _bbox(stats[label], pad=int(3 * blur_px) + 3, shape=image.shape)
            blob = (labels[y0:y1, x0:x1] == label).astype(np.uint8)
            grown = cv2.dilate(blob, np.ones((5, 5), np.uint8)) > 0
            grown &= material[y0:y1, x0:x1]
            weights = sign * (image[y0:y1, x0:x1] - material_level[y0:y1, x0:x1])
            weights = np.where(grown, weights, 0.0)
            peak = float(np.max(sign * smoothed[y0:y1, x0:x1][blob > 0]))
            shape = blob_shape(weights, grown, peak, blur_px, effective_blur)
            kind, size_mm = classify_blob(shape, mm_per_px, effective_blur)
            x_mm, y_mm = to_drawing(x0 + shape.centre[0], y0 + shape.centre[1])
            defects.append(Defect(kind, x_mm, y_mm, size_mm, peak / noise_smoothed, (x0, y0, x1, y1)))
    return defects


def flattened_residual(
    image, material_level, core, smoothed, noise_smoothed: float
) -> tuple[np.ndarray, float] | None:
    """On a streaked face (see :func:`streak_direction`): the smoothed residual with the streaks
    taken out and its noise sigma (grey levels); None on a face without streaks."""
    angle = streak_direction(smoothed, core, noise_smoothed)
    if angle is None:
        return None
    residual = np.where(core, image - material_level, 0).astype(np.float32)
    weight = cv2.GaussianBlur(core.astype(np.float32), (0, 0), SMOOTH_PX)
    flat = cv2.GaussianBlur(destreaked(residual, core, angle), (0, 0), SMOOTH_PX) / np.maximum(weight, 1e-3)
    grid = (slice(None, None, 2), slice(None, None, 2))
    noise = 1.4826 * float(np.median(np.abs(flat[grid][core[grid]]))) + 1e-3
    return flat, noise


def _stands_out(labels, label, stat, sign, smoothed, noise_smoothed, flat_strong) -> bool:
    """Whether a candidate blob of a streaked face is a defect: clearly beyond the noise of the plain
    residual (``RECHECK_BELOW_K`` sigmas), or beyond ``INTERIOR_K`` sigmas with the streaks taken out
    (``flat_strong``: bool (H, W), ``FLAT_K`` sigmas) within two pixels of it."""
    x0, y0, x1, y1 = _bbox(stat, pad=0)
    mine = labels[y0:y1, x0:x1] == label
    if float(np.max(sign * smoothed[y0:y1, x0:x1][mine])) >= RECHECK_BELOW_K * noise_smoothed:
        return True
    window = (slice(max(0, y0 - 2), y1 + 2), slice(max(0, x0 - 2), x1 + 2))
    return bool(flat_strong[window].any())


def hole_defects(meas: PartMeasurement, reg: Registration) -> list[Defect]:
    """``missing_hole`` (drawing position and diameter) and ``extra_hole`` defects from registration."""
    defects: list[Defect] = []
    for hole in reg.missing:
        p = meas.to_px(reg.to_drawing(np.array([[hole.x, hole.y]]), meas.length_mm, meas.width_mm))[0]
        radius = hole.diameter / meas.mm_per_px / 2
        bbox = (int(p[0] - radius), int(p[1] - radius), int(p[0] + radius) + 1, int(p[1] + radius) + 1)
        defects.append(Defect("missing_hole", hole.x, hole.y, hole.diameter, 99.0, bbox))
    for found, x_mm, y_mm in reg.extra:
        (cx, cy), radius = found.edge.centre, found.edge.radius
        bbox = (int(cx - radius), int(cy - radius), int(cx + radius) + 1, int(cy + radius) + 1)
        defects.append(Defect("extra_hole", x_mm, y_mm, found.diameter, 99.0, bbox))
    return defects


def detect_defects(
    image: np.ndarray,
    meas: PartMeasurement,
    reg: Registration,
    *,
    corner_radius_mm: float,
) -> tuple[list[Defect], dict]:
    """Find defects of the measured part in its rectified ROI.

    image: (H, W) rectified ROI (same as given to measure_part); meas/reg: results of
    measurement and registration; corner_radius_mm: radius used for the ideal outline
    (the nominal one: a corner far off nominal is then reported as a chip as well).
    Returns (defects, diagnostics dict with noise levels and levels used).
    """
    img = np.asarray(image, np.float32)
    part = ideal_part(img.shape, meas, corner_radius_mm)
    lighting = fit_lighting(img, part)
    if lighting is None:
        return [], {"skipped": "part too small for defect detection"}
    excess = normalised_excess(img, lighting, part.model, part.wall, meas.wall_contrast)
    to_drawing = _drawing_mapper(meas, reg)

    # ---- outline defects
    defects, explained = outline_defects(excess, part, meas.mm_per_px, to_drawing)

    # ---- interior defects
    core = interior_core(part.material_sdf, part.blur_px, explained)
    residual, smoothed = smoothed_residual(img, lighting.material, core)
    noise, noise_smoothed = robust_noise(residual, smoothed, core)
    defects += interior_defects(
        img, lighting.material, part, core, smoothed, noise_smoothed, meas.mm_per_px, to_drawing
    )

    # ---- holes
    defects += hole_defects(meas, reg)
    diag = {
        "noise": noise,
        "noise_smoothed": noise_smoothed,
        "material_level": float(np.median(lighting.material)),
    }
    return defects, diag


def _near_corner(u, v, a, b, r, margin):
    return abs(u) > a - r - margin and abs(v) > b - r - margin


def _bbox(stat, pad: int = 2, shape=None):
    x0 = int(stat[cv2.CC_STAT_LEFT]) - pad
    y0 = int(stat[cv2.CC_STAT_TOP]) - pad
    x1 = int(stat[cv2.CC_STAT_LEFT] + stat[cv2.CC_STAT_WIDTH]) + pad
    y1 = int(stat[cv2.CC_STAT_TOP] + stat[cv2.CC_STAT_HEIGHT]) + pad
    if shape is not None:
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    return (x0, y0, x1, y1)


def _drawing_mapper(meas: PartMeasurement, reg: Registration):
    def fn(x_px: float, y_px: float) -> tuple[float, float]:
        p = meas.to_part_mm(np.array([[x_px, y_px]]))
        q = reg.to_drawing(p, meas.length_mm, meas.width_mm)[0]
        return float(q[0]), float(q[1])

    return fn
