"""Sub-pixel edge fitting: a blurred-step (erf) intensity model fitted to pixels.

Instead of thresholding, every pixel in a band around an edge is compared with the
image a blurred ideal edge would produce,

    I(p) = A(p) + B(p) * Phi(d(p) / s) + C * (Phi(d / s) - Phi((d - w(p)) / s)),

where ``d`` is the signed distance of the pixel centre to the edge (a line or a circle),
``s`` the blur (px), ``Phi`` the standard normal CDF and ``A``, ``B`` the two plateau
levels, allowed to vary linearly across the band so a lighting gradient does not bias the
fit.  The last term is the part's side wall: seen from a slightly oblique camera, a strip
of known width ``w`` (from the parallax of the part thickness, 0 where the wall faces
away) lies between the top face and the stage with its own grey level (``C`` above the
stage).  Without it a dark wall 1-3 px wide pulls the fitted edge by ~0.05 px.

The geometry, blur and plateaus are found together by Levenberg-Marquardt, then
re-fitted with Tukey biweights so burrs, chips and dirt in the band do not pull the edge.
Hundreds to thousands of pixels vote, which is what makes hundredth-of-a-pixel accuracy
possible; thresholding then fitting contour points cannot do better than ~0.5 px.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_SQRT2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
ROUND_TOL = 1e-3  # step (px, rad) that ends a robust round other than the last


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    ax = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * ax)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-ax * ax), x)


def norm_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(z / _SQRT2))


def norm_cdf_pdf(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Phi(z), phi(z)): :func:`norm_cdf` and the normal density, sharing one exp and computed
    in place (the edge fits' inner loop evaluates both for every pixel at every step)."""
    z = np.asarray(z, np.float64)
    ax = np.abs(z)
    ax *= 1.0 / _SQRT2
    t = 0.3275911 * ax
    t += 1.0
    np.reciprocal(t, out=t)
    poly = 1.061405429 * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    e = np.square(ax, out=ax)
    np.negative(e, out=e)
    np.exp(e, out=e)
    poly *= e
    poly *= 0.5  # the upper tail, 1 - Phi(|z|)
    cdf = np.where(z >= 0, 1.0 - poly, poly)
    e *= _INV_SQRT_2PI
    return cdf, e


@dataclass(frozen=True, eq=False)
class EdgeFit:
    """Result of :func:`fit_edge_model`.

    geom: fitted geometry parameters; blur_px: fitted s; inner/outer: plateau levels at
    the band centre (d < 0 side / d > 0 side); rms: residual RMS of inliers (grey
    levels); n_used: inlier count; converged: LM reached the step tolerance;
    wall_contrast: fitted (or given) wall-minus-stage level; coef: the plateau
    coefficients (Q a, Q b) and weights: the final robust weights, kept so a refit of the
    same pixels can start here (``start``).
    """

    geom: np.ndarray
    blur_px: float
    inner: float
    outer: float
    rms: float
    n_used: int
    converged: bool
    wall_contrast: float = 0.0
    coef: np.ndarray | None = None
    weights: np.ndarray | None = None


DistanceFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def fit_edge_model(
    values: np.ndarray,
    basis: np.ndarray,
    distance: DistanceFn,
    geom0: np.ndarray,
    *,
    blur0: float = 1.0,
    wall_px: np.ndarray | None = None,
    wall_contrast: float | None = None,
    max_iter: int = 40,
    robust_rounds: int = 2,
    tol: float = 1e-5,
    start: EdgeFit | None = None,
) -> EdgeFit:
    """Fit ``I = Q a + (Q b) * Phi(d(geom) / s)`` to pixel values.

    values: (N,) float grey levels; basis: (N, k) plateau basis Q (first column ones);
    distance(geom) -> (d (N,), dd/dgeom (N, g)) in px, d > 0 off the material.
    geom0: initial geometry (must put the edge within ~2 px).  wall_px: (N,) visible
    side-wall width per pixel (px, >= 0) or None.  wall_contrast: the wall's grey level
    minus the stage's, or None to fit it.  Fit it only where walls are about a pixel
    wide or more: a narrower wall of unknown contrast is indistinguishable from an edge
    shift (the caller pools the contrast over the part's wider walls instead).
    start: an earlier fit of the same pixels and basis (e.g. with the wall contrast free):
    its blur, plateaus and robust weights are the starting point instead of ``blur0``, a
    linear plateau solve and uniform weights, so ``robust_rounds`` = 1 then suffices.
    Each round is Levenberg-Marquardt to a geometry + blur step below ``tol`` (px, rad; the
    rounds before the last to ``ROUND_TOL``), after which the Tukey weights are recomputed
    from the residuals.
    Returns :class:`EdgeFit`; never raises for poor data
    (check ``converged`` and ``rms``).
    """
    values = np.asarray(values, np.float64)
    n, k = basis.shape
    geom = np.asarray(geom0, np.float64).copy()
    g = len(geom)
    use_wall = wall_px is not None and float(np.max(wall_px)) > 0.05
    free_wall = use_wall and wall_contrast is None
    w = np.asarray(wall_px, np.float64) if use_wall else None
    fixed_c = float(wall_contrast or 0.0) if use_wall else 0.0
    n_par = g + 1 + 2 * k + int(free_wall)
    if start is None:
        s = float(blur0)
        # Plateaus from a linear solve for the initial geometry (variable projection start).
        d, _ = distance(geom)
        F = norm_cdf(d / s)
        M = np.empty((n, 2 * k + int(free_wall)))
        M[:, :k] = basis
        M[:, k : 2 * k] = basis * F[:, None]
        target = values
        if use_wall:
            Fw = norm_cdf((d - w) / s)
            if free_wall:
                M[:, -1] = F - Fw
            else:
                target = values - fixed_c * (F - Fw)
        # Normal equations: a few columns and thousands of rows, so this is ~10x cheaper
        # than an SVD and well conditioned (columns are O(1)).
        coef = np.linalg.solve(M.T @ M + 1e-9 * np.eye(M.shape[1]), M.T @ target)
        weights = np.ones(n)
    else:
        s = float(start.blur_px)
        coef = np.asarray(start.coef, np.float64)[: 2 * k]
        if free_wall:
            coef = np.append(coef, start.wall_contrast)
        weights = np.asarray(start.weights, np.float64).copy()
    params = np.concatenate([geom, [s], coef])
    converged = False
    J = np.empty((n, n_par))
    J[:, g + 1 : g + 1 + k] = basis  # d model / d a: constant

    def model(p):
        d, dd = distance(p[:g])
        s = p[g]
        z = d / s
        F, phi = norm_cdf_pdf(z)
        AB = basis @ p[g + 1 : g + 1 + 2 * k].reshape(2, k).T
        B = AB[:, 1]
        pred = AB[:, 0] + B * F
        if use_wall:
            zw = (d - w) / s
            Fw, phiw = norm_cdf_pdf(zw)
            C = p[-1] if free_wall else fixed_c
            return pred + C * (F - Fw), dd, z, F, phi, B, s, zw, Fw, phiw, C
        return pred, dd, z, F, phi, B, s, None, None, None, 0.0

    for rnd in range(robust_rounds + 1):
        # Rounds before the last only set the robust weights: a 1e-3 px step is close enough.
        round_tol = tol if rnd == robust_rounds else max(tol, ROUND_TOL)
        lam = 1e-3
        pred, dd, z, F, phi, B, s_cur, zw, Fw, phiw, C = model(params)
        r = values - pred
        cost = float(weights @ (r * r))
        for _ in range(max_iter):
            # Jacobian of the model: geometry (through d), blur, plateaus, wall contrast.
            if use_wall:
                cphi = (C / s_cur) * phiw
                bphi = (B + C) * phi / s_cur - cphi
                J[:, g] = -(B + C) * phi * z / s_cur + cphi * zw
                if free_wall:
                    J[:, -1] = F - Fw
            else:
                bphi = B * phi / s_cur
                J[:, g] = -bphi * z
            J[:, :g] = bphi[:, None] * dd
            J[:, g + 1 + k : g + 1 + 2 * k] = basis * F[:, None]
            Jw = J * weights[:, None]
            H = J.T @ Jw
            grad = Jw.T @ r
            damp = np.diag(np.diag(H) + 1e-12)
            step_ok = False
            for _ in range(10):
                try:
                    delta = np.linalg.solve(H + lam * damp, grad)
                except np.linalg.LinAlgError:
                    lam *= 10
                    continue
                trial = params + delta
                trial[g] = min(max(trial[g], 0.25), 8.0)
                out = model(trial)
                t_r = values - out[0]
                t_cost = float(weights @ (t_r * t_r))
                if t_cost <= cost:
                    params, r, cost = trial, t_r, t_cost
                    dd, z, F, phi, B, s_cur, zw, Fw, phiw, C = out[1:]
                    lam = max(lam / 10, 1e-9)
                    step_ok = True
                    break
                lam *= 10
            if not step_ok or np.max(np.abs(delta[: g + 1])) < round_tol:
                converged = step_ok or converged
                break
        if rnd < robust_rounds:
            inl = weights > 0
            sigma = 1.4826 * np.median(np.abs(r[inl])) + 1e-6
            c = 4.685 * sigma
            u = r / c
            weights = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
    inl = weights > 0
    rms = float(np.sqrt(np.mean(r[inl] ** 2))) if inl.any() else float("inf")
    a0 = float(params[g + 1])
    b0 = float(params[g + 1 + k])
    wall_c = float(params[-1]) if free_wall else float(wall_contrast or 0.0)
    return EdgeFit(
        params[:g].copy(),
        float(params[g]),
        a0,
        a0 + b0,
        rms,
        int(inl.sum()),
        converged,
        wall_c,
        params[g + 1 : g + 1 + 2 * k].copy(),
        weights,
    )


def line_distance(xs: np.ndarray, ys: np.ndarray) -> DistanceFn:
    """Signed distance to the line ``cos(th) x + sin(th) y = rho`` for geom (th, rho).

    Pass coordinates relative to a point near the band centre so th and rho decouple.
    """

    def fn(geom):
        th, rho = geom
        c, s = np.cos(th), np.sin(th)
        d = c * xs + s * ys - rho
        dd = np.empty((len(xs), 2))
        dd[:, 0] = c * ys - s * xs
        dd[:, 1] = -1.0
        return d, dd

    return fn


def circle_distance(xs: np.ndarray, ys: np.ndarray) -> DistanceFn:
    """Signed distance to the circle geom (cx, cy, r): positive outside."""

    def fn(geom):
        cx, cy, r = geom
        dx, dy = xs - cx, ys - cy
        rho = np.sqrt(dx * dx + dy * dy) + 1e-12
        d = rho - r
        dd = np.empty((len(xs), 3))
        dd[:, 0] = -dx / rho
        dd[:, 1] = -dy / rho
        dd[:, 2] = -1.0
        return d, dd

    return fn
