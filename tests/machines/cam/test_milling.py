"""Tests for machines.cam.milling: drawings -> GRBL programs, checked by reading the G-code back."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from drawing import Drawing
from machines.cam import (
    BREAKTHROUGH,
    mill_plate_program,
    print_plate_program,
)
from tests.geometry import rr_distance
from tests.machines.cam.reading import (
    BRK_080,
    RT,
    WIDE_HOLE,
    assert_hole_cut,
    code_words,
    cutting,
    mill_moves,
    sample,
)

MILL_G = {"0", "1", "2", "3", "4", "17", "21", "90", "91", "94"}


MILL_M = {"3", "5", "8", "9", "30"}


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


def test_mill_every_hole_is_cut_through_at_the_right_radius(brk, mill):
    moves = mill_moves(mill)
    depth = brk.thickness + BREAKTHROUGH
    for hole in BRK_080["holes"]:
        assert_hole_cut(cutting(moves, f"HOLE {hole['id']}"), hole, depth)


def test_mill_wide_hole_is_pocketed_without_leaving_a_core():
    spec = Drawing.from_dict(WIDE_HOLE)
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


def test_programs_are_deterministic(brk):
    assert mill_plate_program(brk, tabs=True) == mill_plate_program(Drawing.from_dict(BRK_080), tabs=True)
    assert print_plate_program(brk) == print_plate_program(Drawing.from_dict(BRK_080))
