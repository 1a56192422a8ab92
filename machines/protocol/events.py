"""Events emitted by the protocol engines.

Every event is an immutable value object: engines build them, runners read them.
Contracts shared by both engines:

* Whenever an engine moves to ``FAILED`` it emits :class:`Halted` as the last event
  of that batch, so a runner only has to watch for ``Halted`` to end a job.
* :class:`StreamComplete` is emitted exactly once per loaded program, when the last
  program line has been answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """Base class of everything an engine reports."""


@dataclass(frozen=True)
class Acknowledged(Event):
    """The firmware accepted program line ``line_index`` (0-based index in the load)."""

    line_index: int
    source_line: int


@dataclass(frozen=True)
class FirmwareError(Event):
    """The firmware rejected a command or reported a non-fatal error.

    ``line_index``/``source_line`` identify the program line the error answers,
    or are ``None`` when the error cannot be tied to one.
    """

    code: int | None
    message: str
    line_index: int | None
    source_line: int | None


@dataclass(frozen=True)
class Alarm(Event):
    """GRBL entered its alarm state; motion is locked until unlocked or reset."""

    code: int | None
    message: str


@dataclass(frozen=True)
class Message(Event):
    """Informational text (GRBL ``[MSG:..]`` and friends, Marlin ``echo:``)."""

    text: str


@dataclass(frozen=True)
class HostAction(Event):
    """The firmware tells or asks the host something (``//action:out_of_filament T0``).

    ``action`` is the lower-case name ("pause", "paused", "resume", "resumed", "cancel",
    "out_of_filament", or "prompt" for a whole host prompt), ``detail`` the rest of the text (for a
    prompt: the question and its choices in one line).
    """

    action: str
    detail: str = ""


@dataclass(frozen=True)
class StatusReport(Event):
    """A parsed GRBL real-time status report (``<Idle|MPos:...>``)."""

    state: str
    machine_pos: tuple[float, ...] | None
    work_pos: tuple[float, ...] | None
    feed: float | None
    spindle: float | None
    planner_free: int | None
    rx_free: int | None
    line: int | None
    overrides: tuple[int, ...] | None
    pins: str | None
    work_offset: tuple[float, ...] | None
    raw: str


@dataclass(frozen=True)
class Temperatures(Event):
    """Heater readings: name -> (actual, target or None), e.g. ``{"T0": (200.1, 200.0)}``."""

    readings: dict[str, tuple[float, float | None]] = field(hash=False)
    raw: str


@dataclass(frozen=True)
class Busy(Event):
    """Marlin keep-alive while a long command runs (``busy: processing``)."""

    reason: str


@dataclass(frozen=True)
class Resending(Event):
    """The engine rewound and will resend from this Marlin line number."""

    from_line_number: int


@dataclass(frozen=True)
class Started(Event):
    """The firmware (re)booted: GRBL banner or Marlin ``start``."""

    firmware: str
    version: str


@dataclass(frozen=True)
class Capabilities(Event):
    """Marlin's M115 answer: firmware name and ``Cap:NAME:0|1`` flags."""

    firmware_name: str
    caps: dict[str, bool] = field(hash=False)


@dataclass(frozen=True)
class Halted(Event):
    """The job must end now; ``reason`` says why. Always accompanies ``FAILED``."""

    reason: str


@dataclass(frozen=True)
class StreamComplete(Event):
    """Every line of the loaded program has been answered by the firmware."""


@dataclass(frozen=True)
class ProtocolViolation(Event):
    """The firmware said something that cannot be right here (e.g. an unexpected ``ok``)."""

    reason: str


@dataclass(frozen=True)
class Unparsed(Event):
    """A line the engine does not understand; passed through for logging."""

    line: str


@dataclass(frozen=True)
class ProbeResult(Event):
    """GRBL ``[PRB:x,y,z:1]``: where the probe stopped and whether it touched."""

    position: tuple[float, ...]
    success: bool


@dataclass(frozen=True)
class ParserState(Event):
    """GRBL ``[GC:G0 G54 G17 ...]``: the active modal g-code state."""

    modes: str


@dataclass(frozen=True)
class ConnectionLost(Event):
    """The machine said nothing for ``silent_for`` seconds while it owed an answer or a report.

    Emitted right before the :class:`Halted` that ends the job, so a runner can tell a silent link
    (a pulled cable, a powered-down controller) from a firmware that halted.
    """

    silent_for: float
    detail: str


@dataclass(frozen=True)
class ControllerSettings(Event):
    """The controller's persistent settings as it reported them (GRBL ``$$``: ``{"130": "200.000"}``)."""

    settings: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class BuildInfo(Event):
    """What the controller says about its build (GRBL ``$I``: ``[VER:..]`` and ``[OPT:..]``).

    ``planner_blocks``/``rx_buffer`` are None when the firmware did not report them.
    """

    version: str
    options: str
    planner_blocks: int | None
    rx_buffer: int | None
