"""Annotated picture of an inspection: what was measured, where it deviates, why."""

from __future__ import annotations

import cv2
import numpy as np

from .defects import Defect
from .measure import PartMeasurement
from .verdict import FAIL, PASS, Measurement

_COLOURS = {PASS: (60, 180, 60), FAIL: (40, 40, 220)}
_OK, _BAD, _DEFECT = (80, 200, 80), (40, 40, 230), (0, 170, 255)


def _rounded_outline(length: float, width: float, r: float, n: int = 12) -> np.ndarray:
    """Points (mm, part frame) along a rounded rectangle, counter-clockwise."""
    r = min(max(r, 0.0), width / 2)
    pts = []
    for cx, cy, a0 in ((length - r, r, -90), (length - r, width - r, 0), (r, width - r, 90), (r, r, 180)):
        ang = np.deg2rad(a0 + np.linspace(0, 90, n))
        pts.append(np.column_stack([cx + r * np.cos(ang), cy + r * np.sin(ang)]))
    return np.vstack(pts)


def draw_measurement(
    canvas: np.ndarray,
    meas: PartMeasurement,
    measurements: list[Measurement] | tuple[Measurement, ...],
    corner_radius_mm: float,
) -> np.ndarray:
    """Draw onto ``canvas`` ((H, W, 3) uint8 BGR, ROI px; changed in place and returned) the fitted
    outline (green, red when length or width is out of tolerance), the hole circles and one
    deviation label (mm) per failing quantity, top left.  Lines at 1/16 px precision."""
    shift = 4
    scale = 1 << shift
    bad = {m.name.split(".")[0] for m in measurements if not m.ok}
    outline_colour = _BAD if {"length", "width"} & bad else _OK
    outline = meas.to_px(_rounded_outline(meas.length_mm, meas.width_mm, corner_radius_mm))
    points = [np.rint(outline * scale).astype(np.int32)]
    cv2.polylines(canvas, points, True, outline_colour, 1, cv2.LINE_AA, shift)
    for hole in meas.holes:
        (cx, cy), r = hole.edge.centre, hole.edge.radius
        cv2.circle(
            canvas, (round(cx * scale), round(cy * scale)), round(r * scale), _OK, 1, cv2.LINE_AA, shift
        )
    failing = [m for m in measurements if not m.ok]
    for row, m in enumerate(failing, start=1):
        label = f"{m.name}: {m.deviation:+.3f} mm"
        cv2.putText(canvas, label, (5, 15 * row + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _BAD, 1, cv2.LINE_AA)
    return canvas


def draw_defects(canvas: np.ndarray, defects: list[Defect]) -> np.ndarray:
    """Draw an orange box and a "type size" label (mm) round each defect's ROI-pixel bbox onto
    ``canvas`` ((H, W, 3) uint8 BGR; changed in place and returned)."""
    for d in defects:
        x0, y0, x1, y1 = d.bbox_px
        cv2.rectangle(canvas, (x0 - 3, y0 - 3), (x1 + 3, y1 + 3), _DEFECT, 1)
        label = f"{d.type} {d.size_mm:.2f}"
        cv2.putText(
            canvas, label, (x0, max(y0 - 6, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _DEFECT, 1, cv2.LINE_AA
        )
    return canvas


def verdict_banner(width: int, verdict: str, reasons: tuple[str, ...]) -> np.ndarray:
    """A (28, width, 3) uint8 BGR banner in the verdict's colour with the verdict, its first reason
    and how many more there are (at most 120 characters)."""
    banner = np.zeros((28, width, 3), np.uint8)
    banner[:] = _COLOURS.get(verdict, (120, 120, 120))
    text = (
        verdict
        if not reasons
        else f"{verdict}: {reasons[0]}" + (f" (+{len(reasons) - 1})" if len(reasons) > 1 else "")
    )
    cv2.putText(banner, text[:120], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return banner


def annotate(
    image: np.ndarray,
    meas: PartMeasurement | None,
    measurements: list[Measurement] | tuple[Measurement, ...],
    defects: list[Defect],
    verdict: str,
    reasons: tuple[str, ...] = (),
    corner_radius_mm: float = 0.0,
) -> np.ndarray:
    """Draw the inspection onto a copy of the rectified ROI.

    image: (H, W) uint8/float grey ROI; meas: the measurement (None when inspection
    stopped early).  Returns a (H + banner, W, 3) uint8 BGR image: fitted outline and
    hole circles (green within tolerance, red outside), deviation labels on failing
    quantities, orange boxes around defects, and a verdict banner on top.
    """
    grey = np.clip(image, 0, 255).astype(np.uint8)
    out = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if meas is not None:
        draw_measurement(out, meas, measurements, corner_radius_mm)
    draw_defects(out, defects)
    return np.vstack([verdict_banner(out.shape[1], verdict, reasons), out])
