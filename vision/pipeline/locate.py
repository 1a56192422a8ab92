"""Find the single part on the stage and its rough pose.

Runs on a coarse rectified image (a few tenths of a mm per pixel): the part is the only
large bright blob on the dark stage.  The rough pose only seeds the sub-pixel
measurement; whether the part is flipped is decided later by hole registration.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import MultiplePartsError, NoPartError, PartTooLargeError, PartTouchesBorderError


@dataclass(frozen=True, eq=False)
class PartLocation:
    """Rough pose in the pixel frame of the image given to :func:`locate_part`.

    centre (x, y) px; size (long, short) px; angle_deg of the long axis from +x
    (range [0, 180)); bbox (x0, y0, x1, y1) exclusive px; contour (N, 2) int32;
    threshold: the grey level that separated part from stage.
    """

    centre: tuple[float, float]
    size: tuple[float, float]
    angle_deg: float
    bbox: tuple[int, int, int, int]
    area_px: float
    contour: np.ndarray
    threshold: float


def view_extent_px(valid: np.ndarray) -> tuple[int, int]:
    """Width and height (px) of a rectified view: camera data along its middle row and column.

    The valid region is a slightly tilted, distorted quadrilateral, so this is the view's size to
    within its tilt (a few mm): generous on purpose, so a fit check built on it only refuses parts
    that surely cannot fit (a near miss still gets "touches the border" from :func:`locate_part`).
    """
    h, w = valid.shape
    return int(np.count_nonzero(valid[h // 2])), int(np.count_nonzero(valid[:, w // 2]))


def check_fits_view(length: float, width: float, view_w: float, view_h: float, margin: float = 2.0) -> None:
    """Raise PartTooLargeError unless a ``length`` x ``width`` rectangle (plus ``margin`` all round)
    fits a ``view_w`` x ``view_h`` view at some angle (all in the same unit, e.g. mm).

    A drawing that cannot fit is refused before looking at the photo: the part would always touch
    the border, and "move it towards the centre" would be the wrong advice.
    """
    L, W = length + 2 * margin, width + 2 * margin
    th = np.radians(np.arange(0.0, 90.01, 0.25))
    c, s = np.cos(th), np.sin(th)
    fits = ((L * c + W * s <= view_w) & (L * s + W * c <= view_h)) | (
        (L * c + W * s <= view_h) & (L * s + W * c <= view_w)
    )
    if not fits.any():
        raise PartTooLargeError(
            f"the part ({length:.0f} x {width:.0f} mm) cannot fit this camera's view "
            f"({view_w:.0f} x {view_h:.0f} mm) at any angle; inspect it at a station with a larger view"
        )


def otsu_threshold(pixels: np.ndarray) -> float:
    """Otsu's grey level (uint8 pixels, any shape) between a bright part and the darker stage.

    Otsu splits any histogram, so a real contrast step is demanded (5th to 99.9th percentile at
    least 40 grey levels, the threshold between them): an empty stage with noise and a lighting
    gradient is not "found" as a part.  Raises NoPartError.
    """
    thr, _ = cv2.threshold(pixels.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    lo, hi = np.percentile(pixels, [5, 99.9])
    if hi - lo < 40 or not (lo < thr < hi):
        raise NoPartError("no part in view (no bright object on the stage)")
    return thr


def part_sized_blobs(
    mask: np.ndarray, min_area_px: float, second_part_fraction: float
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Connected blobs of ``mask`` (uint8 (H, W)) that could be parts.

    Returns (labels int32 (H, W), cv2 stats per label, the labels of the part-sized blobs, largest
    first): at least ``min_area_px`` and ``second_part_fraction`` of the largest.  Raises
    NoPartError when no blob reaches ``min_area_px``.
    """
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(float)
    big = [i + 1 for i in np.argsort(-areas) if areas[i] >= min_area_px]
    if not big:
        raise NoPartError("no part in view (only blobs smaller than a part)")
    largest = stats[big[0], cv2.CC_STAT_AREA]
    return labels, stats, [i for i in big if stats[i, cv2.CC_STAT_AREA] >= second_part_fraction * largest]


def view_edge(valid: np.ndarray) -> np.ndarray:
    """The edge of the usable area, bool (H, W): the image border plus anything without camera
    data (``valid`` False), grown by a pixel."""
    edge = np.pad(~valid, 1, constant_values=True)
    return cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8))[1:-1, 1:-1] > 0


def _blob_location(labels: np.ndarray, stats: np.ndarray, label: int, threshold: float) -> PartLocation:
    """The :class:`PartLocation` of blob ``label``: minimum-area rectangle (longer side first),
    bounding box and outer contour of the blob."""
    blob = (labels == label).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea).reshape(-1, 2)
    (cx, cy), (w, h), ang = cv2.minAreaRect(contour)
    if w < h:
        w, h, ang = h, w, ang + 90.0
    x, y, bw, bh = cv2.boundingRect(contour)
    return PartLocation(
        (float(cx), float(cy)),
        (float(w), float(h)),
        float(ang % 180.0),
        (x, y, x + bw, y + bh),
        float(stats[label, cv2.CC_STAT_AREA]),
        contour.astype(np.int32),
        float(threshold),
    )


def locate_part(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    min_area_px: float = 200.0,
    second_part_fraction: float = 0.05,
) -> PartLocation:
    """Find the one part in a (coarse, rectified) grey image.

    image: (H, W) uint8, bright part on darker stage.  valid: optional bool (H, W), False
    where the rectified image has no camera pixels behind it.
    min_area_px: blobs smaller than this are dust and ignored.  A second blob larger
    than ``second_part_fraction`` of the largest (and than min_area_px) is a second part.

    Raises NoPartError, MultiplePartsError or PartTouchesBorderError.
    """
    if image.ndim != 2:
        raise ValueError("locate_part expects a single-channel image")
    if valid is None:
        valid = np.ones(image.shape, bool)
    pixels = image[valid]
    if pixels.size == 0:
        raise NoPartError("the rectified view is empty")
    thr = otsu_threshold(pixels)
    mask = ((image > thr) & valid).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    labels, stats, parts = part_sized_blobs(mask, min_area_px, second_part_fraction)
    edge = view_edge(valid)
    for i in parts:
        if np.any(edge[labels == i]):
            raise PartTouchesBorderError(
                "a part touches the edge of the field of view; move it towards the centre"
            )
    if len(parts) > 1:
        raise MultiplePartsError(f"{len(parts)} objects of part size in view; place one part")
    return _blob_location(labels, stats, parts[0], thr)
