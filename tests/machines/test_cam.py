"""Tests for machines.gcode.cam: plate drawings -> GRBL and Marlin programs.

The programs are checked by re-interpreting the G-code here (arcs rebuilt from
I/J, E tracked as absolute) and measuring the resulting toolpaths against the
drawing, so a wrong offset, a missed hole or a bad extrusion model fails.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import pytest

from machines.gcode.cam import (
    BREAKTHROUGH,
    DEMO_DESIGNS,
    MILL_ENVELOPE,
    PRINTER_BED,
    PlateSpec,
    machine_types_for,
    mill_plate_program,
    print_plate_program,
)

TOOL = 3.175
RT = TOOL / 2.0

BRK_080 = {
    "outline": {"length": 80.0, "width": 30.0, "corner_radius": 3.0},
    "thickness": 4.0,
    "holes": [
        {"id": "H1", "x": 10.0, "y": 15.0, "diameter": 6.5},
        {"id": "H2", "x": 40.0, "y": 15.0, "diameter": 6.5},
        {"id": "H3", "x": 70.0, "y": 15.0, "diameter": 6.5},
    ],
    "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
}

# A plate with a hole wide enough (> 2 tool diameters) to need a pocket.
WIDE_HOLE = {
    "outline": {"length": 60.0, "width": 40.0, "corner_radius": 0.0},
    "thickness": 3.0,
    "holes": [
        {"id": "BIG", "x": 20.0, "y": 20.0, "diameter": 14.0},
        {"id": "S", "x": 45.0, "y": 20.0, "diameter": 5.0},
    ],
}


def spec_dict(**changes):
    """BRK_080 with top-level keys replaced; outline/hole tweaks via helpers below."""
    d = {
        "outline": dict(BRK_080["outline"]),
        "thickness": BRK_080["thickness"],
        "holes": [dict(h) for h in BRK_080["holes"]],
        "tolerances": dict(BRK_080["tolerances"]),
    }
    d.update(changes)
    return d


def rr_distance(x, y, length, width, r):
    """Signed distance to a rounded rectangle at the origin, written independently:
    nearest point on the straight edges or the corner circles."""
    cx = min(max(x, r), length - r)
    cy = min(max(y, r), width - r)
    # (cx, cy) is the nearest point of the inner rectangle; outline = inner grown by r.
    inside_inner = r <= x <= length - r and r <= y <= width - r
    if inside_inner:
        return -min(x, y, length - x, width - y)
    return math.hypot(x - cx, y - cy) - r


# --- G-code interpretation ---------------------------------------------------------

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


# --- spec validation ------------------------------------------------------------------


def test_spec_round_trips_through_dict():
    spec = PlateSpec.from_dict(BRK_080)
    assert spec.to_dict() == BRK_080
    assert PlateSpec.from_dict(spec.to_dict()) == spec
    assert spec.holes[1].id == "H2" and spec.holes[1].radius == 3.25


def test_tolerances_default_when_absent():
    d = spec_dict()
    del d["tolerances"]
    assert PlateSpec.from_dict(d).tolerances.hole_position == 0.15


def _outline(**kw):
    return spec_dict(outline={**BRK_080["outline"], **kw})


def _holes(*holes):
    return spec_dict(holes=list(holes))


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (_outline(length=0.0), r"outline\.length must be > 0"),
        (_outline(width=-30.0), r"outline\.width must be > 0"),
        (spec_dict(thickness=0), r"thickness must be > 0"),
        (_outline(corner_radius=-1.0), r"corner_radius must be >= 0"),
        (_outline(corner_radius=15.5), r"corner_radius 15.5 exceeds half the width \(15.0\)"),
        (_holes({"id": "H1", "x": 90.0, "y": 15.0, "diameter": 6.5}), r"hole H1 .* not inside"),
        # Centre inside, but the hole edge only 0.5 mm from the outline edge.
        (_holes({"id": "H1", "x": 3.75, "y": 15.0, "diameter": 6.5}), r"1.0 mm margin"),
        # Inside the bounding box but cut by the rounded corner (r = 3).
        (
            spec_dict(
                outline={"length": 80.0, "width": 30.0, "corner_radius": 12.0},
                holes=[{"id": "C", "x": 3.2, "y": 3.2, "diameter": 2.0}],
            ),
            r"hole C .* not inside",
        ),
        (
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "B", "x": 25.0, "y": 15.0, "diameter": 6.5},
            ),
            r"holes A and B overlap",
        ),
        (
            # 0.5 mm web: not overlapping, but too thin to make.
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "B", "x": 27.0, "y": 15.0, "diameter": 6.5},
            ),
            r"holes A and B .* web",
        ),
        (
            _holes(
                {"id": "A", "x": 20.0, "y": 15.0, "diameter": 6.5},
                {"id": "A", "x": 50.0, "y": 15.0, "diameter": 6.5},
            ),
            r"duplicate hole id 'A'",
        ),
        (_holes({"id": "H1", "x": 20.0, "y": 15.0, "diameter": 0}), r"hole H1: diameter must be > 0"),
        (_holes({"id": "", "x": 20.0, "y": 15.0, "diameter": 5}), r"holes\[0\]\.id"),
        (_holes({"id": "H1", "x": "20", "y": 15.0, "diameter": 5}), r"hole H1\.x must be a number"),
        (_holes({"id": "H1", "y": 15.0, "diameter": 5}), r"hole H1\.x is required"),
        (spec_dict(thickness=True), r"thickness must be a number"),
        (spec_dict(thickness=float("nan")), r"must be finite"),
        (spec_dict(outline=None), r"spec\.outline is required"),
        (spec_dict(holes=None), r"spec\.holes is required"),
        (spec_dict(tolerances={"outline": 0.0}), r"tolerances\.outline must be > 0"),
    ],
)
def test_spec_validation_rejects(d, message):
    with pytest.raises(ValueError, match=message):
        PlateSpec.from_dict(d)


def test_direct_construction_is_validated_too():
    spec = PlateSpec.from_dict(BRK_080)
    with pytest.raises(ValueError, match="thickness"):
        PlateSpec(spec.outline, -1.0, spec.holes)


def test_reference_distance_matches_module():
    spec = PlateSpec.from_dict(BRK_080)
    for x, y in [(-2, -2), (1, 1), (40, 15), (81, 31), (40, -1), (0.5, 20), (79.9, 0.2)]:
        assert spec.edge_distance(x, y) == pytest.approx(rr_distance(x, y, 80, 30, 3), abs=1e-9)


# --- mill program -----------------------------------------------------------------------

MILL_G = {"0", "1", "2", "3", "4", "17", "21", "90", "91", "94"}
MILL_M = {"3", "5", "8", "9", "30"}


@pytest.fixture(scope="module")
def brk():
    return PlateSpec.from_dict(BRK_080)


@pytest.fixture(scope="module")
def mill(brk):
    return mill_plate_program(brk)


def test_mill_program_header_and_footer(mill):
    lines = [ln for ln in mill.splitlines() if code_words(ln)]
    assert lines[0] == "G21 G90 G17 G94"
    assert "M3 S12000" in lines[:4]
    assert lines.index("M3 S12000") < next(i for i, ln in enumerate(lines) if re.match(r"G[123] ", ln))
    assert lines[-2:] == ["M5", "M30"]
    assert lines[-3] == "G0 Z5"  # retracted before the spindle stops
    assert mill.endswith("\n")


def test_mill_program_uses_only_grbl_words(mill):
    comments = 0
    for line in mill.splitlines():
        assert len(line) <= 70, line
        if "(" in line:
            comments += 1
        for letter, text in code_words(line):
            assert letter in "GMXYZIJFSP", line
            if "." in text:
                assert len(text.split(".")[1]) <= 3, line
            if letter == "G":
                assert text in MILL_G, line
            if letter == "M":
                assert text in MILL_M, line
    assert comments <= 2 + len(BRK_080["holes"])  # sparing: one per operation


def test_mill_stays_inside_the_work_volume(brk, mill):
    depth = brk.thickness + BREAKTHROUGH
    margin = 0.01
    for move in mill_moves(mill):
        for x, y, z in sample(move, step=0.5):
            assert -RT - margin <= x <= 80 + RT + margin
            assert -RT - margin <= y <= 30 + RT + margin
            assert -depth - 1e-9 <= z <= 5.0 + 1e-9


def test_mill_arcs_are_consistent_for_grbl(mill):
    arcs = [m for m in mill_moves(mill) if m.centre]
    assert arcs
    for m in arcs:
        r0 = math.dist(m.start[:2], m.centre)
        r1 = math.dist(m.end[:2], m.centre)
        assert abs(r0 - r1) <= 0.002  # GRBL errors above 0.005


def test_mill_profile_is_offset_by_exactly_the_tool_radius(brk, mill):
    moves = cutting(mill_moves(mill), "PROFILE")
    assert moves
    depth = brk.thickness + BREAKTHROUGH
    for move in moves:
        for x, y, _z in sample(move):
            assert abs(rr_distance(x, y, 80, 30, 3) - RT) <= 0.01, (move, x, y)
    # The full-depth pass goes all the way round the offset outline.
    offset_perimeter = 2 * (80 + 30) - 8 * 3 + 2 * math.pi * (3 + RT)
    bottom = [m for m in moves if m.start[2] == m.end[2] == pytest.approx(-depth)]
    length = sum(
        sum(math.dist(a[:2], b[:2]) for a, b in itertools.pairwise(pts))
        for pts in (sample(m, 0.02) for m in bottom)
    )
    assert length == pytest.approx(offset_perimeter, abs=0.05)


def test_mill_profile_steps_down_and_climbs(brk, mill):
    moves = cutting(mill_moves(mill), "PROFILE")
    levels = sorted({round(m.end[2], 3) for m in moves}, reverse=True)
    depth = brk.thickness + BREAKTHROUGH
    assert levels[-1] == pytest.approx(-depth)
    steps = [a - b for a, b in zip([0.0, *levels], levels, strict=False)]
    assert all(0 < s <= 1.0 + 1e-9 for s in steps)
    assert len(levels) == math.ceil(depth / 1.0)
    # Climb milling with M3: the outside profile runs clockwise, the holes anticlockwise.
    assert {m.kind for m in moves if m.centre} == {"G2"}
    assert {m.kind for m in cutting(mill_moves(mill), "HOLE") if m.centre} == {"G3"}


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


def test_mill_every_hole_is_cut_through_at_the_right_radius(brk, mill):
    moves = mill_moves(mill)
    depth = brk.thickness + BREAKTHROUGH
    for hole in BRK_080["holes"]:
        assert_hole_cut(cutting(moves, f"HOLE {hole['id']}"), hole, depth)


def test_mill_wide_hole_is_pocketed_without_leaving_a_core():
    spec = PlateSpec.from_dict(WIDE_HOLE)
    moves = mill_moves(mill_plate_program(spec))
    depth = 3.0 + BREAKTHROUGH
    for hole in WIDE_HOLE["holes"]:
        assert_hole_cut(cutting(moves, f"HOLE {hole['id']}"), hole, depth)
    big = WIDE_HOLE["holes"][0]
    # At full depth, every point of the hole disc is within a tool radius of the tool centre.
    bottom = [
        (x, y) for m in cutting(moves, "HOLE BIG") for x, y, z in sample(m, 0.2) if abs(z + depth) < 1e-6
    ]
    for k in range(0, 70, 3):
        for a in range(0, 360, 15):
            px = big["x"] + k / 10 * math.cos(math.radians(a))
            py = big["y"] + k / 10 * math.sin(math.radians(a))
            assert min(math.hypot(px - x, py - y) for x, y in bottom) < RT, (px, py)
    # Sharp-cornered outline: the offset is still exact (arcs of radius = tool radius).
    for m in cutting(moves, "PROFILE"):
        for x, y, _ in sample(m):
            assert abs(rr_distance(x, y, 60, 40, 0) - RT) <= 0.01


def test_mill_stock_origin_shifts_xy_only(brk):
    base = mill_moves(mill_plate_program(brk))
    shifted = mill_moves(mill_plate_program(brk, stock_origin=(10.0, 5.0)))
    assert len(base) == len(shifted)
    for a, b in zip(base, shifted, strict=True):
        # Rounding happens after the shift, so allow one unit in the last place.
        assert b.end == pytest.approx((a.end[0] + 10, a.end[1] + 5, a.end[2]), abs=1.01e-3)


def test_mill_tabs_hold_the_part(brk):
    moves = mill_moves(mill_plate_program(brk, tabs=True))
    profile = cutting(moves, "PROFILE")
    depth = brk.thickness + BREAKTHROUGH
    tab_top = -(brk.thickness - 1.0)
    for tab_x in (20.0, 60.0):
        for edge_y in (-RT, 30 + RT):
            # Over the tab the tool never goes below tab height...
            over = [
                z for m in profile for x, y, z in sample(m) if abs(x - tab_x) < 1.0 and abs(y - edge_y) < 1e-3
            ]
            assert over and min(over) == pytest.approx(tab_top)
    # ...but elsewhere it still cuts through, and the XY path is unchanged.
    assert min(m.end[2] for m in profile) == pytest.approx(-depth)
    for m in profile:
        for x, y, _ in sample(m):
            assert abs(rr_distance(x, y, 80, 30, 3) - RT) <= 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tool_diameter": 6.5}, r"hole H1 .* wider than"),
        ({"step_down": 0}, r"step_down must be > 0"),
        ({"feed": -1}, r"feed must be > 0"),
        ({"safe_z": 0}, r"safe_z must be > 0"),
    ],
)
def test_mill_rejects_impossible_parameters(brk, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mill_plate_program(brk, **kwargs)


# --- print program -------------------------------------------------------------------------

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


@pytest.fixture(scope="module")
def printed(brk):
    return interpret_print(print_plate_program(brk))


def segment_distance(p, a, b):
    """Distance from point p to segment ab."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)
    t = min(1.0, max(0.0, t))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def test_print_program_uses_only_marlin_words(brk):
    program = print_plate_program(brk)
    for line in program.splitlines():
        assert len(line) <= 90, line
        for letter, text in code_words(line):
            assert letter in "GMXYZEFS", line
            if letter == "G":
                assert text in PRINT_G, line
            if letter == "M":
                assert text in PRINT_M, line


def test_print_start_and_end_code(brk):
    lines = print_plate_program(brk).splitlines()
    codes = [ln for ln in lines if ln and not ln.startswith(";")]
    start = ["M140 S60", "M104 S210", "G28", "M190 S60", "M109 S210", "G21", "G90", "M82", "G92 E0"]
    assert codes[: len(start)] == start
    first_layer = lines.index(";LAYER:0")
    prime = [ln for ln in lines[:first_layer] if ln.startswith("G1 X")]
    assert len(prime) == 1  # the prime line
    assert lines.index("M106 S255") == lines.index(";LAYER:1") + 1
    tail = codes[-6:]
    assert tail[:3] == ["M104 S0", "M140 S0", "M107"]
    assert tail[3].startswith("G1 Z14")  # 10 mm above the 4 mm part
    assert tail[4:] == ["G28 X0", "M84"]


def test_print_layer_count_and_heights(brk, printed):
    expected = math.ceil((4.0 - H0) / H) + 1
    assert len(printed.layers) == expected
    assert printed.layer_z[0] == pytest.approx(H0)
    assert printed.layer_z[-1] == pytest.approx(4.0)  # part printed at drawn thickness
    steps = [b - a for a, b in zip(printed.layer_z, printed.layer_z[1:], strict=False)]
    assert all(0 < s <= H + 1e-9 for s in steps)


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


def test_print_extrusion_matches_the_volume_model(brk, printed):
    extruded = sum(de for layer in printed.layers for *_, de in layer)
    expected = expected_filament(BRK_080)
    assert extruded == pytest.approx(expected, rel=0.10)
    # Honest bounds: less than a solid plate, clearly more than its shell alone.
    solid = brk.area() * brk.thickness / FIL_AREA
    assert 0.3 * solid < extruded < solid
    # Solid layers put down h per mm²; a sparse layer well under half of that.
    per_layer = [sum(de for *_, de in layer) for layer in printed.layers]
    assert per_layer[5] < 0.6 * per_layer[2]
    assert per_layer[-1] > 0.9 * per_layer[-4] * (4.0 - 3.9) / H  # thin top layer still solid


def test_print_extrusion_per_mm_uses_the_bead_cross_section(printed):
    bead = (W - H) * H + math.pi * (H / 2) ** 2
    for a, b, de in printed.layers[4]:
        length = math.dist(a, b)
        if length > 1.0:
            assert de == pytest.approx(length * bead / FIL_AREA, rel=0.01, abs=2e-5)


def test_print_never_extrudes_over_a_hole_or_outside_the_part(printed):
    ox, oy = 110 - 40, 110 - 15
    for layer in printed.layers:
        for a, b, _ in layer:
            for hole in BRK_080["holes"]:
                centre = (hole["x"] + ox, hole["y"] + oy)
                # Bead centreline at least half a line width off the hole wall;
                # 0.05 mm is the allowed chord error of the flattened circle.
                limit = hole["diameter"] / 2 + W / 2 - 0.05 - 1e-3
                assert segment_distance(centre, a, b) >= limit, (hole["id"], a, b)
            for px, py in (a, b):
                assert rr_distance(px - ox, py - oy, 80, 30, 3) <= -W / 2 + 0.05 + 1e-3


def test_print_perimeters_trace_the_walls(printed):
    """The outermost loop and each hole's wall loop sit exactly half a line width in."""
    ox, oy = 70, 95
    points = [p for a, b, _ in printed.layers[7] for p in (a, b)]
    on_outer = [p for p in points if abs(rr_distance(p[0] - ox, p[1] - oy, 80, 30, 3) + W / 2) < 1e-3]
    assert len(on_outer) > 20
    for hole in BRK_080["holes"]:
        c = (hole["x"] + ox, hole["y"] + oy)
        wall = [p for p in points if abs(math.dist(p, c) - (hole["diameter"] / 2 + W / 2)) < 1e-3]
        assert len(wall) >= 16


def test_print_infill_alternates_plus_and_minus_45(printed):
    def angles(layer):
        return {
            round(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) % 180)
            for a, b, _ in layer
            if math.dist(a, b) > 10
        }

    # Perimeters contribute 0° and 90° lines; the infill is one diagonal per layer.
    assert angles(printed.layers[4]) - {0, 90} == {45}
    assert angles(printed.layers[5]) - {0, 90} == {135}


def test_print_retracts_on_long_travels_only(brk):
    program = print_plate_program(brk)
    lines = program.splitlines()
    x = y = None
    for n, line in enumerate(lines):
        words = dict(code_words(line))
        if words.get("G") not in ("0", "1"):
            continue
        if words["G"] == "0" and "X" in words:
            nx, ny = float(words["X"]), float(words["Y"])
            if x is not None:
                retracted = "E" in lines[n - 1] and "X" not in lines[n - 1]
                assert retracted == (math.hypot(nx - x, ny - y) > 2.0), line
            x, y = nx, ny
        elif "X" in words:
            x, y = float(words["X"]), float(words["Y"])


@pytest.mark.parametrize(
    "design", [d for d in DEMO_DESIGNS if "fdm_printer" in d.machine_types], ids=lambda d: d.part_number
)
def test_print_demo_designs_on_the_bed(design):
    program = print_plate_program(design.plate)
    printed = interpret_print(program)
    spec_d = design.spec
    t = spec_d["thickness"]
    assert len(printed.layers) == math.ceil((t - H0) / H) + 1
    extruded = sum(de for layer in printed.layers for *_, de in layer)
    assert extruded == pytest.approx(expected_filament(spec_d), rel=0.10)
    for line in program.splitlines():
        words = dict(code_words(line))
        if words.get("G") not in ("0", "1"):
            continue
        if "X" in words:
            assert 0 <= float(words["X"]) <= PRINTER_BED[0]
        if "Y" in words:
            assert 0 <= float(words["Y"]) <= PRINTER_BED[1]
        if "Z" in words:
            assert 0 < float(words["Z"]) <= PRINTER_BED[2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"infill": "gyroid"}, r"infill 'gyroid' not supported"),
        ({"layer_height": 0.5}, r"layer_height 0.5 too thick"),
        ({"bed_center": (30.0, 110.0)}, r"does not fit the bed"),
        ({"perimeters": 0}, r"perimeters must be"),
        ({"perimeters": 20}, r"too thin for 20 perimeters|narrower than 20"),
    ],
)
def test_print_rejects_impossible_parameters(brk, kwargs, message):
    with pytest.raises(ValueError, match=message):
        print_plate_program(brk, **kwargs)


# --- demo catalogue and determinism ----------------------------------------------------------


def test_demo_designs_catalogue():
    assert [d.part_number for d in DEMO_DESIGNS] == ["BRK-080", "BRK-120", "BRK-050", "STR-200", "STR-300"]
    for design in DEMO_DESIGNS:
        assert design.kind in ("bracket", "strip")
        assert design.revision == "A"
        assert design.material_hint
        assert PlateSpec.from_dict(design.spec) == design.plate
        assert design.machine_types == machine_types_for(design.plate)
        assert "cnc_mill" in design.machine_types
        o = design.plate.outline
        assert o.length + TOOL <= MILL_ENVELOPE[0] and o.width + TOOL <= MILL_ENVELOPE[1]
    brk080 = DEMO_DESIGNS[0].spec
    assert [(h["x"], h["y"], h["diameter"]) for h in brk080["holes"]] == [
        (10.0, 15.0, 6.5),
        (40.0, 15.0, 6.5),
        (70.0, 15.0, 6.5),
    ]
    counts = {d.part_number: len(d.plate.holes) for d in DEMO_DESIGNS}
    assert counts == {"BRK-080": 3, "BRK-120": 4, "BRK-050": 4, "STR-200": 6, "STR-300": 8}
    strip = DEMO_DESIGNS[3].plate
    pitches = {round(b.x - a.x, 6) for a, b in zip(strip.holes, strip.holes[1:], strict=False)}
    assert len(pitches) == 1  # evenly pitched
    assert DEMO_DESIGNS[4].machine_types == ("cnc_mill",)
    with pytest.raises(ValueError, match="does not fit the bed"):
        print_plate_program(DEMO_DESIGNS[4].plate)


def test_demo_spec_dict_is_a_copy():
    design = DEMO_DESIGNS[0]
    design.spec["holes"].clear()
    assert len(design.spec["holes"]) == 3


@pytest.mark.parametrize("design", DEMO_DESIGNS, ids=lambda d: d.part_number)
def test_mill_demo_designs(design):
    spec = design.plate
    moves = mill_moves(mill_plate_program(spec))
    depth = spec.thickness + BREAKTHROUGH
    o = spec.outline
    for hole in design.spec["holes"]:
        assert_hole_cut(cutting(moves, f"HOLE {hole['id']}"), hole, depth)
    for m in cutting(moves, "PROFILE"):
        for x, y, _ in sample(m, 0.5):
            assert abs(rr_distance(x, y, o.length, o.width, o.corner_radius) - RT) <= 0.01


def test_programs_are_deterministic(brk):
    assert mill_plate_program(brk, tabs=True) == mill_plate_program(PlateSpec.from_dict(BRK_080), tabs=True)
    assert print_plate_program(brk) == print_plate_program(PlateSpec.from_dict(BRK_080))
