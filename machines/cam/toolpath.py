"""Helpers shared by the program generators: points and the number format of the G-code they write."""

from __future__ import annotations

Point = tuple[float, float]


def fmt_number(value: float, decimals: int = 3) -> str:
    """Shortest fixed-point text with at most ``decimals`` decimals, never ``-0``.

    Both firmwares accept this form and it keeps lines short (the mill's line buffer is small).
    """
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_feed(value: float) -> str:
    """A feed, speed or temperature word value: a whole number (fractions mean nothing to the machine)."""
    return str(round(value))


def check_line_lengths(lines: list[str], limit: int, machine: str) -> None:
    """Raise ``AssertionError`` if a generated line is longer than ``limit`` (guards a format bug)."""
    for line in lines:
        if len(line) > limit:  # pragma: no cover - guards a format bug
            raise AssertionError(f"line too long for the {machine}: {line!r}")
