"""The demo shop's catalogue: the plates it is seeded with, and which machines can make each.

Each design is a :class:`drawing.Drawing`; the seed data (:mod:`demo.seed`) stores it as a part revision
and writes its programs with :mod:`machines.cam`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drawing import Drawing, Hole, Outline


@dataclass(frozen=True)
class DemoDesign:
    """A catalogue part the demo shop is seeded with.

    ``machine_types`` records which machine types can make it (checked against
    :func:`machines.cam.machine_types_for` by the tests). ``spec`` is a fresh catalogue
    dict on every access, so nobody can mutate the shared design by accident.
    """

    part_number: str
    name: str
    kind: str  # "bracket" | "strip"
    revision: str
    material_hint: str
    plate: Drawing
    machine_types: tuple[str, ...]

    @property
    def spec(self) -> dict[str, Any]:
        return self.plate.to_dict()


def _row(prefix: str, xs: Sequence[float], y: float, d: float, first: int = 1) -> list[Hole]:
    """A row of equal holes at height ``y``, numbered ``prefix1``, ``prefix2``, ... from ``first``."""
    return [Hole(f"{prefix}{first + n}", float(x), float(y), d) for n, x in enumerate(xs)]


def _plate(length: float, width: float, thickness: float, r: float, holes: list[Hole]) -> Drawing:
    """A plate drawing with the shop's default tolerances."""
    return Drawing(Outline(float(length), float(width), float(r)), float(thickness), tuple(holes))


_BOTH = ("cnc_mill", "fdm_printer")

DEMO_DESIGNS: tuple[DemoDesign, ...] = (
    DemoDesign(
        "BRK-080",
        "Flat bracket 80 mm, 3 holes",
        "bracket",
        "A",
        "aluminium 6061-T6 (or PLA/PETG for fit checks)",
        _plate(80, 30, 4, 3, _row("H", (10, 40, 70), 15, 6.5)),
        _BOTH,
    ),
    DemoDesign(
        "BRK-120",
        "L-mounting plate 120 mm, 4 holes",
        "bracket",
        "A",
        "aluminium 6061-T6",
        _plate(120, 40, 5, 4, _row("H", (12, 108), 10, 8.5) + _row("H", (12, 108), 30, 8.5, 3)),
        _BOTH,
    ),
    DemoDesign(
        "BRK-050",
        "Gusset plate 50 mm, 4 holes",
        "bracket",
        "A",
        "aluminium 6061-T6",
        _plate(50, 50, 6, 5, _row("H", (10, 40), 10, 6.6) + _row("H", (10, 40), 40, 6.6, 3)),
        _BOTH,
    ),
    DemoDesign(
        "STR-200",
        "Reinforcement strip 200 mm, 6 holes",
        "strip",
        "A",
        "aluminium 5052 (or PETG)",
        _plate(200, 20, 3, 2, _row("H", (10, 46, 82, 118, 154, 190), 10, 5.5)),
        _BOTH,
    ),
    DemoDesign(
        # Family number kept; the blank is 290 long so the toolpath fits the
        # 300 mm mill travel (290 + tool). Too long for any printer bed.
        "STR-300",
        "Reinforcement strip 290 mm, 8 holes",
        "strip",
        "A",
        "aluminium 6061-T6",
        _plate(290, 25, 4, 3, _row("H", tuple(12 + 38 * k for k in range(8)), 12.5, 6.5)),
        ("cnc_mill",),
    ),
)
