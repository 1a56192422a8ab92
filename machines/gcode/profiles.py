"""Machine profiles: what a machine can reach and which commands it may be sent.

A profile is the contract between the MES and one physical machine. The envelope
is in machine coordinates (what the controller reports after homing), in mm. The
profile carries its firmware's :class:`~machines.gcode.dialects.Dialect`, which
supplies every default that depends on the firmware: :func:`default_profile`
builds one from the dialect alone.

Defaults and why:

* Mills home to the top/right/back corner, printers to the minima: the dialect
  says which (``homes_to_maxima``) and ``home_position`` follows. A GRBL
  controller's stored G28/G30 positions are assumed to equal ``home_position``
  (G28.1/G30.1, which would change them, are forbidden).
* Every program is assumed to start at ``home_position``: the runner homes a
  machine before starting a job.
* ``max_line_length`` is the firmware's line buffer (GRBL 1.1's LINE_BUFFER_SIZE
  80, Marlin's MAX_CMD_SIZE 96); for numbered dialects the validator adds the
  ``N<n> ... *NN`` framing the sender uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from machines.gcode.dialects import Dialect

Vec3 = tuple[float, float, float]

WORK_OFFSET_NAMES = ("G54", "G55", "G56", "G57", "G58", "G59")

# "T" on its own allows any tool number (GRBL ignores T apart from reporting it).
ANY_TOOL = "T"


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
    the dialect forbids stay forbidden even when listed here.
    ``work_offsets`` maps G54..G59 to the machine coordinates of each work origin.
    ``parameter_letters`` defaults to what the dialect accepts. Feed moves faster than
    ``max_feed_mm_min`` and spindle speeds above ``max_spindle_rpm`` (None: unchecked) are refused.
    """

    dialect: Dialect
    envelope: Envelope
    max_line_length: int
    allowed_commands: frozenset[str]
    work_offsets: dict[str, Vec3] = field(default_factory=_zero_work_offsets)
    max_feed_mm_min: float = 3000.0
    rapid_mm_min: float = 3000.0
    acceleration_mm_s2: float = 500.0
    home_position: Vec3 = (0.0, 0.0, 0.0)
    parameter_letters: frozenset[str] | None = None
    max_spindle_rpm: float | None = None
    #: A production profile refuses the dialect's setup commands (the MES sets the machine up itself).
    production: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.dialect, Dialect):
            raise TypeError(f"dialect must be a Dialect, not {type(self.dialect).__name__}")
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
    def firmware(self) -> str:
        """The firmware's name (``"grbl"``, ``"marlin"``), as machines record it."""
        return self.dialect.firmware

    @property
    def accepted_letters(self) -> frozenset[str]:
        if self.parameter_letters is not None:
            return self.parameter_letters
        return self.dialect.parameter_letters

    def work_offset(self, name: str) -> Vec3:
        """Machine coordinates of work origin ``name``; unset ones are at zero."""
        return self.work_offsets.get(name, (0.0, 0.0, 0.0))


def default_profile(dialect: Dialect, envelope: Envelope, **overrides: object) -> MachineProfile:
    """The default profile of a machine speaking ``dialect``; any MachineProfile field can be overridden."""
    corner = (
        (envelope.x_max, envelope.y_max, envelope.z_max)
        if dialect.homes_to_maxima
        else (envelope.x_min, envelope.y_min, envelope.z_min)
    )
    settings: dict[str, object] = {
        "dialect": dialect,
        "envelope": envelope,
        "max_line_length": dialect.max_line_length,
        "allowed_commands": dialect.allowed_commands,
        "max_feed_mm_min": dialect.default_max_feed_mm_min,
        "rapid_mm_min": dialect.default_rapid_mm_min,
        "acceleration_mm_s2": dialect.default_acceleration_mm_s2,
        "home_position": corner,
        "max_spindle_rpm": dialect.default_max_spindle_rpm,
    }
    settings.update(overrides)
    return MachineProfile(**settings)  # type: ignore[arg-type]
