"""Register measured holes to the drawing: which way round does the part lie?

The outline alone fixes the part's frame only up to its four symmetries (a rectangle
looks the same rotated by 180 degrees or turned over about either axis).  A part lies on
the station top face up, as its drawing says, so only the two readings that keep the face
up are candidates; the holes tell them apart.  Each maps the provisional frame of
:mod:`.measure` onto a candidate drawing frame; holes are matched greedily by distance
under a gate, and the reading with the lowest cost (matched distances plus a penalty per
unmatched hole) wins.  The mirrored readings are scored too, but only to say so when a
part lies face down (its hole pattern then fits only mirrored): reading it mirrored would
report its holes at mirrored places, and a strip whose holes lie on its centreline would
pick a mirror by noise.
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
FACE_UP = tuple(symmetry for symmetry in SYMMETRIES if not symmetry[1])
MIRRORED = tuple(symmetry for symmetry in SYMMETRIES if symmetry[1])


@dataclass(frozen=True)
class HoleMatch:
    nominal: HoleSpec
    measured: HoleMeasurement
    x: float  # measured centre in the drawing frame, mm
    y: float


@dataclass(frozen=True)
class Registration:
    """Chosen reading and hole correspondences (drawing frame, mm).

    flipped: always False (parts lie face up; kept for the pose's readers); ambiguous:
    the other face-up reading explains the holes equally well (a hole pattern symmetric
    under a half turn), so the 180-degree choice is arbitrary but the measurements are not
    affected; face_down: the holes fit only a mirrored reading, all of them, better than
    either face-up one (the part lies upside down: the caller asks for it to be turned).
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
    face_down: bool = False

    def to_drawing(self, xy: np.ndarray, length: float, width: float) -> np.ndarray:
        """Provisional-frame points (N, 2) mm -> drawing frame (N, 2) mm."""
        a, b, c, d = self.transform
        p = np.asarray(xy, float).reshape(-1, 2)
        return np.column_stack([a * p[:, 0] + b * length, c * p[:, 1] + d * width])


def _corner_order(a: int, c: int) -> tuple[int, int, int, int]:
    # Provisional corners are indexed by (sx, sy) in (-,-), (+,-), (+,+), (-,+).
    signs = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    return tuple(signs.index((a * sx, c * sy)) for sx, sy in signs)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Reading:
    """One symmetry's hole matching: its cost (lower is better) and what matched."""

    cost: float
    name: str
    transform: tuple[int, int, int, int]
    matches: tuple[HoleMatch, ...]
    missing: tuple[HoleSpec, ...]
    extra: tuple[tuple[HoleMeasurement, float, float], ...]


def _read(
    meas: PartMeasurement, spec: PartSpec, symmetry, gate_mm: float, unmatched_cost_mm: float
) -> _Reading:
    """Match the measured holes to the drawing's under one symmetry (greedy by distance, gated)."""
    name, _, tr = symmetry
    L, W = meas.length_mm, meas.width_mm
    pts = np.array([[h.x, h.y] for h in meas.holes]).reshape(-1, 2)
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
    extra = tuple((h, float(xy[i, 0]), float(xy[i, 1])) for i, h in enumerate(meas.holes) if i not in used_m)
    cost += unmatched_cost_mm * (len(missing) + len(extra))
    # A tiny preference for the unrotated reading breaks exact ties.
    cost += 1e-6 * SYMMETRIES.index(symmetry)
    return _Reading(cost, name, tr, tuple(sorted(matches, key=lambda m: m.nominal.id)), missing, extra)


def register_holes(
    meas: PartMeasurement,
    spec: PartSpec,
    *,
    gate_mm: float = 2.0,
    unmatched_cost_mm: float = 5.0,
) -> Registration:
    """Choose the face-up reading that best explains the measured holes.

    gate_mm: a measured hole further than this from a nominal one (or with diameter
    differing by more than half the nominal) cannot match it.  Returns a
    :class:`Registration`; a part with no holes in spec and none measured registers
    as "identity" and ambiguous.
    """
    face_up = sorted(
        (_read(meas, spec, s, gate_mm, unmatched_cost_mm) for s in FACE_UP), key=lambda r: r.cost
    )
    best = face_up[0]
    ambiguous = face_up[1].cost - best.cost < 0.05
    mirrored = min((_read(meas, spec, s, gate_mm, unmatched_cost_mm) for s in MIRRORED), key=lambda r: r.cost)
    face_down = (
        bool(spec.holes)
        and not mirrored.missing
        and not mirrored.extra
        and (best.missing or best.extra)
        and mirrored.cost < best.cost
    )
    return Registration(
        best.name,
        False,
        ambiguous,
        best.matches,
        best.missing,
        best.extra,
        float(best.cost),
        best.transform,
        _corner_order(best.transform[0], best.transform[2]),
        bool(face_down),
    )
