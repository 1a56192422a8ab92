"""Pass / fail decision against the drawing's tolerances and the defect limit."""

from __future__ import annotations

from dataclasses import dataclass

from .defects import Defect
from .measure import PartMeasurement
from .register import Registration
from .spec import PartSpec

PASS, FAIL, UNABLE = "PASS", "FAIL", "UNABLE"
MIN_DEFECT_MM = 0.3
# Defect sizes are measured to about +-0.03 mm near the limit; a part is only passed
# when its defects are clearly below the limit, so one at the limit is never passed.
DEFECT_GUARD_MM = 0.05


@dataclass(frozen=True)
class Measurement:
    """One checked quantity: nominal, actual and deviation in mm, tolerance (+/-)."""

    name: str
    nominal: float
    actual: float
    deviation: float
    tolerance: float
    ok: bool

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "nominal": round(self.nominal, 4),
            "actual": round(self.actual, 4),
            "deviation": round(self.deviation, 4),
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: tuple[str, ...]
    measurements: tuple[Measurement, ...]


def _check(name, nominal, actual, tol) -> Measurement:
    dev = actual - nominal
    return Measurement(name, nominal, actual, dev, tol, abs(dev) <= tol)


def make_measurements(meas: PartMeasurement, reg: Registration, spec: PartSpec) -> list[Measurement]:
    """Every checked quantity in drawing terms.

    Hole position is checked as true position: the distance of the measured centre
    from the nominal one (deviation >= 0) against ``tolerances.hole_position``.
    """
    tol = spec.tolerances
    out = [
        _check("length", spec.length, meas.length_mm, tol.outline),
        _check("width", spec.width, meas.width_mm, tol.outline),
    ]
    names = ("corner_x0y0", "corner_xLy0", "corner_xLyW", "corner_x0yW")
    for name, idx in zip(names, reg.corner_order, strict=True):
        radius = meas.corner_radii_mm[idx]
        if radius is not None and spec.corner_radius > 0:
            out.append(_check(f"{name}.radius", spec.corner_radius, radius, tol.corner_radius))
    for m in reg.matches:
        hs = m.nominal
        out.append(_check(f"{hs.id}.diameter", hs.diameter, m.measured.diameter, tol.hole_diameter))
        out.append(_check(f"{hs.id}.x", hs.x, m.x, tol.hole_position))
        out.append(_check(f"{hs.id}.y", hs.y, m.y, tol.hole_position))
        dist = float(((m.x - hs.x) ** 2 + (m.y - hs.y) ** 2) ** 0.5)
        out.append(
            Measurement(f"{hs.id}.position", 0.0, dist, dist, tol.hole_position, dist <= tol.hole_position)
        )
    return out


def decide(
    measurements: list[Measurement],
    defects: list[Defect],
    *,
    min_defect_mm: float = MIN_DEFECT_MM,
    guard_mm: float = DEFECT_GUARD_MM,
) -> Verdict:
    """FAIL if any measurement is out of tolerance or any defect measures at least
    ``min_defect_mm - guard_mm`` (guard band for the defect-size uncertainty)."""
    reasons = [
        f"{m.name} deviates {m.deviation:+.3f} mm (tolerance ±{m.tolerance})"
        for m in measurements
        if not m.ok
    ]
    for d in defects:
        if d.size_mm >= min_defect_mm - guard_mm:
            reasons.append(f"{d.type} of {d.size_mm:.2f} mm at ({d.x:.1f}, {d.y:.1f}) mm")
    return Verdict(FAIL if reasons else PASS, tuple(reasons), tuple(measurements))
