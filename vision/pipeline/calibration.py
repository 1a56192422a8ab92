"""Camera calibration from ChArUco views and the stage plane from a board lying flat.

Conventions
-----------
* Board / stage frame: OpenCV's ChArUco object frame, millimetres.  x runs along the
  board's squares_x direction, y along squares_y, z points *into* the board (away from a
  camera looking at its printed face).  A part of thickness ``h`` lying on the stage has
  its top face on the plane ``z = -h``.
* ``StagePlane(R, t)`` maps stage coordinates to camera coordinates: ``X_cam = R @ X + t``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .errors import CalibrationError

#: Bounds of a ChArUco board's geometry: far beyond any station's, far below what exhausts a process.
MIN_SQUARES, MAX_SQUARES = 3, 64
MAX_SQUARE_MM = 500.0


@dataclass(frozen=True)
class BoardConfig:
    """Station configuration of a ChArUco board (lengths in mm).

    ``thickness_mm`` is the height of the printed face above the stage when the board
    lies flat; :func:`stage_plane` subtracts it so the plane is the stage itself.
    """

    squares_x: int
    squares_y: int
    square_mm: float
    marker_mm: float
    dictionary: str = "DICT_5X5_100"
    thickness_mm: float = 0.0

    def make_board(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV board; CalibrationError for a geometry no station can hold (checked before any
        work: OpenCV allocates per square, and 100,000 x 100,000 squares would exhaust the memory)."""
        if not hasattr(cv2.aruco, self.dictionary) or not self.dictionary.startswith("DICT_"):
            raise CalibrationError(f"unknown ArUco dictionary {self.dictionary!r}")
        if not all(type(n) is int for n in (self.squares_x, self.squares_y)):
            raise CalibrationError("squares_x and squares_y are whole numbers")
        if not (
            MIN_SQUARES <= self.squares_x <= MAX_SQUARES and MIN_SQUARES <= self.squares_y <= MAX_SQUARES
        ):
            raise CalibrationError(f"a board has {MIN_SQUARES} to {MAX_SQUARES} squares along each side")
        if not 0 < self.marker_mm < self.square_mm <= MAX_SQUARE_MM:
            raise CalibrationError(
                f"need 0 < marker_mm < square_mm <= {MAX_SQUARE_MM:g} (marker_mm smaller than square_mm)"
            )
        if not 0 <= self.thickness_mm <= MAX_SQUARE_MM:
            raise CalibrationError(f"thickness_mm must lie in 0-{MAX_SQUARE_MM:g}")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        markers = (self.squares_x * self.squares_y) // 2
        if markers > dictionary.bytesList.shape[0]:
            raise CalibrationError(
                f"{self.squares_x}x{self.squares_y} squares need {markers} markers; "
                f"{self.dictionary} has {dictionary.bytesList.shape[0]}"
            )
        return cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y), self.square_mm, self.marker_mm, dictionary
        )

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)


@dataclass(frozen=True, eq=False)
class CharucoDetection:
    """Sub-pixel chessboard corners of one view: ``corners`` (N, 2) float32 px, ``ids`` (N,)."""

    corners: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class CameraCalibration:
    """Pinhole intrinsics ``K`` (3x3), distortion ``dist`` (k1, k2, p1, p2, k3), RMS px."""

    K: np.ndarray
    dist: np.ndarray
    rms_px: float
    image_size: tuple[int, int]  # (width, height) px
    n_views: int
    per_view_rms_px: tuple[float, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "K": np.asarray(self.K, float).tolist(),
            "dist": np.asarray(self.dist, float).ravel().tolist(),
            "rms_px": float(self.rms_px),
            "image_size": [int(v) for v in self.image_size],
            "n_views": int(self.n_views),
            "per_view_rms_px": [float(v) for v in self.per_view_rms_px],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CameraCalibration:
        try:
            K = np.asarray(data["K"], float).reshape(3, 3)
            dist = np.asarray(data["dist"], float).ravel()
            size = tuple(int(v) for v in data["image_size"])
            calib = cls(
                K,
                dist,
                float(data["rms_px"]),
                (size[0], size[1]),
                int(data["n_views"]),
                tuple(float(v) for v in data.get("per_view_rms_px", ())),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CalibrationError(f"malformed calibration data: {exc}") from exc
        if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise CalibrationError("malformed calibration data: bad camera matrix")
        return calib


@dataclass(frozen=True, eq=False)
class StagePlane:
    """Pose of the stage in camera coordinates: ``X_cam = R @ X_stage + t`` (mm)."""

    R: np.ndarray
    t: np.ndarray
    rms_px: float = 0.0

    @property
    def camera_height_mm(self) -> float:
        """Distance from the camera centre to the stage plane."""
        return float(abs(self.R[:, 2] @ self.t))

    def to_dict(self) -> dict[str, Any]:
        return {
            "R": np.asarray(self.R, float).tolist(),
            "t": np.asarray(self.t, float).ravel().tolist(),
            "rms_px": float(self.rms_px),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagePlane:
        try:
            R = np.asarray(data["R"], float).reshape(3, 3)
            t = np.asarray(data["t"], float).reshape(3)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed stage plane data: {exc}") from exc
        return cls(R, t, float(data.get("rms_px", 0.0)))


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype != np.uint8:
        raise CalibrationError(f"calibration images must be uint8, got {image.dtype}")
    return image


def detect_charuco(image: np.ndarray, board: BoardConfig) -> CharucoDetection:
    """Detect ChArUco chessboard corners with sub-pixel refinement.

    image: (H, W) or (H, W, 3) uint8.  Returns corners (N, 2) float32 in pixels (pixel
    centres at integer coordinates, OpenCV convention) and their board ids (N,) int32.
    N is 0 when the board is not found; this function does not raise for that.
    """
    gray = _gray(image)
    cboard = board.make_board()
    detector = cv2.aruco.CharucoDetector(cboard)
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) == 0:
        return CharucoDetection(np.zeros((0, 2), np.float32), np.zeros(0, np.int32))
    corners = corners.reshape(-1, 2).astype(np.float32)
    ids = ids.ravel().astype(np.int32)
    # Refine once more with a window sized to the imaged squares: the detector's own
    # refinement uses a fixed small window; a larger one averages over more edge pixels
    # (less noise) as long as it does not reach the markers.
    win = _subpix_window(corners, ids, board)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 100, 1e-4)
    cv2.cornerSubPix(gray, corners, (win, win), (-1, -1), criteria)
    return CharucoDetection(corners, ids)


def _subpix_window(corners: np.ndarray, ids: np.ndarray, board: BoardConfig) -> int:
    if len(ids) < 2:
        return 3
    nx = board.squares_x - 1
    grid = np.stack([ids % nx, ids // nx], 1).astype(float)
    # Pixel distance per board square, estimated from pairs of detected corners.
    dg = np.linalg.norm(grid[1:] - grid[:-1], axis=1)
    dp = np.linalg.norm(corners[1:] - corners[:-1], axis=1)
    ok = dg > 0
    square_px = float(np.median(dp[ok] / dg[ok])) if ok.any() else 20.0
    # The window must stay inside the white frame between a corner and the nearest
    # marker, or marker edges pull the saddle point.
    frame_px = square_px * (board.square_mm - board.marker_mm) / board.square_mm / 2
    return int(np.clip(0.8 * frame_px, 2, 15))


def calibrate_camera(
    images: Iterable[np.ndarray],
    board: BoardConfig,
    max_rms_px: float = 0.5,
    *,
    min_views: int = 4,
    min_corners: int = 12,
) -> CameraCalibration:
    """Calibrate intrinsics and distortion (k1, k2, p1, p2, k3) from ChArUco views.

    images: uint8 views of the board at different tilts, all the same size.  Views
    with fewer than ``min_corners`` corners are skipped.  Raises
    :class:`CalibrationError` when fewer than ``min_views`` usable views remain, when
    the sizes differ, or when the RMS reprojection error exceeds ``max_rms_px``.
    """
    cboard = board.make_board()
    obj_pts: list[np.ndarray] = []
    img_pts: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    n_images = 0
    for image in images:
        n_images += 1
        h, w = image.shape[:2]
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise CalibrationError(f"calibration images differ in size: {size} vs {(w, h)}")
        det = detect_charuco(image, board)
        if len(det) < min_corners:
            continue
        obj, img = cboard.matchImagePoints(det.corners.reshape(-1, 1, 2), det.ids)
        obj_pts.append(obj.reshape(-1, 3).astype(np.float32))
        img_pts.append(img.reshape(-1, 2).astype(np.float32))
    if len(obj_pts) < min_views:
        raise CalibrationError(
            f"only {len(obj_pts)} of {n_images} views show at least {min_corners} ChArUco "
            f"corners; need {min_views} views at different tilts"
        )
    assert size is not None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 200, 1e-12)
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(obj_pts, img_pts, size, None, None, criteria=criteria)
    per_view = []
    for obj, img, rv, tv in zip(obj_pts, img_pts, rvecs, tvecs, strict=True):
        proj, _ = cv2.projectPoints(obj, rv, tv, K, dist)
        per_view.append(float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, 1)))))
    if not np.isfinite(rms) or rms > max_rms_px:
        raise CalibrationError(
            f"calibration RMS reprojection error {rms:.3f} px exceeds {max_rms_px} px; "
            "check focus, board flatness and that the views are sharp"
        )
    return CameraCalibration(K, dist.ravel(), float(rms), size, len(obj_pts), tuple(per_view))


def stage_plane(
    image: np.ndarray,
    board: BoardConfig,
    calib: CameraCalibration,
    *,
    min_corners: int = 12,
    max_rms_px: float = 1.0,
) -> StagePlane:
    """Pose of the stage from one view of the board lying flat on it.

    Returns ``StagePlane(R, t)`` such that stage points map to camera coordinates by
    ``R @ X + t``; the board thickness is removed so ``z = 0`` is the stage surface.
    Raises :class:`CalibrationError` if the board is not seen well enough.
    """
    if (image.shape[1], image.shape[0]) != tuple(calib.image_size):
        raise CalibrationError("stage image size differs from the calibration image size")
    det = detect_charuco(image, board)
    if len(det) < min_corners:
        raise CalibrationError(f"stage view shows only {len(det)} ChArUco corners, need {min_corners}")
    obj, img = board.make_board().matchImagePoints(det.corners.reshape(-1, 1, 2), det.ids)
    obj = obj.reshape(-1, 3).astype(np.float64)
    img = img.reshape(-1, 2).astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, calib.K, calib.dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        raise CalibrationError("solvePnP failed on the stage view")
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, calib.K, calib.dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, calib.K, calib.dist)
    rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, 1))))
    if rms > max_rms_px:
        raise CalibrationError(f"stage view reprojection error {rms:.3f} px > {max_rms_px} px")
    R, _ = cv2.Rodrigues(rvec)
    # The printed face is thickness_mm above the stage, i.e. at z = -thickness in the
    # stage frame; shift the origin down onto the stage surface.
    t = tvec.ravel() + R @ np.array([0.0, 0.0, board.thickness_mm])
    return StagePlane(R, t, rms)


def project_stage_points(points_mm: np.ndarray, calib: CameraCalibration, plane: StagePlane) -> np.ndarray:
    """Project stage-frame 3D points (N, 3) mm to distorted image pixels (N, 2)."""
    rvec, _ = cv2.Rodrigues(plane.R)
    pts = np.ascontiguousarray(points_mm, dtype=np.float64).reshape(-1, 1, 3)
    proj, _ = cv2.projectPoints(pts, rvec, plane.t.astype(np.float64), calib.K, calib.dist)
    return proj.reshape(-1, 2)


def pixels_to_plane(
    pixels: Sequence[Sequence[float]] | np.ndarray,
    calib: CameraCalibration,
    plane: StagePlane,
    height_mm: float = 0.0,
) -> np.ndarray:
    """Back-project distorted pixels (N, 2) onto the plane ``z = -height_mm`` (stage frame).

    Returns (N, 2) stage (x, y) in mm.
    """
    px = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-12)
    norm = cv2.undistortPointsIter(px, calib.K, calib.dist, None, None, criteria).reshape(-1, 2)
    rays = np.column_stack([norm, np.ones(len(norm))]) @ plane.R  # R^T d, in stage frame
    centre = -plane.R.T @ plane.t
    lam = (-height_mm - centre[2]) / rays[:, 2]
    return centre[:2] + lam[:, None] * rays[:, :2]


def calibration_document(camera: CameraCalibration, plane: StagePlane) -> dict[str, Any]:
    """A calibration as one JSON-ready document, ``{"camera": {...}, "plane": {...}}``: what
    ``manage.py calibrate --out`` writes and ``manage.py inspect --calibration`` reads."""
    return {"camera": camera.to_dict(), "plane": plane.to_dict()}
