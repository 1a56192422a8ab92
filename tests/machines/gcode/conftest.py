"""Shared profiles and helpers for the G-code tests."""

from __future__ import annotations

from functools import reduce
from pathlib import Path

import pytest

from machines.gcode import Envelope
from machines.protocol.registry import profile_for

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "gcode"

# A 300 x 200 x 80 mm mill; GRBL homes to X300 Y200 Z0.
MILL_ENVELOPE = Envelope(0, 300, 0, 200, -80, 0)
# The printer the PrusaSlicer samples were sliced for.
PRINTER_ENVELOPE = Envelope(0, 250, 0, 210, 0, 210)


def marlin_checksum(text: str) -> int:
    """XOR of every byte, computed independently of the parser under test."""
    return reduce(lambda total, byte: total ^ byte, text.encode("ascii"), 0)


@pytest.fixture
def mill():
    return profile_for("grbl", MILL_ENVELOPE)


@pytest.fixture
def printer():
    return profile_for("marlin", PRINTER_ENVELOPE)


def sample_text(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample G-code {path} is not available")
    return path.read_text(encoding="utf-8")
