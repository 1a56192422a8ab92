"""Machine profiles: what a machine can reach and which commands it may be sent.

A profile is the contract between the MES and one physical machine. The envelope
is in machine coordinates (what the controller reports after homing), in mm.

Defaults and why:

* GRBL mills home to the top/right/back corner, so ``grbl_profile`` puts
  ``home_position`` at the envelope's maxima; Marlin printers home to the minima.
  The stored G28/G30 positions of a GRBL controller are assumed to equal
  ``home_position`` (G28.1/G30.1, which would change them, are forbidden).
* Every program is assumed to start at ``home_position``: the runner homes a
  machine before starting a job.
* ``max_line_length`` is GRBL 1.1's LINE_BUFFER_SIZE (80) and Marlin's MAX_CMD_SIZE
  (96); for Marlin the validator adds the ``N<n> ... *NN`` framing the sender uses.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

GRBL = "grbl"
MARLIN = "marlin"
FIRMWARES = frozenset({GRBL, MARLIN})

Vec3 = tuple[float, float, float]

WORK_OFFSET_NAMES = ("G54", "G55", "G56", "G57", "G58", "G59")

# "T" on its own allows any tool number (GRBL ignores T apart from reporting it).
ANY_TOOL = "T"

GRBL_ALLOWED_COMMANDS = frozenset(
    {
        *("G0", "G1", "G2", "G3", "G4", "G10", "G17", "G18", "G19", "G20", "G21"),
        *("G28", "G30", "G38.2", "G38.3", "G38.4", "G38.5", "G40", "G43.1", "G49", "G53"),
        *WORK_OFFSET_NAMES,
        *("G61", "G80", "G90", "G91", "G91.1", "G92", "G92.1", "G93", "G94"),
        *("M0", "M1", "M2", "M30", "M3", "M4", "M5", "M7", "M8", "M9"),
        ANY_TOOL,
        *("$H", "$X", "$C", "$J"),
    }
)

# M201/M203/M204/M205 only change motion limits in RAM (PrusaSlicer emits them in its
# start code); they are allowed because M500, which would persist them, is forbidden.
MARLIN_ALLOWED_COMMANDS = frozenset(
    {
        *("G0", "G1", "G2", "G3", "G4", "G21", "G28", "G29", "G90", "G91", "G92"),
        *("M18", "M73", "M80", "M81", "M82", "M83", "M84"),
        *("M104", "M105", "M106", "M107", "M109", "M117", "M118", "M140", "M155", "M190"),
        *("M201", "M203", "M204", "M205", "M220", "M221", "M400", "M900"),
        "T0",
    }
)

# Parameter letters each firmware understands (G, M and T are commands, N is the
# line number; both are handled separately).
GRBL_PARAMETER_LETTERS = frozenset("FIJKLPRSXYZ")
MARLIN_PARAMETER_LETTERS = frozenset(string.ascii_uppercase) - frozenset("GMNT")
PARAMETER_LETTERS = {GRBL: GRBL_PARAMETER_LETTERS, MARLIN: MARLIN_PARAMETER_LETTERS}


@dataclass(frozen=True)
class Envelope:
    """Reachable box in machine coordinates, mm; bounds are inclusive."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    z_min: float
    z_max: float

    def __post_init__(self) -> None:
        for axis in "xyz":
            if getattr(self, f"{axis}_min") > getattr(self, f"{axis}_max"):
                raise ValueError(f"envelope {axis}_min is greater than {axis}_max")

    def axis_range(self, axis_index: int) -> tuple[float, float]:
        """``(min, max)`` for axis 0 (X), 1 (Y) or 2 (Z)."""
        return (
            (self.x_min, self.x_max),
            (self.y_min, self.y_max),
            (self.z_min, self.z_max),
        )[axis_index]


def _zero_work_offsets() -> dict[str, Vec3]:
    return dict.fromkeys(WORK_OFFSET_NAMES, (0.0, 0.0, 0.0))


@dataclass(frozen=True)
class MachineProfile:
    """Everything the validator and estimator need to know about one machine.

    ``allowed_commands`` is an allow-list of command names as produced by the parser
    (``"G1"``, ``"M104"``, ``"$H"``; ``"T"`` allows any tool number). Commands that
    the rules module forbids stay forbidden even when listed here.
    ``work_offsets`` maps G54..G59 to the machine coordinates of each work origin.
    ``parameter_letters`` defaults to what the firmware accepts.
    """

    firmware: str
    envelope: Envelope
    max_line_length: int
    allowed_commands: frozenset[str]
    work_offsets: dict[str, Vec3] = field(default_factory=_zero_work_offsets)
    max_feed_mm_min: float = 3000.0
    rapid_mm_min: float = 3000.0
    acceleration_mm_s2: float = 500.0
    home_position: Vec3 = (0.0, 0.0, 0.0)
    parameter_letters: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.firmware not in FIRMWARES:
            raise ValueError(f"firmware must be one of {sorted(FIRMWARES)}, not {self.firmware!r}")
        unknown = set(self.work_offsets) - set(WORK_OFFSET_NAMES)
        if unknown:
            raise ValueError(f"unknown work offsets {sorted(unknown)}; use G54..G59")
        for name, value in (
            ("max_feed_mm_min", self.max_feed_mm_min),
            ("rapid_mm_min", self.rapid_mm_min),
            ("acceleration_mm_s2", self.acceleration_mm_s2),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def accepted_letters(self) -> frozenset[str]:
        if self.parameter_letters is not None:
            return self.parameter_letters
        return PARAMETER_LETTERS[self.firmware]

    def work_offset(self, name: str) -> Vec3:
        """Machine coordinates of work origin ``name``; unset ones are at zero."""
        return self.work_offsets.get(name, (0.0, 0.0, 0.0))


def profile_for(firmware: str, envelope: Envelope, **overrides: object) -> MachineProfile:
    """The default profile of a ``firmware`` machine (``grbl_profile``, ``marlin_profile``...)."""
    try:
        make = PROFILE_MAKERS[firmware]
    except KeyError:
        raise ValueError(f"firmware must be one of {sorted(FIRMWARES)}, not {firmware!r}") from None
    return make(envelope, **overrides)


def grbl_profile(envelope: Envelope, **overrides: object) -> MachineProfile:
    """A GRBL 1.1 mill; any MachineProfile field can be overridden by keyword."""
    settings: dict[str, object] = {
        "firmware": GRBL,
        "envelope": envelope,
        "max_line_length": 80,
        "allowed_commands": GRBL_ALLOWED_COMMANDS,
        "max_feed_mm_min": 2000.0,
        "rapid_mm_min": 3000.0,
        "acceleration_mm_s2": 200.0,
        "home_position": (envelope.x_max, envelope.y_max, envelope.z_max),
    }
    settings.update(overrides)
    return MachineProfile(**settings)  # type: ignore[arg-type]


def marlin_profile(envelope: Envelope, **overrides: object) -> MachineProfile:
    """A Marlin 2 printer; any MachineProfile field can be overridden by keyword."""
    settings: dict[str, object] = {
        "firmware": MARLIN,
        "envelope": envelope,
        "max_line_length": 96,
        "allowed_commands": MARLIN_ALLOWED_COMMANDS,
        "max_feed_mm_min": 12000.0,
        "rapid_mm_min": 12000.0,
        "acceleration_mm_s2": 1500.0,
        "home_position": (envelope.x_min, envelope.y_min, envelope.z_min),
    }
    settings.update(overrides)
    return MachineProfile(**settings)  # type: ignore[arg-type]


#: Default profile maker by firmware name.
PROFILE_MAKERS = {GRBL: grbl_profile, MARLIN: marlin_profile}
