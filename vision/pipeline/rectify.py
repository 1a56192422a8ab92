"""Metric rectification of the plane "stage + part thickness".

The camera looks at the stage slightly off-vertical through a distorting lens.  Every
pixel of the rectified image is a point of the plane ``z = -height_mm`` of the stage frame
(the part's top face), on a square grid of ``mm_per_px``; its grey value is sampled from
the camera image at the distorted projection of that point.  Measuring in the rectified
image therefore measures the top face in millimetres directly.

Building the maps (a homography composed with the lens distortion, evaluated per output
pixel) is the expensive part and depends only on the calibration, the plane, the height
and the scale, so it is separated from applying them and can be cached by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .calibration import CameraCalibration, StagePlane, pixels_to_plane


@dataclass(frozen=True, eq=False)
class RectifyMaps:
    """Remap tables for one (calibration, plane, height, scale).

    map1/map2: OpenCV fixed-point maps (CV_16SC2 / CV_16UC1), shape (H, W) of the
    rectified image.  valid: bool (H, W), True where the source pixel lies inside the
    camera image.  Rectified pixel (row i, col j) is stage point
    ``(origin_mm[0] + j * mm_per_px, origin_mm[1] + i * mm_per_px, -height_mm)``.
    """

    map1: np.ndarray
    map2: np.ndarray
    valid: np.ndarray
    origin_mm: tuple[float, float]
    mm_per_px: float
    height_mm: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.valid.shape

    def px_to_mm(self, pts_px: np.ndarray) -> np.ndarray:
        """Rectified pixel coordinates (..., 2) as (col, row) -> stage (x, y) mm."""
        return np.asarray(self.origin_mm) + np.asarray(pts_px, float) * self.mm_per_px

    def mm_to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        return (np.asarray(pts_mm, float) - np.asarray(self.origin_mm)) / self.mm_per_px


def plane_homography(calib: CameraCalibration, plane: StagePlane, height_mm: float) -> np.ndarray:
    """3x3 homography from stage (x, y, 1) on ``z = -height_mm`` to undistorted
    normalised camera coordinates (homogeneous)."""
    R, t = plane.R, plane.t.reshape(3)
    return np.column_stack([R[:, 0], R[:, 1], t - height_mm * R[:, 2]])


def _distort(x: np.ndarray, y: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brown-Conrady distortion of normalised coordinates (OpenCV's 5-8 term model)."""
    d = np.zeros(8)
    d[: min(8, len(dist))] = dist[:8]
    k1, k2, p1, p2, k3, k4, k5, k6 = d
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def view_bounds_mm(
    calib: CameraCalibration, plane: StagePlane, height_mm: float, samples: int = 64
) -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) mm of the camera's view of the plane."""
    w, h = calib.image_size
    s = np.linspace(0, 1, samples)
    border = np.concatenate(
        [
            np.column_stack([s * (w - 1), np.zeros_like(s)]),
            np.column_stack([s * (w - 1), np.full_like(s, h - 1)]),
            np.column_stack([np.zeros_like(s), s * (h - 1)]),
            np.column_stack([np.full_like(s, w - 1), s * (h - 1)]),
        ]
    )
    xy = pixels_to_plane(border, calib, plane, height_mm)
    return (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())


def build_rectify_maps(
    calib: CameraCalibration,
    plane: StagePlane,
    *,
    height_mm: float,
    mm_per_px: float,
    bounds_mm: tuple[float, float, float, float] | None = None,
    max_pixels: int = 40_000_000,
) -> RectifyMaps:
    """Build remap tables from the plane ``z = -height_mm`` to a metric image.

    height_mm: part thickness (top face above the stage); mm_per_px: output scale.
    bounds_mm: stage-frame box to cover; default the whole view.  The grid origin is
    snapped to a multiple of ``mm_per_px`` so maps at different scales line up.
    Raises ValueError if the output would exceed ``max_pixels``.
    """
    if bounds_mm is None:
        bounds_mm = view_bounds_mm(calib, plane, height_mm)
    x0 = np.floor(bounds_mm[0] / mm_per_px) * mm_per_px
    y0 = np.floor(bounds_mm[1] / mm_per_px) * mm_per_px
    ncols = int(np.ceil((bounds_mm[2] - x0) / mm_per_px)) + 1
    nrows = int(np.ceil((bounds_mm[3] - y0) / mm_per_px)) + 1
    if ncols * nrows > max_pixels:
        raise ValueError(f"rectified image of {ncols}x{nrows} px exceeds {max_pixels} px")
    H = plane_homography(calib, plane, height_mm)
    K = calib.K
    w, h = calib.image_size
    map_x = np.empty((nrows, ncols), np.float32)
    map_y = np.empty((nrows, ncols), np.float32)
    xs = x0 + np.arange(ncols) * mm_per_px
    # Row blocks keep the float64 temporaries small.
    for r0 in range(0, nrows, 256):
        ys = y0 + np.arange(r0, min(nrows, r0 + 256)) * mm_per_px
        X, Y = np.meshgrid(xs, ys)
        cx = H[0, 0] * X + H[0, 1] * Y + H[0, 2]
        cy = H[1, 0] * X + H[1, 1] * Y + H[1, 2]
        cz = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
        xd, yd = _distort(cx / cz, cy / cz, calib.dist)
        map_x[r0 : r0 + len(ys)] = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
        map_y[r0 : r0 + len(ys)] = K[1, 1] * yd + K[1, 2]
    valid = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    # Fixed-point maps: remap converts float maps to 1/32-px fixed point internally
    # anyway, so converting once saves that work on every image.
    map1, map2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    return RectifyMaps(map1, map2, valid, (float(x0), float(y0)), float(mm_per_px), height_mm)


def rectify(
    image: np.ndarray,
    maps: RectifyMaps,
    roi: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Apply rectification maps (bilinear), optionally only to ``roi = (x0, y0, x1, y1)``
    (rectified pixels, exclusive end).  Output has image's dtype and channels; pixels
    with no source are 0."""
    m1, m2 = maps.map1, maps.map2
    if roi is not None:
        x0, y0, x1, y1 = roi
        m1 = np.ascontiguousarray(m1[y0:y1, x0:x1])
        m2 = np.ascontiguousarray(m2[y0:y1, x0:x1])
    return cv2.remap(image, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def camera_centre(plane: StagePlane) -> np.ndarray:
    """Camera centre in the stage frame (mm); its z is minus the camera height."""
    return -plane.R.T @ plane.t.reshape(3)


def height_scale(plane: StagePlane, from_height_mm: float, to_height_mm: float) -> float:
    """Factor by which stage-frame offsets from the camera nadir shrink when a pixel's
    ray is followed from plane ``z = -from_height`` to plane ``z = -to_height``.

    Planes parallel to the stage are related by a homothety about the nadir (the foot
    of the perpendicular from the camera centre), so maps built for one height serve
    every part thickness: a length measured on the ``from`` plane times this factor is
    the length on the ``to`` plane.  For a camera 500 mm up and a 4 mm part, 0.992.
    """
    cam_h = -float(camera_centre(plane)[2])
    return (cam_h - to_height_mm) / (cam_h - from_height_mm)


def to_height(maps: RectifyMaps, plane: StagePlane, pts_px: np.ndarray, height_mm: float) -> np.ndarray:
    """Rectified pixels (N, 2) of ``maps`` -> stage (x, y) mm on plane ``z = -height_mm``."""
    nadir = camera_centre(plane)[:2]
    k = height_scale(plane, maps.height_mm, height_mm)
    return nadir + (maps.px_to_mm(pts_px) - nadir) * k
