"""Orchestrator: one camera image + drawing spec + station calibration -> verdict.

Stages (each a pure function, timed here): rectify (coarse) -> locate -> rectify (fine,
part ROI only) -> measure -> register -> defects -> verdict -> annotate.  Failures that
mean "this photo cannot be judged" become an UNABLE verdict with a reason code.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from .annotate import annotate
from .calibration import CameraCalibration, StagePlane
from .defects import Defect, detect_defects
from .errors import FaceDownError, InspectionError
from .imageio import load_image_bytes
from .locate import check_fits_view, locate_part, view_extent_px
from .measure import Parallax, PartMeasurement, measure_part
from .rectify import (
    RectifyMaps,
    build_rectify_maps,
    camera_centre,
    height_scale,
    rectify,
    to_height,
)
from .register import Registration, register_holes
from .spec import PartSpec
from .threads import single_threaded_blas
from .verdict import FAIL, PASS, UNABLE, Measurement, Verdict, decide, make_measurements

PIPELINE_VERSION = "vision-pipeline/0.1.0"
COARSE_FACTOR = 4
ROI_MARGIN_PX = 40

__all__ = [
    "PIPELINE_VERSION",
    "InspectionResult",
    "MapStore",
    "inspect_image",
    "load_image_bytes",
    "warm_maps",
]


@dataclass(frozen=True, eq=False)
class InspectionResult:
    """Everything one inspection produced.

    verdict: PASS / FAIL / UNABLE; reasons: human-readable causes; unable_code: the
    InspectionError code when UNABLE; measurements, defects: see verdict / defects;
    pose: part centre (stage mm), angle of the drawing x axis (deg), flipped, ambiguous;
    timings: seconds per stage plus "total"; annotated: BGR image or None.
    """

    verdict: str
    reasons: tuple[str, ...]
    measurements: tuple[Measurement, ...]
    defects: tuple[Defect, ...]
    pose: dict[str, Any]
    timings: dict[str, float]
    pipeline_version: str = PIPELINE_VERSION
    unable_code: str | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    annotated: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no image)."""
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "unable_code": self.unable_code,
            "measurements": [m.to_dict() for m in self.measurements],
            "defects": [d.to_dict() for d in self.defects],
            "pose": self.pose,
            "timings": {k: round(v, 5) for k, v in self.timings.items()},
            "pipeline_version": self.pipeline_version,
            "diagnostics": self.diagnostics,
        }

    def measurement(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.name == name), None)


_MAP_CACHE: OrderedDict[tuple, RectifyMaps] = OrderedDict()
_MAP_CACHE_SIZE = 8


def _fingerprint(calib: CameraCalibration, plane: StagePlane) -> str:
    h = hashlib.sha1()
    for arr in (calib.K, calib.dist, plane.R, plane.t):
        h.update(np.ascontiguousarray(arr, np.float64).tobytes())
    h.update(repr(tuple(calib.image_size)).encode())
    return h.hexdigest()


def get_maps(calib: CameraCalibration, plane: StagePlane, height_mm: float, mm_per_px: float) -> RectifyMaps:
    """Rectification maps, cached per (calibration, plane, height, scale)."""
    key = (_fingerprint(calib, plane), round(height_mm, 4), round(mm_per_px, 6))
    maps = _MAP_CACHE.get(key)
    if maps is None:
        maps = build_rectify_maps(calib, plane, height_mm=height_mm, mm_per_px=mm_per_px)
        _MAP_CACHE[key] = maps
        while len(_MAP_CACHE) > _MAP_CACHE_SIZE:
            _MAP_CACHE.popitem(last=False)
    else:
        _MAP_CACHE.move_to_end(key)
    return maps


class MapStore(Protocol):
    """Where rectification maps outlive a process (a one-shot ``manage.py inspect``): the caller's I/O,
    so the pipeline itself never touches a file.  ``load`` returns None for a key it does not hold."""

    def load(self, key: str) -> RectifyMaps | None: ...

    def save(self, key: str, maps: RectifyMaps) -> None: ...


def _store_key(key: tuple) -> str:
    fingerprint, height_mm, mm_per_px = key
    return f"{fingerprint}-h{height_mm:.4f}-s{mm_per_px:.6f}"


def warm_maps(calib: CameraCalibration, plane: StagePlane, mm_per_px: float, store: MapStore) -> int:
    """Put the maps :func:`inspect_image` will need at ``mm_per_px`` in the in-process cache, from
    ``store`` where it holds them, else built and handed to ``store``.  Returns how many were built."""
    built = 0
    for scale in (mm_per_px * COARSE_FACTOR, mm_per_px):
        key = (_fingerprint(calib, plane), round(0.0, 4), round(scale, 6))
        if key in _MAP_CACHE:
            continue
        maps = store.load(_store_key(key))
        if maps is None:
            maps = build_rectify_maps(calib, plane, height_mm=0.0, mm_per_px=scale)
            store.save(_store_key(key), maps)
            built += 1
        _MAP_CACHE[key] = maps
        while len(_MAP_CACHE) > _MAP_CACHE_SIZE:
            _MAP_CACHE.popitem(last=False)
    return built


class _Timer:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self._last = time.perf_counter()
        self._start = self._last

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.t[name] = self.t.get(name, 0.0) + now - self._last
        self._last = now

    def done(self) -> dict[str, float]:
        self.t["total"] = time.perf_counter() - self._start
        return self.t


def inspect_image(
    image: np.ndarray,
    spec: dict | PartSpec,
    calibration: CameraCalibration,
    plane: StagePlane,
    *,
    mm_per_px: float = 0.1,
    annotate_image: bool = True,
    min_defect_mm: float = 0.3,
) -> InspectionResult:
    """Inspect one camera image of one part.

    image: (H, W) uint8 grey or (H, W, 3) BGR, the calibrated camera's full frame.
    spec: catalogue JSON dict (or parsed PartSpec).  mm_per_px: scale of the metric
    image in which everything is measured (0.1 for brackets; use a coarser scale for
    long strips so the view still covers them).  Returns an InspectionResult; never
    raises InspectionError (those become UNABLE), but raises SpecError for a bad spec
    and ValueError for an image that does not match the calibration.  numpy's BLAS runs
    single-threaded meanwhile (see :mod:`.threads`).
    """
    with single_threaded_blas():
        return _inspect(image, spec, calibration, plane, mm_per_px, annotate_image, min_defect_mm)


def _grey_image(image: np.ndarray, calibration: CameraCalibration) -> np.ndarray:
    """The camera frame as (H, W) uint8 grey ((H, W, 3) BGR is converted); ValueError when its
    size is not the calibration's or it is not uint8."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if (image.shape[1], image.shape[0]) != tuple(calibration.image_size):
        raise ValueError(
            f"image is {image.shape[1]}x{image.shape[0]} but the calibration is for "
            f"{calibration.image_size[0]}x{calibration.image_size[1]}"
        )
    if image.dtype != np.uint8:
        raise ValueError("image must be uint8")
    return image


def _check_fits(part_spec: PartSpec, coarse: RectifyMaps) -> None:
    """Raise PartTooLargeError when the drawing cannot fit the station's view at any angle."""
    view_w, view_h = view_extent_px(coarse.valid)
    check_fits_view(
        part_spec.length,
        part_spec.width,
        view_w * coarse.mm_per_px,
        view_h * coarse.mm_per_px,
    )


def _roi(bbox: tuple[int, int, int, int], fine_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The fine-grid ROI (x0, y0, x1, y1) px round a coarse-grid bbox, ``ROI_MARGIN_PX`` wider and
    clipped to the fine grid (coarse and fine grids share their origin, snapped: the bbox scales)."""
    x0, y0, x1, y1 = bbox
    return (
        max(0, x0 * COARSE_FACTOR - ROI_MARGIN_PX),
        max(0, y0 * COARSE_FACTOR - ROI_MARGIN_PX),
        min(fine_shape[1], x1 * COARSE_FACTOR + ROI_MARGIN_PX),
        min(fine_shape[0], y1 * COARSE_FACTOR + ROI_MARGIN_PX),
    )


def _parallax(fine: RectifyMaps, plane: StagePlane, roi, h_mm: float) -> Parallax:
    """Where the side walls of a part ``h_mm`` thick show in the ROI: the camera nadir (ROI px) and
    thickness / camera height."""
    centre = camera_centre(plane)
    nadir = fine.mm_to_px(centre[:2]) - np.array(roi[:2], float)
    return Parallax((float(nadir[0]), float(nadir[1])), h_mm / abs(float(centre[2])))


def _inspect(image, spec, calibration, plane, mm_per_px, annotate_image, min_defect_mm) -> InspectionResult:
    """:func:`inspect_image` itself (same arguments)."""
    timer = _Timer()
    part_spec = spec if isinstance(spec, PartSpec) else PartSpec.from_dict(spec)
    image = _grey_image(image, calibration)
    h_mm = part_spec.thickness
    # Maps are built once per station for the stage plane; the top face of a part of
    # any thickness is a homothety of it about the nadir, handled as a scale factor.
    coarse = get_maps(calibration, plane, 0.0, mm_per_px * COARSE_FACTOR)
    fine = get_maps(calibration, plane, 0.0, mm_per_px)
    top_mm_per_px = mm_per_px * height_scale(plane, 0.0, h_mm)
    timer.lap("maps")
    roi_img = None
    pose: dict[str, Any] = {}
    try:
        _check_fits(part_spec, coarse)
        small = rectify(image, coarse)
        timer.lap("rectify")
        loc = locate_part(small, coarse.valid, min_area_px=20.0 / (mm_per_px * COARSE_FACTOR) ** 2)
        timer.lap("locate")
        roi = _roi(loc.bbox, fine.shape)
        roi_u8 = rectify(image, fine, roi)
        roi_img = roi_u8.astype(np.float32)
        timer.lap("rectify")
        meas: PartMeasurement = measure_part(
            roi_u8,
            loc.threshold,
            mm_per_px=top_mm_per_px,
            corner_radius_mm=part_spec.corner_radius,
            parallax=_parallax(fine, plane, roi, h_mm),
        )
        timer.lap("measure")
        reg = register_holes(meas, part_spec)
        if reg.face_down:
            raise FaceDownError("the part lies face down: turn it over (top face up) and photograph it again")
        pose = _pose(meas, reg, fine, roi, plane, h_mm)
        timer.lap("register")
        defects, diag = detect_defects(roi_img, meas, reg, corner_radius_mm=part_spec.corner_radius)
        timer.lap("defects")
        measurements = make_measurements(meas, reg, part_spec)
        verdict = decide(measurements, defects, min_defect_mm=min_defect_mm)
        timer.lap("verdict")
        diag.update({"blur_px": meas.blur_px, "levels": list(meas.levels), "roi": list(roi)})
        if not annotate_image:
            return _judged(verdict, defects, pose, timer, diag, None)
        annotated = annotate(
            roi_img,
            meas,
            measurements,
            defects,
            verdict.verdict,
            verdict.reasons,
            corner_radius_mm=part_spec.corner_radius,
        )
        timer.lap("annotate")
        return _judged(verdict, defects, pose, timer, diag, annotated)
    except InspectionError as exc:
        if not annotate_image:
            return _unable(exc, pose, timer, None)
        # The picture: the part's ROI, or the coarse view when the part was not located.
        base = roi_img if roi_img is not None else rectify(image, coarse)
        annotated = annotate(base, None, [], [], UNABLE, (str(exc),))
        timer.lap("annotate")
        return _unable(exc, pose, timer, annotated)


def _judged(verdict: Verdict, defects, pose, timer: _Timer, diag: dict, annotated) -> InspectionResult:
    """The result of a completed inspection (annotated: BGR picture or None)."""
    return InspectionResult(
        verdict.verdict,
        verdict.reasons,
        verdict.measurements,
        tuple(defects),
        pose,
        timer.done(),
        diagnostics=diag,
        annotated=annotated,
    )


def _unable(exc: InspectionError, pose: dict[str, Any], timer: _Timer, annotated) -> InspectionResult:
    """The UNABLE result of an inspection stopped by ``exc`` (pose as far as it got)."""
    return InspectionResult(
        UNABLE, (str(exc),), (), (), pose, timer.done(), unable_code=exc.code, annotated=annotated
    )


def _pose(meas, reg: Registration, fine: RectifyMaps, roi, plane, h_mm) -> dict[str, Any]:
    a = reg.transform[0]
    x_axis = a * np.asarray(meas.e1)
    centre_px = np.asarray(meas.centre_px) + np.asarray(roi[:2], float)
    centre_mm = to_height(fine, plane, centre_px.reshape(1, 2), h_mm)[0]
    return {
        "centre_mm": [round(float(centre_mm[0]), 4), round(float(centre_mm[1]), 4)],
        "angle_deg": round(math.degrees(math.atan2(x_axis[1], x_axis[0])) % 360.0, 4),
        "flipped": bool(reg.flipped),
        "orientation_ambiguous": bool(reg.ambiguous),
        "symmetry": reg.symmetry,
    }


assert PASS and FAIL  # re-exported verdict constants are part of the public API
