"""Simulated camera station: renders ChArUco boards and parts from first principles.

Demo equipment (like the machine simulators beside it): ``manage.py simulate_camera`` (:mod:`demo.camera`)
photographs stock awaiting inspection with it, the demo seed calibrates Station-1 from its board views,
and the vision tests and benchmark use it as ground truth. Django-free.

A pinhole camera with Brown-Conrady distortion (k1, k2, p1, p2, k3) looks down at the
stage, tilted a few degrees.  Every image pixel is back-projected (own iterative
undistortion, not OpenCV's, so the pipeline is checked against an independent model)
and intersected with the planes of interest:

* parts are prisms: the top face lies at ``z = -thickness`` (stage frame, z points into
  the stage), the side walls are found by sweeping the outline over several heights and
  through-holes show the stage only where the ray passes the hole at every height;
* coverage of each pixel is analytic: the signed distance of the pixel centre and its
  gradient give the area of the pixel square on the inside of the locally straight edge
  (exact for straight edges), plus the mean area between a circular arc and its tangent,
  1/(24 R) px per pixel of edge, on holes and corner arcs (without it a 3 mm hole would be
  drawn ~0.0005 mm too large, a bias the benchmark would blame on the pipeline);
* then a lighting gradient with vignetting, a Gaussian optical blur, Gaussian noise and
  8-bit quantisation.

ChArUco calibration views warp ``board.generateImage`` through the same camera model.
Every render returns the image together with its ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from drawing import Drawing, Hole
from vision.pipeline.calibration import BoardConfig

# ----------------------------------------------------------------------------- camera


@dataclass(frozen=True, eq=False)
class Camera:
    """Intrinsics K, distortion (k1, k2, p1, p2, k3), size (w, h) and the stage pose:
    ``X_cam = R @ X_stage + t`` (mm)."""

    K: np.ndarray
    dist: np.ndarray
    size: tuple[int, int]
    R: np.ndarray
    t: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        return -self.R.T @ self.t


def rot_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def make_camera(
    size: tuple[int, int] = (2448, 2048),
    *,
    mm_per_px: float = 0.1,
    distance_mm: float = 500.0,
    tilt_deg: tuple[float, float] = (3.0, -2.0),
    dist: tuple[float, ...] = (-0.08, 0.12, 4e-4, -3e-4, 0.0),
    principal_offset: tuple[float, float] = (11.0, -7.0),
    aim_mm: tuple[float, float] = (120.0, 100.0),
) -> Camera:
    """Camera ``distance_mm`` from the stage point ``aim_mm`` with ``mm_per_px`` there."""
    f = distance_mm / mm_per_px
    w, h = size
    K = np.array(
        [
            [f, 0, (w - 1) / 2 + principal_offset[0]],
            [0, f * 1.0002, (h - 1) / 2 + principal_offset[1]],
            [0, 0, 1],
        ]
    )
    R = rot_x(tilt_deg[0]) @ rot_y(tilt_deg[1])
    axis = R.T @ np.array([0.0, 0.0, 1.0])  # optical axis in stage coordinates
    centre = np.array([aim_mm[0], aim_mm[1], 0.0]) - distance_mm * axis / axis[2]
    return Camera(K, np.asarray(dist, float), size, R, -R @ centre)


_RAY_CACHE: dict[int, tuple[Camera, np.ndarray, np.ndarray]] = {}


def undistort_normalised(xd: np.ndarray, yd: np.ndarray, dist: np.ndarray, iters: int = 15):
    """Invert the distortion model by fixed-point iteration (contracting for |k r^2| << 1)."""
    k1, k2, p1, p2, k3 = (list(dist) + [0.0] * 5)[:5]
    x, y = xd.copy(), yd.copy()
    for _ in range(iters):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    return x, y


def distort_normalised(x, y, dist):
    k1, k2, p1, p2, k3 = (list(dist) + [0.0] * 5)[:5]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    return (
        x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
        y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y,
    )


def camera_rays(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised coordinates (x, y) of every pixel centre, (h, w) float64."""
    hit = _RAY_CACHE.get(id(cam))
    if hit is not None and hit[0] is cam:
        return hit[1], hit[2]
    w, h = cam.size
    K = cam.K
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    yd = (v - K[1, 2]) / K[1, 1]
    xd = (u - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    x, y = undistort_normalised(xd, yd, cam.dist)
    if len(_RAY_CACHE) > 3:
        _RAY_CACHE.clear()
    _RAY_CACHE[id(cam)] = (cam, x, y)
    return x, y


def project(cam: Camera, pts: np.ndarray) -> np.ndarray:
    """Stage points (N, 3) -> distorted pixels (N, 2)."""
    pc = np.asarray(pts, float) @ cam.R.T + cam.t
    x, y = distort_normalised(pc[:, 0] / pc[:, 2], pc[:, 1] / pc[:, 2], cam.dist)
    K = cam.K
    return np.column_stack([K[0, 0] * x + K[0, 1] * y + K[0, 2], K[1, 1] * y + K[1, 2]])


def plane_points(cam: Camera, rx, ry, R_plane=None, t_plane=None, z: float = 0.0):
    """Intersect pixel rays (normalised coords rx, ry) with ``z = z`` of a plane frame
    whose pose is ``X_cam = R_plane @ X + t_plane`` (default: the stage)."""
    R = cam.R if R_plane is None else R_plane
    t = cam.t if t_plane is None else t_plane
    c = -R.T @ t
    dx = R[0, 0] * rx + R[1, 0] * ry + R[2, 0]
    dy = R[0, 1] * rx + R[1, 1] * ry + R[2, 1]
    dz = R[0, 2] * rx + R[1, 2] * ry + R[2, 2]
    lam = (z - c[2]) / dz
    return c[0] + lam * dx, c[1] + lam * dy


def lighting(cam: Camera, rows: slice, cols: slice, strength: float = 1.0) -> np.ndarray:
    """Smooth illumination: a linear gradient plus vignetting, ~±10 % over the frame."""
    w, h = cam.size
    v, u = np.mgrid[rows, cols].astype(np.float64)
    un, vn = (u - w / 2) / w, (v - h / 2) / h
    return 1 + strength * (0.12 * un - 0.06 * vn - 0.25 * (un * un + vn * vn))


_LIGHT_CACHE: dict[tuple[int, float], tuple[Camera, np.ndarray]] = {}


def _full_lighting(cam: Camera, strength: float = 1.0) -> np.ndarray:
    """:func:`lighting` over the whole frame as float32, cached per camera and strength (read-only:
    callers multiply into their own image, never in place)."""
    key = (id(cam), round(strength, 2))
    hit = _LIGHT_CACHE.get(key)
    if hit is None or hit[0] is not cam:
        w, h = cam.size
        if len(_LIGHT_CACHE) > 3:
            _LIGHT_CACHE.clear()
        hit = (cam, lighting(cam, slice(0, h), slice(0, w), round(strength, 2)).astype(np.float32))
        _LIGHT_CACHE[key] = hit
    return hit[1]


def finish(
    img: np.ndarray, rng: np.random.Generator, blur: float, noise: float, shot_gain: float | None = None
) -> np.ndarray:
    """Optical blur, sensor noise (read noise ``noise`` grey levels; shot noise of variance
    ``level / shot_gain`` when given) and 8-bit quantisation."""
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if shot_gain is None:
        img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    else:
        sigma = np.sqrt(noise * noise + np.maximum(img, 0.0) / np.float32(shot_gain))
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * sigma
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def brushed_texture(shape: tuple[int, int], rng: np.random.Generator, look: Appearance) -> np.ndarray:
    """Zero-mean streaks of standard deviation ``look.texture`` grey levels along
    ``look.texture_angle_deg``: white noise smeared along a line ``look.texture_streak_px`` long."""
    length = max(3, round(look.texture_streak_px) | 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), look.texture_angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length), flags=cv2.INTER_LINEAR)
    kernel /= np.sqrt(np.sum(kernel * kernel))  # keeps the noise's standard deviation
    noise = rng.standard_normal(shape, dtype=np.float32)
    streaks = cv2.filter2D(noise, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return streaks * np.float32(look.texture)


# ----------------------------------------------------------------------- ChArUco views


def board_pose(
    cam: Camera,
    board: BoardConfig,
    tilt: tuple[float, float, float],
    distance: float,
    shift: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Pose (R, t) of a board tilted by (rx, ry, rz) degrees, centred ``distance`` mm in
    front of the camera (plus a lateral shift in mm)."""
    R = rot_x(tilt[0]) @ rot_y(tilt[1]) @ rot_z(tilt[2])
    centre = np.array([board.squares_x * board.square_mm / 2, board.squares_y * board.square_mm / 2, 0])
    t = np.array([shift[0], shift[1], distance]) - R @ centre
    return R, t


def stage_board_pose(cam: Camera, board: BoardConfig) -> tuple[np.ndarray, np.ndarray]:
    """The board lying flat on the stage, its printed face ``thickness_mm`` above it."""
    R = cam.R
    t = cam.t + R @ np.array([0.0, 0.0, -board.thickness_mm])
    return R, t


_TEXTURES: dict[tuple, tuple[np.ndarray, float, float]] = {}


def _board_texture(board: BoardConfig, ppm: float) -> tuple[np.ndarray, float, float]:
    key = (board, ppm)
    if key not in _TEXTURES:
        sq = round(board.square_mm * ppm)
        margin = sq // 2
        out = (board.squares_x * sq + 2 * margin, board.squares_y * sq + 2 * margin)
        tex = board.make_board().generateImage(out, marginSize=margin, borderBits=1)
        ppm_exact = sq / board.square_mm
        _TEXTURES.clear()
        _TEXTURES[key] = (tex.astype(np.float32) / 255.0, ppm_exact, margin / ppm_exact)
    return _TEXTURES[key]


def render_board(
    cam: Camera,
    board: BoardConfig,
    R_b: np.ndarray,
    t_b: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    blur: float = 0.8,
    noise: float = 1.5,
    ppm: float = 16.0,
) -> np.ndarray:
    """Camera image of a ChArUco board with pose ``X_cam = R_b @ X_board + t_b``."""
    rng = rng or np.random.default_rng(0)
    tex, ppm_exact, margin_mm = _board_texture(board, ppm)
    rx, ry = camera_rays(cam)
    bx, by = plane_points(cam, rx, ry, R_b, t_b)
    # Prefilter the texture to about one camera pixel so bilinear sampling does not alias.
    cam_scale = cam.K[0, 0] / float(np.linalg.norm(t_b))  # camera px per mm, roughly
    sigma = max(0.5, 0.5 * ppm_exact / cam_scale)
    tex_f = cv2.GaussianBlur(tex, (0, 0), sigma)
    mx = ((bx + margin_mm) * ppm_exact - 0.5).astype(np.float32)
    my = ((by + margin_mm) * ppm_exact - 0.5).astype(np.float32)
    sample = cv2.remap(tex_f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=-1)
    inside = sample >= 0
    val = np.where(inside, 25 + 195 * np.clip(sample, 0, 1), 70).astype(np.float32)
    val *= lighting(cam, slice(0, cam.size[1]), slice(0, cam.size[0])).astype(np.float32)
    return finish(val, rng, blur, noise)


def calibration_views(
    cam: Camera,
    board: BoardConfig,
    n: int = 8,
    *,
    distance: float | None = None,
    rng: np.random.Generator | None = None,
    spread: float = 0.05,
    **kw,
) -> list[np.ndarray]:
    """``n`` views of the board tilted 28 degrees about varied axes, shifted sideways by
    up to ``spread`` times the distance (so small boards still reach the corners)."""
    rng = rng or np.random.default_rng(1)
    d = distance if distance is not None else float(cam.K[0, 0]) * 0.1
    views = []
    for i in range(n):
        ang = 2 * math.pi * i / n
        tilt = (28 * math.cos(ang), 28 * math.sin(ang), float(rng.uniform(-20, 20)))
        shift = (float(rng.uniform(-spread, spread)) * d, float(rng.uniform(-spread, spread)) * d)
        R, t = board_pose(cam, board, tilt, d * float(rng.uniform(0.95, 1.1)), shift)
        views.append(render_board(cam, board, R, t, rng=rng, **kw))
    return views


# ----------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Defect:
    """A planted defect in the drawing frame (mm). ``size`` is what the pipeline should
    report: diameter of voids, length of cracks, protrusion of burrs, depth of chips,
    diameter of missing / extra holes."""

    type: str
    x: float
    y: float
    size: float
    params: tuple = ()
    contrast: float = 0.0


@dataclass(frozen=True)
class PartTruth:
    """What was rendered (the "actual" part), the spec it is checked against, and the
    verdict a correct inspection must give."""

    spec: dict
    length: float
    width: float
    corner_radius: float
    thickness: float
    holes: tuple[Hole, ...]
    defects: tuple[Defect, ...] = ()
    centre_mm: tuple[float, float] = (0.0, 0.0)
    angle_deg: float = 0.0
    flipped: bool = False
    expected_verdict: str = "PASS"
    out_of_tolerance: tuple[str, ...] = ()


@dataclass(frozen=True)
class Appearance:
    """How a scene looks, before lighting: grey levels of the top face, the stage and the side walls
    (walls catch the ring light: anywhere between the stage and the top face on a real station), the
    lighting's strength (1.0: about +-10 % gradient and vignetting over the frame; 1.5: +-15 %), optical
    blur sigma (px), read noise (grey levels), shot noise (``shot_gain`` electrons per grey level: the
    variance adds ``level / shot_gain``; None: none) and a brushed texture on the top face (standard
    deviation in grey levels, streaks ``texture_streak_px`` long along ``texture_angle_deg``)."""

    top: float = 185.0
    background: float = 45.0
    wall: float = 34.0
    blur: float = 1.0
    noise: float = 2.0
    light_strength: float = 1.0
    shot_gain: float | None = None
    texture: float = 0.0
    texture_angle_deg: float = 0.0
    texture_streak_px: float = 25.0


def station_appearance(rng: np.random.Generator) -> Appearance:
    """A look drawn from the range a real overhead station shows (issue 12): stage 30-50, walls 90-130
    (often above the midpoint between stage and top), top face 180-210; lighting up to +-15 %, blur
    sigma 0.5-1.0 px, read noise 1.5-3 grey levels plus shot noise, a brushed top face."""
    return Appearance(
        top=float(rng.uniform(180.0, 210.0)),
        background=float(rng.uniform(30.0, 50.0)),
        wall=float(rng.uniform(90.0, 130.0)),
        blur=float(rng.uniform(0.5, 1.0)),
        noise=float(rng.uniform(1.5, 3.0)),
        light_strength=float(rng.uniform(1.0, 1.5)),
        shot_gain=float(rng.uniform(20.0, 60.0)),
        texture=float(rng.uniform(1.5, 5.0)),
        texture_angle_deg=float(rng.uniform(0.0, 180.0)),
        texture_streak_px=float(rng.uniform(15.0, 40.0)),
    )


# -- signed distance functions (mm, drawing frame; negative inside)


def sdf_rrect(x, y, length, width, r):
    qx = np.abs(x - length / 2) - (length / 2 - r)
    qy = np.abs(y - width / 2) - (width / 2 - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def sdf_circle(x, y, cx, cy, r):
    return np.hypot(x - cx, y - cy) - r


def sdf_capsule(x, y, x0, y0, x1, y1, r):
    dx, dy = x1 - x0, y1 - y0
    h = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(x - x0 - h * dx, y - y0 - h * dy) - r


def sdf_ellipse(x, y, cx, cy, ux, uy, a, b):
    """Ellipse with semi-axis a along unit (ux, uy) and b across; first-order distance."""
    t = (x - cx) * ux + (y - cy) * uy
    n = -(x - cx) * uy + (y - cy) * ux
    rho = np.sqrt((t / a) ** 2 + (n / b) ** 2) + 1e-12
    grad = np.sqrt((t / a**2) ** 2 + (n / b**2) ** 2) / rho + 1e-12
    return (rho - 1) / grad


def coverage(sdf: np.ndarray, curvature=0.0) -> np.ndarray:
    """Fraction of each unit pixel square where the sdf is negative.

    The pixel-space gradient (a, b) of the sdf turns the square into a sum of two
    uniform variables; its CDF at ``-sdf`` is the exact area for a straight edge.
    curvature: 1 / radius (in the sdf's units) of the edge near each pixel, positive where
    the inside is convex (a disk), scalar or array.  A convex arc leaves on average
    1/(24 R) px^2 per pixel of edge less inside than its tangent (the second moment of the
    unit square along the edge is 1/12 at any angle), so the edge is moved in by that much.
    """
    gy, gx = np.gradient(sdf)
    c = -sdf - (gx * gx + gy * gy) * np.asarray(curvature) / 24.0
    a = np.maximum(np.abs(gx), np.abs(gy))
    b = np.minimum(np.abs(gx), np.abs(gy))
    # Only pixels the edge crosses need the formula: elsewhere the square is all in or all out.
    # (Evaluating it everywhere made rendering ~3x slower.)
    out = (c > 0).astype(np.float64)
    band = np.abs(c) < (a + b) / 2 + 1e-12
    c, a, b = c[band], a[band], b[band]

    def r2(z):
        return np.square(np.maximum(z, 0))

    safe_b = np.maximum(b, 1e-9)
    safe_a = np.maximum(a, 1e-9)
    trap = (r2(c + (a + b) / 2) - r2(c + (a - b) / 2) - r2(c - (a - b) / 2) + r2(c - (a + b) / 2)) / (
        2 * safe_a * safe_b
    )
    box = np.clip(c / safe_a + 0.5, 0, 1)
    out[band] = np.clip(np.where(b > 1e-3 * a, trap, box), 0, 1)
    return out


def _outline_sdf(t: PartTruth, x, y):
    s = sdf_rrect(x, y, t.length, t.width, t.corner_radius)
    for d in t.defects:
        if d.type == "burr":
            ux, uy, half = d.params
            s = np.minimum(s, sdf_ellipse(x, y, d.x, d.y, ux, uy, half, d.size))
    for d in t.defects:
        if d.type in ("chipped_corner", "chip"):
            nx, ny, px, py = d.params  # material removed where n.(p - P) > 0
            s = np.maximum(s, (x - px) * nx + (y - py) * ny)
    return s


def _outline_curvature(t: PartTruth, x, y):
    """1 / corner radius in the corner quadrants of the outline, 0 along the straight sides."""
    r = t.corner_radius
    if r <= 0:
        return 0.0
    qx = np.abs(x - t.length / 2) - (t.length / 2 - r)
    qy = np.abs(y - t.width / 2) - (t.width / 2 - r)
    return np.where((qx > 0) & (qy > 0), 1.0 / r, 0.0)


def _stage_to_part(t: PartTruth, X, Y):
    a = math.radians(t.angle_deg)
    e1 = (math.cos(a), math.sin(a))
    e2 = (math.sin(a), -math.cos(a))
    if t.flipped:
        e2 = (-e2[0], -e2[1])
    dx, dy = X - t.centre_mm[0], Y - t.centre_mm[1]
    return dx * e1[0] + dy * e1[1] + t.length / 2, dx * e2[0] + dy * e2[1] + t.width / 2


def part_to_stage(t: PartTruth, x, y):
    a = math.radians(t.angle_deg)
    e1 = np.array([math.cos(a), math.sin(a)])
    e2 = np.array([math.sin(a), -math.cos(a)]) * (-1 if t.flipped else 1)
    xs = np.asarray(x, float) - t.length / 2
    ys = np.asarray(y, float) - t.width / 2
    return (t.centre_mm[0] + xs * e1[0] + ys * e2[0], t.centre_mm[1] + xs * e1[1] + ys * e2[1])


def part_roi(cam: Camera, t: PartTruth, margin: int = 12) -> tuple[slice, slice]:
    cx = np.array([0, t.length, t.length, 0]) + np.array([-2, 2, 2, -2])
    cy = np.array([0, 0, t.width, t.width]) + np.array([-2, -2, 2, 2])
    X, Y = part_to_stage(t, cx, cy)
    pts = np.concatenate([np.column_stack([X, Y, np.full(4, z)]) for z in (0.0, -t.thickness)])
    px = project(cam, pts)
    w, h = cam.size
    c0 = int(max(0, np.floor(px[:, 0].min()) - margin))
    c1 = int(min(w, np.ceil(px[:, 0].max()) + margin + 1))
    r0 = int(max(0, np.floor(px[:, 1].min()) - margin))
    r1 = int(min(h, np.ceil(px[:, 1].max()) + margin + 1))
    return slice(r0, r1), slice(c0, c1)


def render_scene(
    cam: Camera,
    parts: list[PartTruth],
    *,
    look: Appearance | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Image of the stage with the given parts (uint8, (h, w))."""
    look = look or Appearance()
    rng = rng or np.random.default_rng(0)
    w, h = cam.size
    light = _full_lighting(cam, look.light_strength)
    img = np.full((h, w), look.background, np.float32)
    rx_all, ry_all = camera_rays(cam)
    for t in parts:
        rows, cols = part_roi(cam, t)
        if rows.stop <= rows.start or cols.stop <= cols.start:
            continue
        rx, ry = rx_all[rows, cols], ry_all[rows, cols]
        levels = np.linspace(0.0, t.thickness, 5)
        sil = np.zeros(rx.shape)
        see = [np.ones(rx.shape) for _ in t.holes]
        for lev in levels:
            x, y = _stage_to_part(t, *plane_points(cam, rx, ry, z=-lev))
            sil = np.maximum(sil, coverage(_outline_sdf(t, x, y), _outline_curvature(t, x, y)))
            for i, hole in enumerate(t.holes):
                r = hole.diameter / 2
                see[i] = np.minimum(see[i], coverage(sdf_circle(x, y, hole.x, hole.y, r), 1.0 / r))
        # top face at the last level (lev == thickness); x, y are its coordinates
        top_outline = coverage(_outline_sdf(t, x, y), _outline_curvature(t, x, y))
        holes_top = np.zeros(rx.shape)
        for hole in t.holes:
            r = hole.diameter / 2
            holes_top += coverage(sdf_circle(x, y, hole.x, hole.y, r), 1.0 / r)
        top = np.clip(top_outline - holes_top, 0, 1)
        through = np.minimum(np.sum(see, axis=0) if see else 0.0, holes_top)
        bg = np.clip(1 - sil + through, 0, 1)
        wall = np.clip(1 - top - bg, 0, 1)
        val = top * look.top + wall * look.wall
        if look.texture > 0:
            val += top * brushed_texture(top.shape, rng, look)
        for d in t.defects:
            if d.type == "void":
                val += coverage(sdf_circle(x, y, d.x, d.y, d.size / 2)) * top * d.contrast
            elif d.type == "crack":
                x0, y0, x1, y1, width = d.params
                val += coverage(sdf_capsule(x, y, x0, y0, x1, y1, width / 2)) * top * d.contrast
        cur = img[rows, cols]
        img[rows, cols] = cur * bg + val
    img *= light
    return finish(img, rng, look.blur, look.noise, look.shot_gain)


# ------------------------------------------------------------------ scenario builder

DEFECT_TYPES = ("void", "crack", "burr", "chipped_corner")
CASE_KINDS = (
    "good",
    *DEFECT_TYPES,
    "missing_hole",
    "extra_hole",
    "hole_oversize",
    "hole_shift",
    "wrong_length",
)


def random_spec(rng: np.random.Generator, *, length=(45.0, 110.0), width=(22.0, 40.0)) -> dict:
    L = round(float(rng.uniform(*length)), 1)
    W = round(float(rng.uniform(*width)), 1)
    r = round(float(rng.uniform(1.5, 5.0)), 1)
    holes = []
    n = int(rng.integers(1, 5))
    for _ in range(200):
        if len(holes) == n:
            break
        d = round(float(rng.uniform(3.0, 9.0)), 2)
        x = round(float(rng.uniform(d / 2 + 3, L - d / 2 - 3)), 2)
        y = round(float(rng.uniform(d / 2 + 3, W - d / 2 - 3)), 2)
        if all(math.hypot(x - h["x"], y - h["y"]) > (d + h["diameter"]) / 2 + 4 for h in holes):
            holes.append({"id": f"H{len(holes) + 1}", "x": x, "y": y, "diameter": d})
    if len(holes) == 2 and abs(holes[0]["diameter"] - holes[1]["diameter"]) < 0.3:
        pass  # symmetric patterns are fine: registration then reports an ambiguous half turn
    return {
        "outline": {"length": L, "width": W, "corner_radius": r},
        "thickness": round(float(rng.uniform(2.0, 6.0)), 1),
        "holes": holes,
        "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
    }


def nominal_truth(spec: dict, **pose) -> PartTruth:
    """A part made exactly to the drawing ``spec`` (catalogue JSON, read by :mod:`drawing`), at ``pose``."""
    drawing = Drawing.from_dict(spec)
    holes = tuple(Hole(h.id, h.x, h.y, h.diameter) for h in drawing.holes)
    return PartTruth(
        spec, drawing.length, drawing.width, drawing.corner_radius, drawing.thickness, holes, **pose
    )


def _material_point(rng, t: PartTruth, clearance: float):
    """A point of the top face at least ``clearance`` mm from edges and holes."""
    for _ in range(500):
        x = float(rng.uniform(clearance, t.length - clearance))
        y = float(rng.uniform(clearance, t.width - clearance))
        if all(math.hypot(x - h.x, y - h.y) > h.diameter / 2 + clearance for h in t.holes):
            return x, y
    raise RuntimeError("no free material")


def plant_defect(
    rng: np.random.Generator, t: PartTruth, kind: str, size: float, contrast: float | None = None
) -> PartTruth:
    """Return ``t`` with one planted defect of the given kind and size (mm)."""
    if kind == "void":
        c = contrast if contrast is not None else float(rng.choice([-1, 1]) * rng.uniform(25, 80))
        x, y = _material_point(rng, t, size / 2 + 1.0)
        d = Defect("void", x, y, size, (), c)
    elif kind == "crack":
        c = contrast if contrast is not None else -float(rng.uniform(60, 120))
        width = float(rng.uniform(0.08, 0.18))
        for _ in range(200):
            x, y = _material_point(rng, t, size / 2 + 1.0)
            a = rng.uniform(0, math.pi)
            hx, hy = math.cos(a) * (size - width) / 2, math.sin(a) * (size - width) / 2
            ends = [(x - hx, y - hy), (x + hx, y + hy)]
            if all(
                1.0 < ex < t.length - 1.0
                and 1.0 < ey < t.width - 1.0
                and all(math.hypot(ex - h.x, ey - h.y) > h.diameter / 2 + 1.0 for h in t.holes)
                for ex, ey in ends
            ):
                break
        d = Defect("crack", x, y, size, (x - hx, y - hy, x + hx, y + hy, width), c)
    elif kind == "burr":
        half = max(2.0 * size, 0.6)
        for _ in range(500):
            side = int(rng.integers(4))
            if side in (0, 1):  # bottom / top edge
                x = float(rng.uniform(t.corner_radius + half + 1, t.length - t.corner_radius - half - 1))
                y, ux, uy = (0.0 if side == 0 else t.width), 1.0, 0.0
            else:
                y = float(rng.uniform(t.corner_radius + half + 1, t.width - t.corner_radius - half - 1))
                x, ux, uy = (0.0 if side == 2 else t.length), 0.0, 1.0
            if all(math.hypot(x - h.x, y - h.y) > h.diameter / 2 + half + 2.0 for h in t.holes):
                break
        d = Defect("burr", x, y, size, (ux, uy, half))
    elif kind == "chipped_corner":
        sx, sy = int(rng.integers(2)), int(rng.integers(2))
        r = t.corner_radius
        ccx = r if sx == 0 else t.length - r
        ccy = r if sy == 0 else t.width - r
        nx, ny = (-1 if sx == 0 else 1) / math.sqrt(2), (-1 if sy == 0 else 1) / math.sqrt(2)
        # The cut is perpendicular to the corner diagonal, ``size`` inside the arc.
        px, py = ccx + (r - size) * nx, ccy + (r - size) * ny
        d = Defect("chipped_corner", ccx + r * nx, ccy + r * ny, size, (nx, ny, px, py))
    else:
        raise ValueError(kind)
    return replace(t, defects=(*t.defects, d))


#: Good parts vary within their tolerances, but stay within this fraction of them.
GOOD_PART_JITTER = 0.4


def _jittered_truth(rng: np.random.Generator, spec: dict, drawing: Drawing) -> PartTruth:
    """The drawing's nominal part as really made: every dimension off by up to ``GOOD_PART_JITTER`` of its
    tolerance (hole positions by two thirds of that, so a hole's radial error stays inside the band)."""
    tol, jit = drawing.tolerances, GOOD_PART_JITTER
    truth = nominal_truth(spec)
    return replace(
        truth,
        length=drawing.length + float(rng.uniform(-jit, jit)) * tol.outline,
        width=drawing.width + float(rng.uniform(-jit, jit)) * tol.outline,
        holes=tuple(
            replace(
                hole,
                x=hole.x + float(rng.uniform(-jit, jit)) * tol.hole_position / 1.5,
                y=hole.y + float(rng.uniform(-jit, jit)) * tol.hole_position / 1.5,
                diameter=hole.diameter + float(rng.uniform(-jit, jit)) * tol.hole_diameter,
            )
            for hole in truth.holes
        ),
    )


def _surface_defect(rng, truth, kind, size, contrast) -> tuple[PartTruth, tuple[str, ...]]:
    """Plant a void, crack, burr or chipped corner of about ``size`` mm (random when None)."""
    size = size if size is not None else float(rng.choice([0.3, 0.4, 0.6, 1.0, 2.0]))
    if kind == "crack":
        size = max(size, 0.6)  # shorter "cracks" are indistinguishable from voids
    if kind == "chipped_corner":
        size = min(size, truth.corner_radius * 0.6)
    return plant_defect(rng, truth, kind, size, contrast), ()


def _missing_hole(rng, truth, drawing) -> tuple[PartTruth, tuple[str, ...]]:
    gone = truth.holes[int(rng.integers(len(truth.holes)))]
    holes = tuple(hole for hole in truth.holes if hole is not gone)
    return replace(truth, holes=holes, defects=(Defect("missing_hole", gone.x, gone.y, gone.diameter),)), ()


def _extra_hole(rng, truth, drawing) -> tuple[PartTruth, tuple[str, ...]]:
    diameter = round(float(rng.uniform(2.5, 5.0)), 2)
    x, y = _material_point(rng, truth, diameter / 2 + 2.5)
    extra = Hole("X", x, y, diameter)
    return replace(truth, holes=(*truth.holes, extra), defects=(Defect("extra_hole", x, y, diameter),)), ()


def _hole_oversize(rng, truth, drawing) -> tuple[PartTruth, tuple[str, ...]]:
    """One hole 0.2-0.5 mm too large or too small."""
    index = int(rng.integers(len(truth.holes)))
    delta = float(rng.choice([-1, 1]) * rng.uniform(0.2, 0.5))
    holes = list(truth.holes)
    holes[index] = replace(holes[index], diameter=drawing.holes[index].diameter + delta)
    return replace(truth, holes=tuple(holes)), (f"{holes[index].id}.diameter",)


def _hole_shift(rng, truth, drawing) -> tuple[PartTruth, tuple[str, ...]]:
    """One hole 0.3-0.6 mm away from its drawn centre, in any direction."""
    index = int(rng.integers(len(truth.holes)))
    direction = rng.uniform(0, 2 * math.pi)
    distance = float(rng.uniform(0.3, 0.6))
    holes = list(truth.holes)
    nominal = drawing.holes[index]
    holes[index] = replace(
        holes[index],
        x=nominal.x + distance * math.cos(direction),
        y=nominal.y + distance * math.sin(direction),
    )
    return replace(truth, holes=tuple(holes)), (f"{holes[index].id}.position",)


def _wrong_length(rng, truth, drawing) -> tuple[PartTruth, tuple[str, ...]]:
    """The part 0.5-1.5 mm too long or too short."""
    error = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5))
    return replace(truth, length=drawing.length + error), ("length",)


#: kind -> builder(rng, truth, drawing) returning the faulty part and its out-of-tolerance measurements.
FAULT_BUILDERS = {
    "missing_hole": _missing_hole,
    "extra_hole": _extra_hole,
    "hole_oversize": _hole_oversize,
    "hole_shift": _hole_shift,
    "wrong_length": _wrong_length,
}


def _random_pose(rng: np.random.Generator, truth: PartTruth, view_mm) -> tuple[float, float, float]:
    """(centre x, centre y, angle in degrees): anywhere in the view, any angle; a part too long to turn
    inside the view lies along its x axis."""
    angle = float(rng.uniform(0, 360))
    radians = math.radians(angle)
    extent_x = abs(truth.length * math.cos(radians)) + abs(truth.width * math.sin(radians))
    extent_y = abs(truth.length * math.sin(radians)) + abs(truth.width * math.cos(radians))
    x0, y0, x1, y1 = view_mm
    if extent_x > x1 - x0 - 4 or extent_y > y1 - y0 - 4:
        angle, extent_x, extent_y = 0.0, truth.length, truth.width
    cx = float(rng.uniform(x0 + extent_x / 2 + 2, x1 - extent_x / 2 - 2))
    cy = float(rng.uniform(y0 + extent_y / 2 + 2, y1 - extent_y / 2 - 2))
    return cx, cy, angle


def make_case(
    rng: np.random.Generator,
    kind: str,
    spec: dict | None = None,
    *,
    view_mm: tuple[float, float, float, float] = (15.0, 15.0, 225.0, 190.0),
    defect_size: float | None = None,
    contrast: float | None = None,
) -> PartTruth:
    """A random part of the given case kind (see ``CASE_KINDS``) and its ground truth: placed anywhere in
    ``view_mm`` (x0, y0, x1, y1 on the stage), at any angle, top face up (as parts lie on a station: the
    drawing says which face is up; ``replace(truth, flipped=True)`` lays one face down). Seeded ``rng``
    draws are made in a fixed order, so a seed always gives the same part."""
    if kind not in CASE_KINDS:
        raise ValueError(kind)
    spec = spec or random_spec(rng)
    drawing = Drawing.from_dict(spec)
    truth = _jittered_truth(rng, spec, drawing)
    out_of_tolerance: tuple[str, ...] = ()
    if kind in DEFECT_TYPES:
        truth, out_of_tolerance = _surface_defect(rng, truth, kind, defect_size, contrast)
    elif kind in FAULT_BUILDERS:
        truth, out_of_tolerance = FAULT_BUILDERS[kind](rng, truth, drawing)
    cx, cy, angle = _random_pose(rng, truth, view_mm)
    rng.integers(2)  # once drew a face-down half of the parts; still drawn so each seed keeps its part
    return replace(
        truth,
        centre_mm=(cx, cy),
        angle_deg=angle,
        flipped=False,
        expected_verdict="PASS" if kind == "good" else "FAIL",
        out_of_tolerance=out_of_tolerance,
    )


@dataclass
class Station:
    """A synthetic station: camera, board, and (lazily) its rendered calibration views."""

    cam: Camera
    board: BoardConfig
    views: list[np.ndarray] = field(default_factory=list)

    def stage_view(self, rng=None) -> np.ndarray:
        R, t = stage_board_pose(self.cam, self.board)
        return render_board(self.cam, self.board, R, t, rng=rng or np.random.default_rng(7))


def full_station() -> Station:
    """The production geometry: 2448x2048, ~0.1 mm/px, 3/-2 degree tilt."""
    return Station(make_camera(), BoardConfig(11, 9, 20.0, 15.0, "DICT_5X5_100"))


def overhead_station() -> Station:
    """A real overhead station as measured (issue 12): the same sensor and 0.1 mm/px at the stage, but
    the camera only 400 mm up, so a 6 mm part 60-130 mm off axis shows walls 8-19 px wide."""
    return Station(make_camera(distance_mm=400.0), BoardConfig(11, 9, 20.0, 15.0, "DICT_5X5_100"))


def long_strip_spec(rng: np.random.Generator, *, centreline: bool | None = None) -> dict:
    """A reinforcement strip as the bracket station sees them: 150-220 x 20-40 mm, 2-6 mm thick, with 2-6
    holes along it; on the centreline (``centreline``, or half of the time when None), which makes the
    hole pattern symmetric about the long axis, so only the drawing's face-up rule fixes its reading."""
    length = round(float(rng.uniform(150.0, 220.0)), 1)
    width = round(float(rng.uniform(20.0, 40.0)), 1)
    on_centre = bool(rng.integers(2)) if centreline is None else centreline
    count = int(rng.integers(2, 7))
    xs = np.linspace(12.0, length - 12.0, count) + rng.uniform(-3.0, 3.0, count)
    holes = []
    for i, x in enumerate(xs):
        diameter = round(float(rng.uniform(3.0, 8.0)), 2)
        room = width / 2 - diameter / 2 - 4
        y = width / 2 if on_centre else width / 2 + float(rng.uniform(-room, room))
        holes.append({"id": f"H{i + 1}", "x": round(float(x), 2), "y": round(y, 2), "diameter": diameter})
    corner_radius = round(float(rng.uniform(2.0, 5.0)), 1)
    return {
        "outline": {"length": length, "width": width, "corner_radius": corner_radius},
        "thickness": round(float(rng.uniform(2.0, 6.0)), 1),
        "holes": holes,
        "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
    }


# ------------------------------------------------------------- demo station helpers

# The demo station's board: 11 x 9 squares of 20 mm (a 220 x 180 mm print), 5x5 markers.
DEMO_BOARD = BoardConfig(11, 9, 20.0, 15.0, "DICT_5X5_100")
# Mild defects of the demo: clearly visible, but no larger than a real shop would see.
DEMO_DEFECT_KINDS = (*DEFECT_TYPES, "missing_hole", "hole_oversize", "wrong_length")


def demo_camera() -> Camera:
    """The demo station: 2448x2048 at ~0.125 mm/px, so the 290 mm strip fits the ~306 x 256 mm view."""
    return make_camera(mm_per_px=0.125, distance_mm=500.0, aim_mm=(153.0, 128.0))


def demo_calibration_views(cam: Camera, board: BoardConfig = DEMO_BOARD, n: int = 6) -> list[np.ndarray]:
    """``n`` tilted board views plus, last, the board lying flat on the stage (for the stage plane)."""
    views = calibration_views(cam, board, n, rng=np.random.default_rng(11))
    R, t = stage_board_pose(cam, board)
    return [*views, render_board(cam, board, R, t, rng=np.random.default_rng(12))]


def camera_from_calibration(K: np.ndarray, dist: np.ndarray, size, R: np.ndarray, t: np.ndarray) -> Camera:
    """A simulated camera that *is* a station's calibration (intrinsics + stage plane), so what it renders
    is what that calibration expects to see."""
    coeffs = (list(np.asarray(dist, float).ravel()) + [0.0] * 5)[:5]
    return Camera(
        np.asarray(K, float), np.asarray(coeffs), (int(size[0]), int(size[1])), np.asarray(R), np.asarray(t)
    )


def stage_view_mm(cam: Camera, height_mm: float, margin_mm: float = 4.0) -> tuple[float, float, float, float]:
    """An axis-aligned stage rectangle (x0, y0, x1, y1) mm that the camera sees whole, at the stage and
    at ``height_mm`` above it (so a part placed inside is never cut by the image edge)."""
    w, h = cam.size
    n = np.linspace(0.0, 1.0, 33)
    sides = {
        "top": (n * (w - 1), np.zeros_like(n)),
        "bottom": (n * (w - 1), np.full_like(n, h - 1)),
        "left": (np.zeros_like(n), n * (h - 1)),
        "right": (np.full_like(n, w - 1), n * (h - 1)),
    }
    K = cam.K
    pts = {}
    for name, (u, v) in sides.items():
        yd = (v - K[1, 2]) / K[1, 1]
        xd = (u - K[0, 2] - K[0, 1] * yd) / K[0, 0]
        rx, ry = undistort_normalised(xd, yd, cam.dist)
        xy = [plane_points(cam, rx, ry, z=z) for z in (0.0, -height_mm)]
        pts[name] = (np.concatenate([p[0] for p in xy]), np.concatenate([p[1] for p in xy]))

    def inner(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        # The stage axes may run either way in the image: the side nearer the origin bounds from below.
        lo, hi = (a, b) if a.mean() < b.mean() else (b, a)
        return float(lo.max()), float(hi.min())

    x0, x1 = inner(pts["left"][0], pts["right"][0])
    y0, y1 = inner(pts["top"][1], pts["bottom"][1])
    return (x0 + margin_mm, y0 + margin_mm, x1 - margin_mm, y1 - margin_mm)


def central_region(view: tuple[float, float, float, float], spec: dict, share: float = 0.6):
    """The middle ``share`` of a view (grown to fit the part lying straight): where an operator puts a
    part. Far off the camera axis the walls of deep holes hide part of the hole, which the pipeline is
    not built for."""
    x0, y0, x1, y1 = view
    drawing = Drawing.from_dict(spec)
    length, width = drawing.length, drawing.width
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx = min((x1 - x0) / 2, max(share * (x1 - x0) / 2, length / 2 + 4))
    hy = min((y1 - y0) / 2, max(share * (y1 - y0) / 2, width / 2 + 4))
    return (cx - hx, cy - hy, cx + hx, cy + hy)


def render_part_photo(
    cam: Camera,
    spec: dict,
    rng: np.random.Generator,
    *,
    defect_probability: float = 0.25,
) -> tuple[np.ndarray, PartTruth]:
    """A photo of one part made to ``spec`` lying anywhere in view; a mild defect some of the time.

    Returns the (h, w) uint8 image and its ground truth (``expected_verdict`` PASS or FAIL).
    """
    kind = "good"
    if rng.random() < defect_probability:
        kind = str(rng.choice(DEMO_DEFECT_KINDS))
    size = float(rng.choice([0.6, 1.0, 1.5])) if kind in DEFECT_TYPES else None
    view = central_region(stage_view_mm(cam, Drawing.from_dict(spec).thickness), spec)
    truth = make_case(rng, kind, spec, view_mm=view, defect_size=size)
    look = Appearance(blur=float(rng.uniform(0.8, 1.2)), noise=float(rng.uniform(1.5, 2.5)))
    return render_scene(cam, [truth], look=look, rng=rng), truth


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image (what a station camera would upload)."""
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()
