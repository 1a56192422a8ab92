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

    A = basis(xs, ys)
    vals = np.asarray(vals, np.float64)
    keep = np.ones(len(vals), bool)
    coef = np.zeros(6)
    for _ in range(rounds):
        # Normal equations: six O(1) columns (coordinates scaled to the spread), so they are well
        # conditioned and ~5x cheaper than lstsq's SVD on tens of thousands of rows.
        Ak = A[keep]
        coef = np.linalg.solve(Ak.T @ Ak + 1e-9 * np.eye(6), Ak.T @ vals[keep])
        r = vals - A @ coef
        sigma = 1.4826 * np.median(np.abs(r[keep])) + 1e-6
        keep = np.abs(r) < 3 * sigma
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
    mx = np.ascontiguousarray(xs, np.float32).reshape(1, -1)
    my = np.ascontiguousarray(ys, np.float32).reshape(1, -1)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()


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
    s = max(meas.blur_px, 0.5)
    px = meas.mm_per_px
    a, b = meas.length_mm / px / 2, meas.width_mm / px / 2
    r = min(corner_radius_mm / px, b - 1)
    xx, yy, u, v = _rrect_frame(meas, img.shape)
    sdf_outline = _rrect_sdf(u, v, a, b, r)
    sdf_mat = sdf_outline.copy()
    # Pixels close to a hole edge, per hole bounding box (cheaper than the whole ROI).
    clear_of_holes = np.ones(img.shape, bool)
    for hole in meas.holes:
        (cx, cy), hr = hole.edge.centre, hole.edge.radius
        reach = hr + 4 * s + 3
        ys0, ys1 = max(0, int(cy - reach)), min(img.shape[0], int(cy + reach) + 2)
        xs0, xs1 = max(0, int(cx - reach)), min(img.shape[1], int(cx + reach) + 2)
        rho = np.hypot(xx[ys0:ys1, xs0:xs1] - cx, yy[ys0:ys1, xs0:xs1] - cy)
        np.maximum(sdf_mat[ys0:ys1, xs0:xs1], hr - rho, out=sdf_mat[ys0:ys1, xs0:xs1])
        clear_of_holes[ys0:ys1, xs0:xs1] &= rho > hr + 4 * s + 2
    model = (sdf_mat < 0).astype(np.float32)
    edge_band = np.abs(sdf_mat) < 6 * s
    model[edge_band] = norm_cdf(-sdf_mat[edge_band] / s)

    # Smooth material and stage levels (lighting), from pixels clear of every edge: every 5th row
    # and column still gives thousands of pixels to each quadratic (0.02 grey levels of noise).
    step = 5
    sub = (slice(None, None, step), slice(None, None, step))
    mat_px = sdf_mat[sub] < -4 * s - 2
    stage_px = (sdf_outline[sub] > 4 * s + 14) & (sdf_outline[sub] < 60)
    if mat_px.sum() < 50 or stage_px.sum() < 50:
        return [], {"skipped": "part too small for defect detection"}
    fg = _poly2_fit(xx[sub][mat_px], yy[sub][mat_px], img[sub][mat_px])
    bg = _poly2_fit(xx[sub][stage_px], yy[sub][stage_px], img[sub][stage_px])
    fg_img = _surface(fg, img.shape)
    bg_img = _surface(bg, img.shape)
    contrast = np.maximum(fg_img - bg_img, 1.0)
    excess = (img - bg_img) / contrast - model

    defects: list[Defect] = []
    to_drawing = _drawing_mapper(meas, reg)

    # ---- outline defects
    explained = np.zeros(img.shape, np.uint8)  # pixels of outline defects
    near = (np.abs(sdf_outline) < OUTLINE_BAND_MM / px) & clear_of_holes
    for kind_sign, region in ((1, sdf_outline > 0.5), (-1, sdf_outline < -0.5)):
        cand = (near & region & (kind_sign * excess > EXCESS_THRESHOLD)).astype(np.uint8)
        if not cv2.countNonZero(cand):
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] < 2:
                continue
            ys_k, xs_k = np.nonzero(labels == k)
            dist = sdf_outline[ys_k, xs_k]
            if np.min(np.abs(dist)) > 2.5:
                continue  # not attached to the edge: interior detection handles it
            deepest = int(np.argmax(np.abs(dist)))
            uu, vv = u[ys_k[deepest], xs_k[deepest]], v[ys_k[deepest], xs_k[deepest]]
            nrm, on_corner = _rrect_normal(uu, vv, a, b, r)
            n_img = nrm[0] * np.asarray(meas.e1) + nrm[1] * np.asarray(meas.e2)
            t_img = np.array([-n_img[1], n_img[0]])
            p_edge = np.array([xs_k[deepest], ys_k[deepest]], float) - dist[deepest] * n_img
            reach = float(np.max(np.abs(dist))) + 4 * s + 2
            ts = np.arange(-4 * s - 2, reach, 0.25) if kind_sign > 0 else np.arange(-reach, 4 * s + 2, 0.25)
            depth = 0.0
            for tau in np.arange(-2.0, 2.01, 0.5):
                pts = p_edge + tau * t_img + ts[:, None] * n_img
                prof = _sample(excess, pts[:, 0], pts[:, 1])
                depth = max(depth, kind_sign * float(np.sum(prof)) * 0.25)
            cx_k, cy_k = float(xs_k.mean()), float(ys_k.mean())
            x_d, y_d = to_drawing(cx_k, cy_k)
            if kind_sign > 0:
                kind = "burr"
            else:
                kind = "chipped_corner" if on_corner or _near_corner(uu, vv, a, b, r, 1.0 / px) else "chip"
            score = float(np.max(kind_sign * excess[ys_k, xs_k])) / 0.02
            bbox = _bbox(stats[k])
            explained[labels == k] = 1
            defects.append(Defect(kind, x_d, y_d, depth * px, score, bbox))

    # ---- interior defects
    core = sdf_mat < -(3 * s + 2)
    if explained.any():
        # Missing material at a chip would otherwise show up again as a dark blob.
        grow = int(2 * (4 * s + 3)) | 1
        core &= cv2.dilate(explained, np.ones((grow, grow), np.uint8)) == 0
    resid = np.where(core, img - fg_img, 0).astype(np.float32)
    coref = core.astype(np.float32)
    den = cv2.GaussianBlur(coref, (0, 0), SMOOTH_PX)
    smooth = cv2.GaussianBlur(resid, (0, 0), SMOOTH_PX) / np.maximum(den, 1e-3)
    # Noise from every other row and column: a quarter of the pixels pins a median to ~0.2 %.
    grid = (slice(None, None, 2), slice(None, None, 2))
    core_g = core[grid]
    noise_s = 1.4826 * float(np.median(np.abs(smooth[grid][core_g]))) + 1e-3
    noise = 1.4826 * float(np.median(np.abs(resid[grid][core_g]))) + 1e-3
    material = sdf_mat < -1.0
    s_eff = float(np.sqrt(s * s + SMOOTH_PX**2))
    for sign in (-1, 1):
        cand = (core & (sign * smooth > max(INTERIOR_K * noise_s, 3.0))).astype(np.uint8)
        if not cv2.countNonZero(cand):
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] < 3:
                continue
            x0, y0, x1, y1 = _bbox(stats[k], pad=int(3 * s) + 3, shape=img.shape)
            comp = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
            grown = cv2.dilate(comp, np.ones((5, 5), np.uint8)) > 0
            grown &= material[y0:y1, x0:x1]
            wgt = sign * (img[y0:y1, x0:x1] - fg_img[y0:y1, x0:x1])
            wgt = np.where(grown, wgt, 0.0)
            total = float(wgt.sum())
            peak = float(np.max(sign * smooth[y0:y1, x0:x1][comp > 0]))
            diameter = _void_diameter(total, peak, s_eff)
            gy, gx = np.nonzero(grown)
            ww = wgt[gy, gx]
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
                width = float(np.sqrt(12 * max(lam[0] - s * s, 0.0)))
                cx_k, cy_k = x0 + mx, y0 + my
            else:
                cx_k, cy_k = (x0 + x1) / 2, (y0 + y1) / 2
            kind = "crack" if length >= 2 * max(width, 1.0) and length * px >= 0.45 else "void"
            size = max(diameter, length) * px
            if kind == "void" and max(diameter, length) < UNRESOLVED_SIGMAS * s_eff:
                # Below about two blur widths a spot's integral and peak both go as contrast x
                # area, so its diameter is barely measurable (a 0.32 mm void at 0.125 mm/px read
                # 0.23 mm).  Report the largest size such a spot can hide: never pass a void at
                # the limit because the optics could not size it.
                size = UNRESOLVED_SIGMAS * s_eff * px
            x_d, y_d = to_drawing(cx_k, cy_k)
            defects.append(Defect(kind, x_d, y_d, size, peak / noise_s, (x0, y0, x1, y1)))

    # ---- holes
    for hs in reg.missing:
        p = meas.to_px(reg.to_drawing(np.array([[hs.x, hs.y]]), meas.length_mm, meas.width_mm))[0]
        rr = hs.diameter / px / 2
        bbox = (int(p[0] - rr), int(p[1] - rr), int(p[0] + rr) + 1, int(p[1] + rr) + 1)
        defects.append(Defect("missing_hole", hs.x, hs.y, hs.diameter, 99.0, bbox))
    for hm, x_d, y_d in reg.extra:
        (cx, cy), rr = hm.edge.centre, hm.edge.radius
        bbox = (int(cx - rr), int(cy - rr), int(cx + rr) + 1, int(cy + rr) + 1)
        defects.append(Defect("extra_hole", x_d, y_d, hm.diameter, 99.0, bbox))
    diag = {"noise": noise, "noise_smoothed": noise_s, "material_level": float(np.median(fg_img))}
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
