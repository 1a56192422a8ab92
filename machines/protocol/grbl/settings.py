"""GRBL's ``$$`` settings checked against the machine's record in the MES, and explained in words.

The MES validates every program against the envelope on the machine's record; a controller whose
travel is shorter, or that reports positions in inches, would run those programs into its limits or
misreport where the tool is. Those mismatches refuse the start; the rest are warnings for the page.
"""

from __future__ import annotations

from collections.abc import Mapping

from machines.protocol.base import MachineFacts

_TRAVEL = {"X": "130", "Y": "131", "Z": "132"}
#: A controller may round its travel to its step resolution; this much shorter still fits.
_TRAVEL_TOLERANCE_MM = 0.01


def _number(settings: Mapping[str, str], key: str) -> float | None:
    try:
        return float(settings[key])
    except (KeyError, ValueError):
        return None


def settings_mismatch(settings: Mapping[str, str], *, facts: MachineFacts) -> str | None:
    """Why these settings cannot run the machine's validated programs, or None if they can.

    An empty mapping (the controller did not list its settings) passes: nothing contradicts the record.
    """
    problems = []
    if settings.get("13", "0").strip() not in ("0", "0.0"):
        problems.append("it reports positions in inches ($13=1); the MES works in millimetres")
    for axis, (low, high) in zip("XYZ", facts.envelope, strict=False):
        travel = _number(settings, _TRAVEL[axis])
        span = high - low
        if travel is not None and travel + _TRAVEL_TOLERANCE_MM < span:
            problems.append(
                f"its {axis} travel ${_TRAVEL[axis]}={travel:g} mm is shorter than the {span:g} mm the MES "
                "checks programs against"
            )
    return "; ".join(problems) or None


def settings_warnings(settings: Mapping[str, str], *, facts: MachineFacts | None) -> list[str]:
    """What a machinist should know about these settings, in words (nothing here refuses a start)."""
    warnings = []
    if settings.get("20") == "0":
        warnings.append("Soft limits are off ($20=0): only the MES's envelope check keeps moves in travel.")
    if settings.get("22") == "0" and facts is not None and facts.requires_homing:
        warnings.append(
            "Homing is off on the controller ($22=0) although the machine record requires homing: "
            "jobs will fail at $H."
        )
    return warnings
