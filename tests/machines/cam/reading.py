"""Reading the generated G-code back: the CAM tests' own interpreters and reference geometry.

The programs are checked by re-interpreting the G-code here (arcs rebuilt from I/J, E tracked as
absolute) and measuring the resulting toolpaths against the drawing, so a wrong offset, a missed hole or
a bad extrusion model fails. Written independently of :mod:`machines.cam`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pytest

from tests.factories import BRACKET_SPEC

TOOL = 3.175


RT = TOOL / 2.0


BRK_080 = BRACKET_SPEC  # the shop's BRK-080-A bracket


# A plate with a hole wide enough (> 2 tool diameters) to need a pocket.
WIDE_HOLE = {
    "outline": {"length": 60.0, "width": 40.0, "corner_radius": 0.0},
    "thickness": 3.0,
    "holes": [
        {"id": "BIG", "x": 20.0, "y": 20.0, "diameter": 14.0},
        {"id": "S", "x": 45.0, "y": 20.0, "diameter": 5.0},
    ],
}


WORD = re.compile(r"([A-Z])(-?\d*(?:\.\d+)?)")  # "G28 X": axis words may be bare


def code_words(line):
    """(letter, text) words of a line with ( ) and ; comments removed."""
    body = re.sub(r"\(.*?\)", "", line).split(";")[0].strip()
    words = WORD.findall(body)
    assert "".join(a + b for a, b in words) == body.replace(" ", ""), line
    return words


@dataclass
class Move:
    kind: str  # G0 G1 G2 G3
    start: tuple
    end: tuple
    centre: tuple | None
    section: str


def mill_moves(program):
    """Interpret a GRBL program (absolute, G17) into moves tagged with the last comment."""
    pos = [None, None, None]
    mode = None
    section = ""
    moves = []
    for line in program.splitlines():
        comment = re.search(r"\((.*)\)", line)
        if comment and not code_words(line):
            section = comment.group(1)
            continue
        words = dict(code_words(line))
        g = words.get("G")
        if g in ("0", "1", "2", "3"):
            mode = "G" + g
        axes = {k: float(v) for k, v in words.items() if k in "XYZIJ"}
        if not any(k in axes for k in "XYZ"):
            continue
        end = [axes.get(a, p) for a, p in zip("XYZ", pos, strict=True)]
        centre = None
        if mode in ("G2", "G3"):
            centre = (pos[0] + axes.get("I", 0.0), pos[1] + axes.get("J", 0.0))
        if None not in pos:
            moves.append(Move(mode, tuple(pos), tuple(end), centre, section))
        pos = end
    return moves


def sample(move, step=0.1):
    """Points along a move; arcs rebuilt from the centre, Z linear (helix)."""
    (x0, y0, z0), (x1, y1, z1) = move.start, move.end
    if move.centre is None:
        n = max(1, math.ceil(math.dist((x0, y0, z0), (x1, y1, z1)) / step))
        return [
            (x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, z0 + (z1 - z0) * k / n) for k in range(n + 1)
        ]
    cx, cy = move.centre
    r = math.hypot(x0 - cx, y0 - cy)
    a0 = math.atan2(y0 - cy, x0 - cx)
    a1 = math.atan2(y1 - cy, x1 - cx)
    if move.kind == "G2":
        sweep = -((a0 - a1) % (2 * math.pi) or 2 * math.pi)
    else:
        sweep = (a1 - a0) % (2 * math.pi) or 2 * math.pi
    n = max(2, math.ceil(abs(sweep) * r / step))
    return [
        (
            cx + r * math.cos(a0 + sweep * k / n),
            cy + r * math.sin(a0 + sweep * k / n),
            z0 + (z1 - z0) * k / n,
        )
        for k in range(n + 1)
    ]


def cutting(moves, section_prefix):
    return [m for m in moves if m.kind != "G0" and m.section.startswith(section_prefix)]


def assert_hole_cut(moves, hole, depth, tool=TOOL):
    path_r = (hole["diameter"] - tool) / 2.0
    cx, cy = hole["x"], hole["y"]
    points = [p for m in moves for p in sample(m, 0.05)]
    radii = [math.hypot(x - cx, y - cy) for x, y, _ in points]
    assert max(radii) == pytest.approx(path_r, abs=0.01)
    assert min(z for _, _, z in points) == pytest.approx(-depth)
    # At full depth the tool goes once all the way round at the finishing radius.
    angles = {
        int(math.degrees(math.atan2(y - cy, x - cx)) % 360 // 10)
        for x, y, z in points
        if abs(z + depth) < 1e-6 and abs(math.hypot(x - cx, y - cy) - path_r) <= 0.01
    }
    assert len(angles) == 36


PRINT_G = {"0", "1", "4", "21", "28", "90", "92"}


PRINT_M = {"82", "84", "104", "106", "107", "109", "140", "190", "105"}


W, H, H0 = 0.45, 0.2, 0.3


FIL_AREA = math.pi * (1.75 / 2) ** 2


@dataclass
class Printed:
    layers: list  # per layer: list of extruding segments ((x0, y0), (x1, y1), dE)
    layer_z: list
    retracts: int
    lines: list


def interpret_print(program, retract_mm=0.8):
    """Marlin interpreter: checks E as it goes (absolute, only retractions go back)."""
    x = y = z = None
    e = 0.0
    before_retract = None
    layers, layer_z = [], []
    retracts = 0
    for line in program.splitlines():
        if line.startswith(";LAYER:"):
            assert int(line.split(":")[1]) == len(layers)
            layers.append([])
            layer_z.append(None)
            continue
        words = dict(code_words(line))
        if words.get("G") == "92":
            e = float(words["E"])
            continue
        if words.get("G") not in ("0", "1"):
            continue
        nx = float(words.get("X", x)) if "X" in words else x
        ny = float(words.get("Y", y)) if "Y" in words else y
        if "Z" in words:
            z = float(words["Z"])
            if layers and layer_z[-1] is None:
                layer_z[-1] = z  # the layer's own Z; the end-code lift comes later
        if "E" in words:
            ne = float(words["E"])
            moved = (nx, ny) != (x, y)
            if ne < e:
                assert not moved and before_retract is None, line  # pure retraction
                assert e - ne <= retract_mm + 1e-9
                before_retract = e
                retracts += 1
            elif before_retract is not None:
                assert not moved and ne == pytest.approx(before_retract), line  # exact unretract
                before_retract = None
            elif moved:
                assert words["G"] == "1"
                if layers:
                    layers[-1].append(((x, y), (nx, ny), ne - e))
            e = ne
        x, y = nx, ny
    return Printed(layers, layer_z, retracts, program.splitlines())


def segment_distance(p, a, b):
    """Distance from point p to segment ab."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)
    t = min(1.0, max(0.0, t))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def rr_perimeter(length, width, r):
    return 2 * (length + width) - 8 * r + 2 * math.pi * r


def rr_area(length, width, r):
    return length * width - (4 - math.pi) * r * r


def expected_filament(spec_d, perimeters=2):
    """Independent volume model: perimeter beads + solid/sparse infill of the core.

    Core = plate minus the perimeter shells; solid layers fill it completely,
    sparse layers 20 %. Perimeters put a bead of (w - h)h + π(h/2)² per mm.
    """
    o = spec_d["outline"]
    length, width, r, t = o["length"], o["width"], o["corner_radius"], spec_d["thickness"]
    holes = spec_d["holes"]
    n = math.ceil((t - H0) / H) + 1
    tops = [min(H0 + k * H, t) for k in range(n)]
    shell = perimeters * W
    core = rr_area(length - 2 * shell, width - 2 * shell, max(r - shell, 0)) - sum(
        math.pi * (h["diameter"] / 2 + shell) ** 2 for h in holes
    )
    total = 0.0
    for k, top in enumerate(tops):
        h = top - (tops[k - 1] if k else 0.0)
        bead = (W - h) * h + math.pi * (h / 2) ** 2
        loops = sum(
            rr_perimeter(length - 2 * d, width - 2 * d, max(r - d, 0))
            + sum(2 * math.pi * (hole["diameter"] / 2 + d) for hole in holes)
            for d in (W / 2 + i * W for i in range(perimeters))
        )
        density = 1.0 if k < 3 or k >= n - 3 else 0.2
        total += bead * loops + density * h * core
    return total / FIL_AREA
