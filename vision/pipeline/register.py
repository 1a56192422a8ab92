"""Register measured holes to the drawing: which way up and round does the part lie?

The outline alone fixes the part's frame only up to its four symmetries (a rectangle
looks the same rotated by 180 degrees or turned over about either axis); the holes tell
them apart.  Each symmetry maps the provisional frame of :mod:`.measure` onto a
candidate drawing frame; holes are matched greedily by distance under a gate, and the
symmetry with the lowest cost (matched distances plus a penalty per unmatched hole) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .measure import HoleMeasurement, PartMeasurement
from .spec import HoleSpec, PartSpec

# name, mirrored?, (x -> a*x + b*L, y -> c*y + d*W)
SYMMETRIES = (
    ("identity", False, (1, 0, 1, 0)),
    ("rot180", False, (-1, 1, -1, 1)),
    ("flip_x", True, (1, 0, -1, 1)),  # turned over about the long axis
    ("flip_y", True, (-1, 1, 1, 0)),  # turned over about the short axis
)


@dataclass(frozen=True)
class HoleMatch:
    nominal: HoleSpec
    measured: HoleMeasurement
    x: float  # measured centre in the drawing frame, mm
    y: float


@dataclass(frozen=True)
class Registration:
    """Chosen symmetry and hole correspondences (drawing frame, mm).

    flipped: the part lies top face down relative to the drawing; ambiguous: another
    symmetry explains the holes equally well (symmetric hole pattern), so ``flipped``
    and the 180-degree choice are arbitrary but the measurements are not affected.
    corner_order: indices into PartMeasurement.corner_radii_mm in drawing order
    (x0y0, xLy0, xLyW, x0yW).
    """

    symmetry: str
    flipped: bool
    ambiguous: bool
    matches: tuple[HoleMatch, ...]
    missing: tuple[HoleSpec, ...]
    extra: tuple[tuple[HoleMeasurement, float, float], ...]
    cost: float
    transform: tuple[int, int, int, int]
    corner_order: tuple[int, int, int, int]

    def to_drawing(self, xy: np.ndarray, length: float, width: float) -> np.ndarray:
        """Provisional-frame points (N, 2) mm -> drawing frame (N, 2) mm."""
        a, b, c, d = self.transform
        p = np.asarray(xy, float).reshape(-1, 2)
        return np.column_stack([a * p[:, 0] + b * length, c * p[:, 1] + d * width])


def _corner_order(a: int, c: int) -> tuple[int, int, int, int]:
    # Provisional corners are indexed by (sx, sy) in (-,-), (+,-), (+,+), (-,+).
    signs = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    return tuple(signs.index((a * sx, c * sy)) for sx, sy in signs)  # type: ignore[return-value]


def register_holes(
    meas: PartMeasurement,
    spec: PartSpec,
    *,
    gate_mm: float = 2.0,
    unmatched_cost_mm: float = 5.0,
) -> Registration:
    """Choose the symmetry that best explains the measured holes.

    gate_mm: a measured hole further than this from a nominal one (or with diameter
    differing by more than half the nominal) cannot match it.  Returns a
    :class:`Registration`; a part with no holes in spec and none measured registers
    as "identity" and ambiguous.
    """
    L, W = meas.length_mm, meas.width_mm
    pts = np.array([[h.x, h.y] for h in meas.holes]).reshape(-1, 2)
    results = []
    for name, mirrored, tr in SYMMETRIES:
        a, b, c, d = tr
        xy = np.column_stack([a * pts[:, 0] + b * L, c * pts[:, 1] + d * W]) if len(pts) else pts
        pairs = []
        for i, hm in enumerate(meas.holes):
            for j, hs in enumerate(spec.holes):
                dist = float(np.hypot(xy[i, 0] - hs.x, xy[i, 1] - hs.y))
                if dist <= gate_mm and abs(hm.diameter - hs.diameter) <= 0.5 * hs.diameter:
                    pairs.append((dist + 0.1 * abs(hm.diameter - hs.diameter), i, j))
        pairs.sort()
        used_m: set[int] = set()
        used_s: set[int] = set()
        matches = []
        cost = 0.0
        for dist, i, j in pairs:
            if i in used_m or j in used_s:
                continue
            used_m.add(i)
            used_s.add(j)
            cost += dist
            matches.append(HoleMatch(spec.holes[j], meas.holes[i], float(xy[i, 0]), float(xy[i, 1])))
        missing = tuple(h for j, h in enumerate(spec.holes) if j not in used_s)
        extra = tuple(
            (h, float(xy[i, 0]), float(xy[i, 1])) for i, h in enumerate(meas.holes) if i not in used_m
        )
        cost += unmatched_cost_mm * (len(missing) + len(extra))
        # A tiny preference for the unflipped, unrotated reading breaks exact ties.
        cost += 1e-6 * SYMMETRIES.index((name, mirrored, tr))
        results.append((cost, name, mirrored, tr, tuple(matches), missing, extra))
    results.sort(key=lambda r: r[0])
    best = results[0]
    ambiguous = len(results) > 1 and results[1][0] - best[0] < 0.05
    cost, name, mirrored, tr, matches, missing, extra = best
    matches = tuple(sorted(matches, key=lambda m: m.nominal.id))
    return Registration(
        name, mirrored, ambiguous, matches, missing, extra, float(cost), tr, _corner_order(tr[0], tr[2])
    )
