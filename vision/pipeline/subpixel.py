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
from dataclasses import dataclass, replace

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


@dataclass(frozen=True, eq=False)
class EdgeProblem:
    """What one edge fit fits (see :func:`fit_edge_model`).

    values: (N,) float64 grey levels; basis: (N, k) plateau basis Q; distance: geom -> (d (N,),
    dd/dgeom (N, n_geom)) px; wall_px: (N,) float64 visible wall width (px), or None where no wall
    shows; fixed_wall_contrast: the wall's level above the stage when given (0 without walls);
    free_wall: the wall contrast is a fitted parameter.  The parameter vector is
    ``(geom (n_geom), blur (px), a (k), b (k)[, wall contrast])``.
    """

    values: np.ndarray
    basis: np.ndarray
    distance: DistanceFn
    n_geom: int
    wall_px: np.ndarray | None
    fixed_wall_contrast: float
    free_wall: bool

    @property
    def n_plateau(self) -> int:
        return self.basis.shape[1]

    @property
    def n_params(self) -> int:
        return self.n_geom + 1 + 2 * self.n_plateau + int(self.free_wall)


@dataclass(frozen=True, eq=False)
class ModelState:
    """The edge model at one parameter vector, with what its Jacobian needs (all (N,) float64 but
    the scalars): prediction (grey levels); d_geom: dd/dgeom (N, n_geom); z = d / blur; cdf, pdf:
    Phi(z), phi(z); step: the plateau step B; blur (px); wall_z, wall_cdf, wall_pdf: the same at the
    wall's far side (None without walls); wall_contrast: C (0.0 without walls)."""

    prediction: np.ndarray
    d_geom: np.ndarray
    z: np.ndarray
    cdf: np.ndarray
    pdf: np.ndarray
    step: np.ndarray
    blur: float
    wall_z: np.ndarray | None
    wall_cdf: np.ndarray | None
    wall_pdf: np.ndarray | None
    wall_contrast: float


def evaluate_edge_model(problem: EdgeProblem, params: np.ndarray) -> ModelState:
    """The model ``Q a + (Q b) Phi(d / s) + C (Phi(d / s) - Phi((d - w) / s))`` at ``params``."""
    n_geom, n_plateau = problem.n_geom, problem.n_plateau
    dist, d_geom = problem.distance(params[:n_geom])
    blur = params[n_geom]
    z = dist / blur
    cdf, pdf = norm_cdf_pdf(z)
    plateaus = problem.basis @ params[n_geom + 1 : n_geom + 1 + 2 * n_plateau].reshape(2, n_plateau).T
    step = plateaus[:, 1]
    prediction = plateaus[:, 0] + step * cdf
    if problem.wall_px is None:
        return ModelState(prediction, d_geom, z, cdf, pdf, step, blur, None, None, None, 0.0)
    wall_z = (dist - problem.wall_px) / blur
    wall_cdf, wall_pdf = norm_cdf_pdf(wall_z)
    contrast = params[-1] if problem.free_wall else problem.fixed_wall_contrast
    prediction = prediction + contrast * (cdf - wall_cdf)
    return ModelState(prediction, d_geom, z, cdf, pdf, step, blur, wall_z, wall_cdf, wall_pdf, contrast)


def fill_jacobian(problem: EdgeProblem, state: ModelState, jac: np.ndarray) -> np.ndarray:
    """Write the model's Jacobian at ``state`` into ``jac`` ((N, n_params) float64, whose plateau
    ``a`` columns already hold the basis: they are constant) and return it.  Columns: geometry
    (through d), blur, plateaus a and b, wall contrast when fitted."""
    n_geom, n_plateau = problem.n_geom, problem.n_plateau
    step, blur, pdf, z = state.step, state.blur, state.pdf, state.z
    if problem.wall_px is not None:
        contrast = state.wall_contrast
        wall_term = (contrast / blur) * state.wall_pdf
        edge_term = (step + contrast) * pdf / blur - wall_term
        jac[:, n_geom] = -(step + contrast) * pdf * z / blur + wall_term * state.wall_z
        if problem.free_wall:
            jac[:, -1] = state.cdf - state.wall_cdf
    else:
        edge_term = step * pdf / blur
        jac[:, n_geom] = -edge_term * z
    jac[:, :n_geom] = edge_term[:, None] * state.d_geom
    jac[:, n_geom + 1 + n_plateau : n_geom + 1 + 2 * n_plateau] = problem.basis * state.cdf[:, None]
    return jac


def initial_plateaus(problem: EdgeProblem, geom: np.ndarray, blur: float) -> np.ndarray:
    """Plateau coefficients (a, b[, wall contrast]) from a linear solve at the initial geometry
    and blur (variable projection start)."""
    n_px, n_plateau = problem.basis.shape
    dist, _ = problem.distance(geom)
    cdf = norm_cdf(dist / blur)
    design = np.empty((n_px, 2 * n_plateau + int(problem.free_wall)))
    design[:, :n_plateau] = problem.basis
    design[:, n_plateau : 2 * n_plateau] = problem.basis * cdf[:, None]
    target = problem.values
    if problem.wall_px is not None:
        wall_cdf = norm_cdf((dist - problem.wall_px) / blur)
        if problem.free_wall:
            design[:, -1] = cdf - wall_cdf
        else:
            target = problem.values - problem.fixed_wall_contrast * (cdf - wall_cdf)
    # Normal equations: a few columns and thousands of rows, so this is ~10x cheaper
    # than an SVD and well conditioned (columns are O(1)).
    return np.linalg.solve(design.T @ design + 1e-9 * np.eye(design.shape[1]), design.T @ target)


def levenberg_marquardt(
    problem: EdgeProblem,
    params: np.ndarray,
    weights: np.ndarray,
    jac: np.ndarray,
    *,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Weighted Levenberg-Marquardt from ``params`` until a geometry + blur step is below ``tol``
    (px, rad) or ``max_iter`` iterations; the blur is kept within 0.25-8 px.

    weights: (N,) robust weights; jac: (N, n_params) work array (see :func:`fill_jacobian`).
    Returns (params, residuals (N,) grey levels at them, stopped: the step tolerance was reached
    after an accepted step).
    """
    n_geom = problem.n_geom
    values = problem.values
    damping = 1e-3
    state = evaluate_edge_model(problem, params)
    residuals = values - state.prediction
    cost = float(weights @ (residuals * residuals))
    for _ in range(max_iter):
        fill_jacobian(problem, state, jac)
        weighted_jac = jac * weights[:, None]
        hessian = jac.T @ weighted_jac
        grad = weighted_jac.T @ residuals
        diagonal = np.diag(np.diag(hessian) + 1e-12)
        step_ok = False
        for _ in range(10):
            try:
                delta = np.linalg.solve(hessian + damping * diagonal, grad)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            trial = params + delta
            trial[n_geom] = min(max(trial[n_geom], 0.25), 8.0)
            trial_state = evaluate_edge_model(problem, trial)
            trial_residuals = values - trial_state.prediction
            trial_cost = float(weights @ (trial_residuals * trial_residuals))
            if trial_cost <= cost:
                params, residuals, cost, state = trial, trial_residuals, trial_cost, trial_state
                damping = max(damping / 10, 1e-9)
                step_ok = True
                break
            damping *= 10
        if not step_ok or np.max(np.abs(delta[: n_geom + 1])) < tol:
            return params, residuals, step_ok
    return params, residuals, False


def tukey_weights(residuals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Tukey biweights (N,) of ``residuals`` (grey levels), scaled by 4.685 sigmas, sigma the MAD
    of the residuals of the current inliers (``weights > 0``)."""
    inliers = weights > 0
    sigma = 1.4826 * np.median(np.abs(residuals[inliers])) + 1e-6
    scaled = residuals / (4.685 * sigma)
    return np.where(np.abs(scaled) < 1, (1 - scaled * scaled) ** 2, 0.0)


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
    geom = np.asarray(geom0, np.float64).copy()
    use_wall = wall_px is not None and float(np.max(wall_px)) > 0.05
    problem = EdgeProblem(
        np.asarray(values, np.float64),
        basis,
        distance,
        len(geom),
        np.asarray(wall_px, np.float64) if use_wall else None,
        float(wall_contrast or 0.0) if use_wall else 0.0,
        use_wall and wall_contrast is None,
    )
    n_px, n_plateau = basis.shape
    params, weights = _starting_point(problem, geom, blur0, start)
    jac = np.empty((n_px, problem.n_params))
    jac[:, problem.n_geom + 1 : problem.n_geom + 1 + n_plateau] = basis  # d model / d a: constant
    converged = False
    for round_no in range(robust_rounds + 1):
        # Rounds before the last only set the robust weights: a 1e-3 px step is close enough.
        round_tol = tol if round_no == robust_rounds else max(tol, ROUND_TOL)
        params, residuals, stopped = levenberg_marquardt(
            problem, params, weights, jac, tol=round_tol, max_iter=max_iter
        )
        converged = stopped or converged
        if round_no < robust_rounds:
            weights = tukey_weights(residuals, weights)
    return _edge_fit(problem, params, residuals, weights, converged, wall_contrast)


#: Wall contrasts, as fractions of the span of the pixels' grey levels, that a free wall fit starts
#: from (the best of short fixed-contrast fits): the cost has a false minimum near zero contrast for
#: walls a couple of pixels wide, where the wall and a wider blur explain the profile almost alike.
WALL_SCAN = (-0.1, 0.15, 0.4, 0.65, 0.9)


def scan_wall_contrast(
    values: np.ndarray,
    basis: np.ndarray,
    distance: DistanceFn,
    geom0: np.ndarray,
    *,
    wall_px: np.ndarray,
    blur0: float = 1.0,
) -> EdgeFit:
    """The lowest-RMS of short fits (no robust rounds, at most 12 iterations) with the wall contrast
    fixed at each of ``WALL_SCAN`` times the span of ``values`` (5th to 95th percentile): a start for
    :func:`fit_edge_model` with the contrast free (``start=``).  Arguments as there; pass a subset
    of an edge's pixels (a couple of thousand pin the contrast's basin): the start's robust weights
    are left out (None), so it serves a fit of all of them."""
    low, high = np.percentile(values, (5, 95))
    best = None
    for fraction in WALL_SCAN:
        fit = fit_edge_model(
            values,
            basis,
            distance,
            geom0,
            blur0=blur0,
            wall_px=wall_px,
            wall_contrast=float(fraction * (high - low)),
            max_iter=12,
            robust_rounds=0,
        )
        if best is None or fit.rms < best.rms:
            best = fit
    return replace(best, weights=None)


def _starting_point(
    problem: EdgeProblem, geom: np.ndarray, blur0: float, start: EdgeFit | None
) -> tuple[np.ndarray, np.ndarray]:
    """Initial parameter vector and robust weights (N,): ``geom`` with ``blur0``, plateaus from
    :func:`initial_plateaus` and uniform weights, or ``geom`` with the blur, plateaus (and wall
    contrast, when fitted) and weights of an earlier fit ``start`` of the same pixels."""
    n_px, n_plateau = problem.basis.shape
    if start is None:
        blur = float(blur0)
        coef = initial_plateaus(problem, geom, blur)
        weights = np.ones(n_px)
    else:
        blur = float(start.blur_px)
        coef = np.asarray(start.coef, np.float64)[: 2 * n_plateau]
        if problem.free_wall:
            coef = np.append(coef, start.wall_contrast)
        weights = np.ones(n_px) if start.weights is None else np.asarray(start.weights, np.float64).copy()
    return np.concatenate([geom, [blur], coef]), weights


def _edge_fit(
    problem: EdgeProblem,
    params: np.ndarray,
    residuals: np.ndarray,
    weights: np.ndarray,
    converged: bool,
    wall_contrast: float | None,
) -> EdgeFit:
    """The :class:`EdgeFit` of the final parameters, residuals and robust weights."""
    n_geom, n_plateau = problem.n_geom, problem.n_plateau
    inliers = weights > 0
    rms = float(np.sqrt(np.mean(residuals[inliers] ** 2))) if inliers.any() else float("inf")
    a0 = float(params[n_geom + 1])
    b0 = float(params[n_geom + 1 + n_plateau])
    fitted_wall = float(params[-1]) if problem.free_wall else float(wall_contrast or 0.0)
    return EdgeFit(
        params[:n_geom].copy(),
        float(params[n_geom]),
        a0,
        a0 + b0,
        rms,
        int(inliers.sum()),
        converged,
        fitted_wall,
        params[n_geom + 1 : n_geom + 1 + 2 * n_plateau].copy(),
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
