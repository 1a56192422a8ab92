"""Shared plumbing for the firmware simulator cores.

A *core* is a pure state machine that models one firmware.  The I/O shell
(:mod:`simulators.serve`) feeds it bytes as they come off the
(simulated) wire and the current monotonic time; the core answers with bytes
to transmit.  A core never reads a clock, sleeps, or touches a file
descriptor, so it can be unit-tested by calling methods with made-up times.

Contract every core implements:

* ``boot(now)`` — power-on / reset (an Arduino's DTR reset): emits the banner.
* ``receive(data, now)`` — ``data`` arrived on the wire at ``now``.
* ``tick(now)`` — time has passed; run whatever became due.
* ``next_deadline()`` — the earliest monotonic time at which ``tick`` has
  something to do (``None`` when only new input can change anything).
* ``take_output()`` — bytes produced so far, to be paced onto the wire.
* ``inject(**faults)`` — change fault injection at run time.

Times are real monotonic seconds.  ``time_scale`` converts simulated machine
time (a move that takes 6 s at its feed rate) into real time: ``6 s *
time_scale``.  ``time_scale=0`` makes everything instantaneous.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

# Characters noise must never produce: line terminators would split a line
# (that is a different fault) and we keep corruption inside printable ASCII so
# that a corrupted line is still a line.
_NOISE_FORBIDDEN = frozenset(b"\r\n?!~")


@dataclass(frozen=True)
class ExecutedLine:
    """One program line that actually ran on the simulated machine.

    ``index`` is the 0-based order in which the firmware *read* the line
    (counting every non-empty line it read since the core was created, so a
    line that was rejected with an error still consumes an index).
    ``line_number`` is the ``N`` word (Marlin's protocol line number, or
    GRBL's optional ``N`` word) or ``None``.  ``text`` is normalised the way
    the firmware sees it.  ``time`` is the monotonic time the line finished.
    """

    index: int
    line_number: int | None
    text: str
    time: float


@dataclass
class Stats:
    """Counters kept by a core (and two link counters kept by the shell)."""

    bytes_received: int = 0  # bytes that reached the firmware's UART, incl. dropped ones
    bytes_emitted: int = 0  # bytes the firmware produced
    bytes_sent: int = 0  # bytes the shell actually put on the wire (set by the shell)
    connections: int = 0  # host connections seen by the shell
    lines_received: int = 0  # complete non-empty lines the firmware read
    overruns: int = 0  # bytes lost because the serial receive buffer was full
    oks_sent: int = 0
    oks_dropped: int = 0  # fault injection: ``ok`` lines deliberately lost
    errors_sent: int = 0  # ``error:N`` (GRBL) / ``Error:`` (Marlin) lines
    checksum_errors: int = 0
    line_number_errors: int = 0
    resends_requested: int = 0
    noise_corruptions: int = 0  # incoming lines corrupted by fault injection
    reply_corruptions: int = 0  # outgoing lines corrupted by fault injection
    resets: int = 0  # boots and soft resets
    estops: int = 0  # GRBL 0x18 soft resets / Marlin M112s received
    estop_times: list[float] = field(default_factory=list)  # when each e-stop arrived
    alarms: list[int] = field(default_factory=list)  # GRBL alarm codes reported
    warnings: list[str] = field(default_factory=list)  # e.g. Marlin soft-endstop clamps
    silenced_bytes: int = 0  # bytes lost either way while the shell's link was silent (go_silent)

    @property
    def rx_bytes_lost(self) -> int:
        """Bytes that reached the firmware's UART while its receive buffer was full, and were lost.

        The same count as ``overruns``, under the name benchmarks assert on (it should stay 0).
        """
        return self.overruns

    def snapshot(self) -> Stats:
        """A deep-enough copy that a test can keep while the core runs on."""
        copied = {f.name: list(v) for f in fields(self) if isinstance(v := getattr(self, f.name), list)}
        return replace(self, **copied)


@dataclass
class Faults:
    """Fault-injection knobs.  ``*_after_lines`` count executed lines."""

    noise_rate: float = 0.0  # P(one bit of an incoming line is flipped before parsing)
    reply_noise_rate: float = 0.0  # P(one bit of an outgoing line is flipped)
    drop_ok_rate: float = 0.0  # P(an ``ok`` reply is silently lost)
    alarm_after_lines: int | None = None  # GRBL: hard-limit ALARM:1
    thermal_runaway_after_lines: int | None = None  # Marlin: thermal runaway + kill
    disconnect_after_lines: int | None = None  # shell drops the connection


FAULT_NAMES = frozenset(f.name for f in fields(Faults))


class FirmwareCore:
    """Base class: output buffering, fault injection and executed-line records."""

    firmware = "base"
    newline = "\n"
    #: The constructor keyword that takes the machine's travel X, Y, Z in mm (see ``serve.travel_options``);
    #: every concrete core names its own.
    travel_option: ClassVar[str]

    def __init__(self, *, time_scale: float = 1.0, seed: int = 0, **faults: float | int | None):
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.time_scale = float(time_scale)
        self.rng = random.Random(seed)
        self.executed: list[ExecutedLine] = []
        self.stats = Stats()
        self.faults = Faults()
        self.disconnect_requested = False
        self._out = bytearray()
        self._now = 0.0
        # Thresholds are absolute executed-line counts so that a fault injected
        # at run time means "after N *more* lines".
        self._thresholds: dict[str, int] = {}
        self.inject(**faults)

    # -- shell API ---------------------------------------------------------

    def take_output(self) -> bytes:
        """Return and clear everything the firmware has written so far."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def inject(self, **faults: float | int | None) -> None:
        """Change fault injection.  Unknown names raise ``TypeError``.

        ``busy=<seconds>`` (simulated seconds) makes the firmware stall as if
        stuck in a long command; subclasses implement it in ``_inject_busy``.
        """
        busy = faults.pop("busy", None)
        unknown = set(faults) - FAULT_NAMES
        if unknown:
            raise TypeError(f"unknown fault(s): {sorted(unknown)}")
        for name, value in faults.items():
            setattr(self.faults, name, value)
            if name.endswith("_after_lines"):
                if value is None:
                    self._thresholds.pop(name, None)
                else:
                    self._thresholds[name] = len(self.executed) + int(value)
        if busy:
            self._inject_busy(float(busy))

    # -- helpers for subclasses -------------------------------------------

    def _inject_busy(self, seconds: float) -> None:
        raise NotImplementedError

    def _scaled(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` of machine time take."""
        return sim_seconds * self.time_scale

    def _emit(self, line: str) -> None:
        """Queue one reply line, applying the ``drop_ok``/reply-noise faults."""
        is_ok = line == "ok" or line.startswith("ok ")
        if is_ok:
            if self.faults.drop_ok_rate and self.rng.random() < self.faults.drop_ok_rate:
                self.stats.oks_dropped += 1
                return
            self.stats.oks_sent += 1
        data = (line + self.newline).encode("ascii", "replace")
        if self.faults.reply_noise_rate and self.rng.random() < self.faults.reply_noise_rate:
            data = self._flip_one_bit(data, len(line))
            self.stats.reply_corruptions += 1
        self._out += data
        self.stats.bytes_emitted += len(data)

    def _maybe_corrupt(self, raw: bytes) -> bytes:
        """Apply ``noise_rate`` to a received line (before the parser sees it)."""
        if raw and self.faults.noise_rate and self.rng.random() < self.faults.noise_rate:
            self.stats.noise_corruptions += 1
            return self._flip_one_bit(raw, len(raw))
        return raw

    def _flip_one_bit(self, data: bytes, span: int) -> bytes:
        """Flip one bit in ``data[:span]`` the way line noise would.

        Redraws results that would be a line terminator, a GRBL real-time
        character or non-printable, so the corruption stays inside the line.
        """
        buf = bytearray(data)
        for _ in range(64):
            pos = self.rng.randrange(span)
            candidate = buf[pos] ^ (1 << self.rng.randrange(7))
            if 0x20 <= candidate < 0x7F and candidate not in _NOISE_FORBIDDEN:
                buf[pos] = candidate
                break
        return bytes(buf)

    def _record(self, index: int, line_number: int | None, text: str) -> None:
        """Record an executed line and fire any ``*_after_lines`` fault."""
        self.executed.append(ExecutedLine(index, line_number, text, self._now))
        count = len(self.executed)
        for name, threshold in list(self._thresholds.items()):
            if count >= threshold:
                del self._thresholds[name]
                setattr(self.faults, name, None)
                self._fire_fault(name)

    def _fire_fault(self, name: str) -> None:
        """Trigger a line-count fault.  Subclasses extend for their own faults."""
        if name == "disconnect_after_lines":
            self.disconnect_requested = True


# -- geometry shared by both firmwares --------------------------------------


def arc_length(
    start: tuple[float, float],
    end: tuple[float, float],
    center: tuple[float, float],
    clockwise: bool,
) -> float:
    """Length of the in-plane arc from ``start`` to ``end`` around ``center``.

    Start == end is a full circle, as in both GRBL and Marlin.
    """
    a0 = math.atan2(start[1] - center[1], start[0] - center[0])
    a1 = math.atan2(end[1] - center[1], end[0] - center[0])
    sweep = (a0 - a1) if clockwise else (a1 - a0)
    sweep %= 2 * math.pi
    if sweep < 1e-9:
        sweep = 2 * math.pi
    radius = math.hypot(start[0] - center[0], start[1] - center[1])
    return radius * sweep


def arc_points(
    start: tuple[float, float],
    end: tuple[float, float],
    center: tuple[float, float],
    clockwise: bool,
    segments: int = 36,
) -> list[tuple[float, float]]:
    """Points along an in-plane arc (inclusive of ``end``) for envelope checks."""
    a0 = math.atan2(start[1] - center[1], start[0] - center[0])
    length = arc_length(start, end, center, clockwise)
    radius = math.hypot(start[0] - center[0], start[1] - center[1])
    if radius == 0:
        return [end]
    sweep = length / radius * (-1 if clockwise else 1)
    angles = [a0 + sweep * k / segments for k in range(1, segments)]
    pts = [(center[0] + radius * math.cos(a), center[1] + radius * math.sin(a)) for a in angles]
    pts.append(end)
    return pts
