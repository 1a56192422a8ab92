"""Marlin 2.1.2 firmware core (pure state machine; see :mod:`.core` for the contract).

Modelled behaviour (Marlin's ``queue.cpp``/``gcode.cpp``/``temperature.cpp``):

* A bounded serial receive buffer (128 bytes; overflow bytes are lost) and
  a command queue of ``BUFSIZE`` lines (4).  Lines are read from the serial
  buffer only while the queue has room and no command handler is blocking.
* Line protocol: ``N<n> ... *<checksum>`` with checksum = XOR of all bytes
  before ``*``.  The line number is checked first (``Line Number is not Last
  Line Number+1``), then the checksum (``checksum mismatch``) or its absence
  (``No Checksum with line number``).  Each error clears the serial receive
  buffer and answers ``Error:... Last Line: N`` / ``Resend: N+1`` / ``ok``.
  ``M110`` sets the line number; unnumbered lines are accepted.
* ``ok`` is sent once a command has been processed (a move: once it is in
  the planner).  With ``advanced_ok``: ``ok N<n> P<planner free> B<queue free>``.
* ``M109``/``M190``/``G28``/``G4``/``M400`` block: no more lines are read,
  ``echo:busy: processing`` is sent every 2 s and heating waits print a
  temperature line each second.
* The emergency parser sees every incoming byte before the buffer (so it
  works when the buffer is full): ``M112`` kills (heaters off,
  ``Error:Printer halted. kill() called!``, then silence until a reset),
  ``M108`` cancels a heating wait.
* Soft endstops clamp moves to ``[0, bed_size]`` and record a warning.

Knobs modelled on real peers (each option's default is stock Marlin 2.1):

* ``line_errors`` — what a bad line gets back (see :data:`LINE_ERRORS`):

  - ``"marlin"`` (Marlin 2.1; also 2.0/1.1 for the three numbered-line errors): line number checked first,
    then the checksum. ``Error:Line Number is not Last Line Number+1, Last Line: 99`` /
    ``Error:checksum mismatch, Last Line: 99`` / ``Error:No Checksum with line number, Last Line: 99``,
    each followed by ``Resend: 100`` and ``ok``. An unnumbered line with ``*`` is accepted.
  - ``"marlin1"`` (Marlin 1.0/1.1): as ``"marlin"``, but an unnumbered line with ``*`` is rejected with
    ``Error:No Line Number with checksum, Last Line: 99`` and *nothing else* (no Resend, no ok).
  - ``"prusa"`` (Prusa-Firmware 3.x ``cmdqueue.cpp``): the Marlin texts, and the unnumbered-with-``*``
    error is followed by ``Resend: 100`` / ``ok`` like the others.
  - ``"octoprint"`` (OctoPrint's virtual printer, default settings): the checksum is checked first:
    ``Error: Checksum mismatch``; then the number: ``Error: expected line 100 got 101``; both
    followed by ``Resend:100`` (no space) and ``ok``. A numbered line without checksum is accepted.
  - ``"reprap"`` (RepRapFirmware 3.x in Marlin mode, ``StringParser::LineFinished``): a line with a
    bad checksum is silently discarded — no error, no resend, no ok; line numbers are not checked
    for sequence and a missing checksum is accepted.  The host only notices by its own timeout.

* ``resend`` — the tail after the error line: ``"stock"`` (``Resend`` then ``ok``); ``"no_ok"``
  (``Resend`` only: Marlin bugfix-2.0.x of early 2018, MarlinFirmware/Marlin#10027; Prusa 3.0.12 to 3.1.x,
  prusa3d/Prusa-Firmware#331; OctoPrint's ``brokenResend``); ``"ok_only"`` (``ok`` without any
  ``Resend``: no stock firmware does this for a numbered line, but a host must not assume every
  error carries one); ``"error_only"`` (neither, as Marlin 1.1 does for ``No Line Number with
  checksum``).  ``resend_delay`` (real seconds) holds the tail back, so other output such as
  auto-reports or ``busy:`` may come between the error and the ``Resend`` (Marlin itself sends them
  back to back; a buffering bridge between host and board need not).
* ``emergency_parser`` off (``EMERGENCY_PARSER`` disabled): nothing is seen before the RX buffer.
  Marlin then acts on an *unnumbered* ``M108``/``M112``/``M410`` when the line is read from the RX
  buffer (``get_serial_commands``'s "process critical commands early"), which only happens while
  the queue has room and no command blocks; so ``M108`` cannot break an ``M109``/``M190`` wait and
  ``M112`` waits behind a blocking command.  A *numbered* ``N.. M112*..`` is not matched there (the
  line starts with ``N``) and only kills when it reaches the head of the queue.
* ``autoreport_temp`` off: ``M155`` is an unknown command.  ``host_action_commands`` /
  ``prompt_support`` / ``runout_sensor``: ``//action:`` lines (:meth:`MarlinCore.filament_runout`,
  :meth:`MarlinCore.menu_action`); all appear in ``M115``'s ``Cap:`` lines.
* ``M113 S<n>`` sets the ``busy:`` interval (``S0``: off; bare ``M113`` reports it).

Periodic reports (busy, auto-report, heating-wait lines) use simulated
seconds scaled by ``time_scale``, but never come faster than one per
``MIN_REPORT_PERIOD_S`` of wall time: at a tiny time scale they would
otherwise flood the link and starve the ``ok`` replies. When ``time_scale``
is 0 they run in real time, since motion and heating are then instantaneous.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from simulators.core import FirmwareCore, arc_length

FIRMWARE_VERSION = "Marlin 2.1.2"
MIN_REPORT_PERIOD_S = 0.1
BOOT_LINES = (
    "start",
    f"echo:{FIRMWARE_VERSION}",
    "echo: Last Updated: 2022-12-22 | Author: (fabshop simulator)",
    "echo:Compiled: Dec 22 2022",
    "echo: Free Memory: 4096  PlannerBufferBytes: 1408",
    "echo:Hardcoded Default Settings Loaded",
)
KILLED = "Error:Printer halted. kill() called!"
BUSY = "echo:busy: processing"
PAUSED_FOR_USER = "echo:busy: paused for user"
RUNOUT_SCRIPT = "M600"  # Marlin's default FILAMENT_RUNOUT_SCRIPT
MAX_CMD_SIZE = 96
TEMP_WINDOW = 1.0  # °C band a heating wait must stay in for the residency time
STEPS_PER_MM = (80.0, 80.0, 400.0)
MAX_FEEDRATE = (300.0, 300.0, 5.0, 25.0)  # mm/s X Y Z E
HOMING_FEEDRATE = (50.0, 50.0, 4.0)  # mm/s

_CAPS = {
    "SERIAL_XON_XOFF": 0,
    "BINARY_FILE_TRANSFER": 0,
    "EEPROM": 0,
    "VOLUMETRIC": 1,
    "AUTOREPORT_POS": 0,
    "AUTOREPORT_TEMP": 1,
    "PROGRESS": 0,
    "PRINT_JOB": 1,
    "AUTOLEVEL": 0,
    "RUNOUT": 0,
    "Z_PROBE": 0,
    "LEVELING_DATA": 0,
    "BUILD_PERCENT": 0,
    "SOFTWARE_POWER": 0,
    "TOGGLE_LIGHTS": 0,
    "CASE_LIGHT_BRIGHTNESS": 0,
    "EMERGENCY_PARSER": 1,
    "HOST_ACTION_COMMANDS": 0,
    "PROMPT_SUPPORT": 0,
    "SDCARD": 0,
    "AUTOREPORT_SD_STATUS": 0,
    "LONG_FILENAME": 0,
    "THERMAL_PROTECTION": 1,
    "MOTION_MODES": 0,
    "ARCS": 1,
    "BABYSTEPPING": 0,
    "CHAMBER_TEMPERATURE": 0,
    "COOLER_TEMPERATURE": 0,
    "MEATPACK": 0,
}

#: ``line_errors`` dialects: error texts per fault (``None``: the fault is not detected; ``""``: the line
#: is dropped without a word), the ``Resend`` format, and which check comes first.
LINE_ERRORS = {
    "marlin": {
        "flush_rx": True,  # gcode_line_error empties the RX buffer before asking for the resend
        "line_number": "Error:Line Number is not Last Line Number+1, Last Line: {last}",
        "checksum": "Error:checksum mismatch, Last Line: {last}",
        "no_checksum": "Error:No Checksum with line number, Last Line: {last}",
        "no_line_number": None,
        "resend": "Resend: {expected}",
        "checksum_first": False,
    },
    "marlin1": {
        "flush_rx": True,  # gcode_line_error empties the RX buffer before asking for the resend
        "line_number": "Error:Line Number is not Last Line Number+1, Last Line: {last}",
        "checksum": "Error:checksum mismatch, Last Line: {last}",
        "no_checksum": "Error:No Checksum with line number, Last Line: {last}",
        "no_line_number": "Error:No Line Number with checksum, Last Line: {last}",
        "resend": "Resend: {expected}",
        "checksum_first": False,
        "no_tail": ("no_line_number",),  # Marlin 1.x: error only, no Resend, no ok
    },
    "prusa": {
        "flush_rx": True,  # gcode_line_error empties the RX buffer before asking for the resend
        "line_number": "Error:Line Number is not Last Line Number+1, Last Line: {last}",
        "checksum": "Error:checksum mismatch, Last Line: {last}",
        "no_checksum": "Error:No Checksum with line number, Last Line: {last}",
        "no_line_number": "Error:No Line Number with checksum, Last Line: {last}",
        "resend": "Resend: {expected}",
        "checksum_first": False,
    },
    "octoprint": {
        "line_number": "Error: expected line {expected} got {got}",
        "checksum": "Error: Checksum mismatch",
        "no_checksum": None,
        "no_line_number": None,
        "resend": "Resend:{expected}",
        "checksum_first": True,
    },
    "reprap": {
        "line_number": None,
        "checksum": "",
        "no_checksum": None,
        "no_line_number": None,
        "resend": "",
        "checksum_first": True,
    },
}
RESEND_STYLES = ("stock", "no_ok", "ok_only", "error_only")

_COMMAND = re.compile(r"([GMT])(\d+)")
_PARAM = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")
_LEADING_INT = re.compile(r"\s*([-+]?\d+)")

# Waits a command handler can yield: an absolute monotonic time, or a
# predicate that becomes true when the handler may continue.
Wait = float | Callable[[], bool]


@dataclass
class Heater:
    """First-order-enough thermal model: linear ramps, clamped at the target."""

    temp: float
    heat_rate: float  # °C per simulated second at full power
    cool_rate: float
    ambient: float
    target: float = 0.0

    def step(self, sim_dt: float | None) -> None:
        """Advance ``sim_dt`` simulated seconds; ``None`` = settle instantly."""
        goal = self.target if self.target > 0 else self.ambient
        if sim_dt is None:
            self.temp = goal
        elif self.temp < goal:
            self.temp = min(goal, self.temp + self.heat_rate * sim_dt)
        else:
            self.temp = max(goal, self.temp - self.cool_rate * sim_dt)

    @property
    def power(self) -> int:
        """Soft-PWM duty 0..127 as Marlin reports in ``@:``."""
        if self.target <= 0:
            return 0
        if self.temp < self.target - TEMP_WINDOW:
            return 127
        return max(0, min(127, round(127 * (self.target - self.ambient) / 300)))


@dataclass
class _Command:
    index: int
    line_number: int | None
    text: str
    skip_ok: bool = False
    recorded: bool = False

    @property
    def record(self) -> tuple[int, int | None, str]:
        return (self.index, self.line_number, self.text)


@dataclass
class _Block:
    """A planner block (``target`` is None for a zero-time record marker)."""

    target: tuple[float, float, float, float] | None
    duration: float = 0.0  # simulated seconds
    record: tuple[int, int | None, str] | None = None
    progress: float = 0.0


_EP_DONE = ("M108", "M112", "M410")


@dataclass
class _EmergencyParser:
    """Marlin's byte-level parser for M108/M112/M410/M876 (runs before the buffer).

    ``M876 S<n>`` (a prompt response) is recognised as Marlin does with ``HOST_PROMPT_SUPPORT``;
    the caller decides whether that option is on.  ``value`` holds its ``S`` number.
    """

    state: str = "reset"
    value: int = 0
    transitions: dict = field(
        default_factory=lambda: {
            ("M", "1"): "M1",
            ("M", "4"): "M4",
            ("M", "8"): "M8",
            ("M1", "0"): "M10",
            ("M1", "1"): "M11",
            ("M10", "8"): "M108",
            ("M11", "2"): "M112",
            ("M4", "1"): "M41",
            ("M41", "0"): "M410",
            ("M8", "7"): "M87",
            ("M87", "6"): "M876",
        }
    )

    def feed(self, ch: str) -> str | None:
        """Consume one character; return ``"M108"``/``"M112"``/``"M410"``/``"M876"`` on EOL."""
        if ch in "\r\n":
            done, self.state = self.state, "reset"
            if done == "M876SN":
                return "M876"
            return done if done in _EP_DONE else None
        s = self.state
        if s in _EP_DONE or s == "ignore":
            return None  # Marlin ignores the rest of the line (e.g. "*checksum")
        if s.startswith("M876"):
            self._feed_m876(s, ch)
        elif s == "reset":
            self.state = {" ": "reset", "N": "N", "M": "M"}.get(ch, "ignore")
        elif s == "N":
            self.state = "N" if (ch.isdigit() or ch in " -") else ("M" if ch == "M" else "ignore")
        elif s == "M" and ch == " ":
            pass
        else:
            self.state = self.transitions.get((s, ch), "ignore")
        return None

    def _feed_m876(self, s: str, ch: str) -> None:
        if s == "M876" and ch == "S":
            self.state, self.value = "M876S", 0
        elif s in ("M876S", "M876SN") and ch.isdigit():
            self.state, self.value = "M876SN", self.value * 10 + int(ch)
        elif s == "M876" and ch == " ":
            pass
        else:
            self.state = "ignore"


class MarlinCore(FirmwareCore):
    """Marlin 2.1.2.  See module docstring for the modelled behaviour.

    :param bufsize: command queue length (``BUFSIZE``).
    :param planner_blocks: free planner blocks when idle (``BLOCK_BUFFER_SIZE - 1``).
    :param rx_buffer_size: serial receive buffer in bytes.
    :param advanced_ok: ``ok N<n> P<planner> B<buffer>`` replies.
    :param wait_interval: real seconds of idleness before a ``wait`` line
        (Marlin's ``NO_TIMEOUTS``), or ``None`` (Marlin's default: off).
    :param keepalive_interval: simulated seconds between ``busy:`` lines.
    :param bed_size: soft-endstop envelope X, Y, Z in mm, or ``None``.
    :param residency: simulated seconds a heating wait must hold temperature.
    :param line_errors: error dialect for bad lines, a key of :data:`LINE_ERRORS` (``"marlin"``).
    :param resend: what follows a line error, one of :data:`RESEND_STYLES` (``"stock"``).
    :param resend_delay: real seconds between the error line and its ``Resend``/``ok`` (0).
    :param emergency_parser: ``EMERGENCY_PARSER`` (on).
    :param autoreport_temp: ``AUTO_REPORT_TEMPERATURES``, i.e. ``M155`` (on).
    :param host_action_commands: ``HOST_ACTION_COMMANDS``: ``//action:`` lines (off).
    :param prompt_support: ``HOST_PROMPT_SUPPORT``: ``//action:prompt_*`` and ``M876`` (off).
    :param runout_sensor: ``FILAMENT_RUNOUT_SENSOR`` with the stock ``M600`` script (off).
    """

    firmware = "marlin"
    newline = "\n"
    travel_option = "bed_size"

    def __init__(
        self,
        *,
        bufsize: int = 4,
        planner_blocks: int = 15,
        rx_buffer_size: int = 128,
        advanced_ok: bool = False,
        wait_interval: float | None = None,
        keepalive_interval: float = 2.0,
        bed_size: tuple[float, float, float] | None = (220.0, 220.0, 250.0),
        residency: float = 10.0,
        ambient: float = 25.0,
        line_errors: str = "marlin",
        resend: str = "stock",
        resend_delay: float = 0.0,
        emergency_parser: bool = True,
        autoreport_temp: bool = True,
        host_action_commands: bool = False,
        prompt_support: bool = False,
        runout_sensor: bool = False,
        time_scale: float = 1.0,
        seed: int = 0,
        **faults,
    ):
        self.bufsize = bufsize
        self.planner_blocks = planner_blocks
        self.rx_buffer_size = rx_buffer_size
        self.advanced_ok = advanced_ok
        self.wait_interval = wait_interval
        self.keepalive_interval = keepalive_interval
        self.bed_size = bed_size
        self.residency = residency
        if line_errors not in LINE_ERRORS:
            raise ValueError(f"line_errors must be one of {sorted(LINE_ERRORS)}")
        if resend not in RESEND_STYLES:
            raise ValueError(f"resend must be one of {RESEND_STYLES}")
        if prompt_support and not host_action_commands:
            raise ValueError("prompt_support needs host_action_commands (as in Marlin's SanityCheck)")
        if resend_delay < 0:
            raise ValueError("resend_delay must be >= 0")
        self.line_errors = line_errors
        self.resend = resend
        self.resend_delay = float(resend_delay)
        self.emergency_parser = emergency_parser
        self.autoreport_temp = autoreport_temp
        self.host_action_commands = host_action_commands
        self.prompt_support = prompt_support
        self.runout_sensor = runout_sensor
        self.hotend = Heater(ambient, heat_rate=3.0, cool_rate=1.0, ambient=ambient)
        self.bed = Heater(ambient, heat_rate=1.0, cool_rate=0.3, ambient=ambient)
        self._line_index = 0
        super().__init__(time_scale=time_scale, seed=seed, **faults)
        self._reset_runtime(0.0)

    # == shell API ========================================================

    def boot(self, now: float) -> None:
        """Power-on / DTR reset: banner, line numbering restarts, heaters off."""
        self._reset_runtime(now)
        self.stats.resets += 1
        for line in BOOT_LINES:
            self._emit(line)

    def receive(self, data: bytes, now: float) -> None:
        """Bytes arrived on the UART at ``now`` (in order)."""
        self._advance(now)
        for byte in data:
            self.stats.bytes_received += 1
            if self.halted:
                continue  # kill() spins forever; only a reset helps
            if self.emergency_parser and self._emergency(byte, now):
                continue
            if len(self._rx) >= self.rx_buffer_size:
                self.stats.overruns += 1
                continue
            self._rx.append(byte)
            self._service()

    def tick(self, now: float) -> None:
        """Advance motion, heaters and timers to ``now``; emit due reports."""
        self._advance(now)
        if self.halted:
            return
        if self._busy_until is not None and now >= self._busy_until:
            self._busy_until = None
        self._release_delayed(now)
        self._keepalive(now)
        self._autoreport(now)
        self._service()
        self._idle_wait(now)

    def next_deadline(self) -> float | None:
        """Earliest time something becomes due without new input."""
        if self.halted:
            return None
        times = [self._busy_until, self._next_autoreport]
        times += [due for due, _ in self._delayed[:1]]
        if self._op is not None or self._busy_until is not None:
            times.append(self._next_busy)
        if isinstance(self._op_wait, float):
            times.append(self._op_wait)
        if self._planner:
            head = self._planner[0]
            times.append(self._clock + (1.0 - head.progress) * self._scaled(head.duration))
        if self.wait_interval and self._is_idle():
            times.append(self._last_activity + self.wait_interval)
        due = [t for t in times if t is not None]
        return min(due) if due else None

    # == observable state =================================================

    @property
    def planner_free(self) -> int:
        return self.planner_blocks - sum(1 for b in self._planner if b.target is not None)

    @property
    def position(self) -> tuple[float, float, float, float]:
        """Current machine position X, Y, Z, E (interpolated inside a move)."""
        if self._planner and self._planner[0].target is not None:
            head = self._planner[0]
            return tuple(s + (t - s) * head.progress for s, t in zip(self._pos, head.target, strict=True))
        return self._pos

    # == runtime state ====================================================

    def _reset_runtime(self, now: float) -> None:
        self._now = self._clock = self._thermal_clock = self._last_activity = now
        self._rx = bytearray()
        self._line = bytearray()
        self._queue: deque[_Command] = deque()
        self._op: Generator[Wait, None, None] | None = None
        self._op_wait: Wait | None = None
        self._next_busy: float | None = None
        self._busy_until: float | None = None
        self._planner: deque[_Block] = deque()
        self._pos = (0.0, 0.0, 0.0, 0.0)  # machine position at the end of finished blocks
        self._dest = [0.0, 0.0, 0.0, 0.0]  # machine position after the last queued move
        self._offset = [0.0, 0.0, 0.0, 0.0]  # G92: logical = machine + offset
        self._relative = False
        self._relative_e = False
        self._feedrate = 1500.0  # mm/min, Marlin's power-on default
        self._autoreport_interval: float | None = None
        self._next_autoreport: float | None = None
        self._heating_cancelled = False
        self._ep = _EmergencyParser()
        self._delayed: list[tuple[float, str]] = []  # (due, line): resend tails held back
        self._injected: deque[str] = deque()  # queue.inject(): run ahead of the queue, no ok
        self._waiting_for_user = False
        self._prompt_reason: str | None = None
        self.paused = False  # an M600 (runout or host) is parked waiting for the user
        self.last_n = 0
        self.halted = False
        self.hotend.target = self.bed.target = 0.0

    def _inject_busy(self, seconds: float) -> None:
        self._busy_until = self._now + self._scaled(seconds)
        self._next_busy = self._now + self._period(self.keepalive_interval)

    def _period(self, sim_seconds: float) -> float:
        """Real seconds for a periodic firmware timer (real time at scale 0, never below the floor)."""
        if self.time_scale == 0:
            return sim_seconds
        return max(self._scaled(sim_seconds), MIN_REPORT_PERIOD_S)

    def _is_idle(self) -> bool:
        return not (self._queue or self._rx or self._op or self._busy_until)

    # == time =============================================================

    def _advance(self, now: float) -> None:
        """Run planner blocks and heaters up to ``now``."""
        sim_dt = (now - self._thermal_clock) / self.time_scale if self.time_scale > 0 else None
        self.hotend.step(sim_dt)
        self.bed.step(sim_dt)
        self._thermal_clock = now
        t = self._clock
        while self._planner:
            block = self._planner[0]
            if block.target is not None:
                real = self._scaled(block.duration)
                remaining = (1.0 - block.progress) * real
                if t + remaining > now:
                    block.progress += (now - t) / real
                    break
                t += remaining
                self._pos = block.target
            self._planner.popleft()
            if block.record:
                self._now = t
                self._record(*block.record)
        self._clock = self._now = now

    def _keepalive(self, now: float) -> None:
        blocked = self._op is not None or self._busy_until is not None
        if not blocked or self._next_busy is None or self.time_scale == 0 or not self.keepalive_interval:
            return
        if now >= self._next_busy:
            self._emit(PAUSED_FOR_USER if self._waiting_for_user else BUSY)
            self._next_busy = now + self._period(self.keepalive_interval)

    def _autoreport(self, now: float) -> None:
        if self._next_autoreport is not None and now >= self._next_autoreport:
            self._emit(self._heater_states())
            self._next_autoreport = now + self._autoreport_interval

    def _idle_wait(self, now: float) -> None:
        idle_for = now - self._last_activity
        if self.wait_interval and self._is_idle() and idle_for >= self.wait_interval:
            self._emit("wait")
            self._last_activity = now

    # == serial input =====================================================

    def _emergency(self, byte: int, now: float) -> bool:
        """Feed the emergency parser; True if the byte killed the machine."""
        found = self._ep.feed(chr(byte))
        if found == "M112":
            self.stats.estops += 1
            self.stats.estop_times.append(now)
            self._kill()
            return True
        if found == "M108":
            self._heating_cancelled = True
            self._waiting_for_user = False  # Marlin's M108 also clears wait_for_user
        if found == "M876" and self.prompt_support:
            self._prompt_response(self._ep.value)
        return False

    def _service(self) -> None:
        """Marlin's main loop: finish the blocking handler, read lines, run one."""
        while not self.halted and self._busy_until is None:
            if self._op is not None:
                if not self._step_op():
                    return
                continue
            if self._injected:
                self._start_injected(self._injected.popleft())
                continue
            self._read_serial()
            if not self._queue:
                return
            self._start(self._queue[0])

    def _read_serial(self) -> None:
        while len(self._queue) < self.bufsize and self._rx and not self.halted:
            byte = self._rx.pop(0)
            if byte in (0x0A, 0x0D):
                raw = bytes(self._line)
                self._line.clear()
                self._handle_line(raw)
            elif len(self._line) < MAX_CMD_SIZE - 1:
                self._line.append(byte)

    def _handle_line(self, raw: bytes) -> None:
        """Validate line number and checksum (per ``line_errors``), then queue the command."""
        raw = self._maybe_corrupt(raw)
        text = raw.decode("ascii", "replace").split(";", 1)[0].strip()
        if not text:
            return  # Marlin skips empty lines without an ok
        self._last_activity = self._now
        index = self._line_index
        self._line_index += 1
        self.stats.lines_received += 1
        line_number = None
        if text.startswith("N"):
            checked = self._check_numbered(text)
            if checked is None:
                return
            line_number, text = checked
        elif "*" in text and LINE_ERRORS[self.line_errors]["no_line_number"] is not None:
            self._line_fault("no_line_number", None)
            return
        text = text.split("*", 1)[0].strip()
        if line_number is None and not self.emergency_parser and self._critical_early(text):
            return
        self._queue.append(_Command(index, line_number, text))

    def _critical_early(self, text: str) -> bool:
        """Without the emergency parser Marlin acts on M108/M112/M410 as the line is read.

        Only an unnumbered line can match (Marlin compares the line's first characters, and a
        numbered line starts with ``N``).  True if the line killed the machine.
        """
        head = text[:4].upper()
        if head == "M112":
            self.stats.estops += 1
            self.stats.estop_times.append(self._now)
            self._kill()
            return True
        if head == "M108":
            self._heating_cancelled = True
            self._waiting_for_user = False
        return False

    def _check_numbered(self, text: str) -> tuple[int, str] | None:
        """The ``N``/``*`` checks in the dialect's order; ``(n, command)`` or None after a fault."""
        n = _leading_int(text[1:])
        gcode_n = n
        is_m110 = "M110" in text
        if is_m110:
            second = text.find("N", text.index("M110") + 4)
            if second != -1:
                gcode_n = _leading_int(text[second + 1 :])
        star = text.rfind("*")
        faults = [self._number_fault(gcode_n, is_m110), self._checksum_fault(text, star)]
        if LINE_ERRORS[self.line_errors]["checksum_first"]:
            faults.reverse()
        for fault in faults:
            if fault is not None and LINE_ERRORS[self.line_errors][fault] is not None:
                self._line_fault(fault, gcode_n)
                return None
        self.last_n = gcode_n
        body = text[:star] if star != -1 else text
        return n, re.sub(r"^N\s*[-+]?\d*\s*", "", body)

    def _number_fault(self, gcode_n: int, is_m110: bool) -> str | None:
        return "line_number" if gcode_n != self.last_n + 1 and not is_m110 else None

    @staticmethod
    def _checksum_fault(text: str, star: int) -> str | None:
        if star == -1:
            return "no_checksum"
        checksum = 0
        for ch in text[:star].encode("ascii", "replace"):
            checksum ^= ch
        return "checksum" if _leading_int(text[star + 1 :]) != checksum else None

    def _line_fault(self, fault: str, got: int | None) -> None:
        """``gcode_line_error``: report in the dialect, flush the RX buffer, request a resend.

        The tail after the error (``Resend``/``ok``) follows ``resend`` and ``resend_delay``.
        """
        dialect = LINE_ERRORS[self.line_errors]
        if fault == "line_number":
            self.stats.line_number_errors += 1
        elif fault == "checksum":
            self.stats.checksum_errors += 1
        if dialect.get("flush_rx"):
            self._rx.clear()
        template = dialect[fault]
        if not template:
            return  # RepRapFirmware: the line is dropped without a word
        last, expected = self.last_n, self.last_n + 1
        self.stats.errors_sent += 1
        self._emit(template.format(last=last, expected=expected, got=got))
        if fault in dialect.get("no_tail", ()):
            return
        tail = []
        if self.resend in ("stock", "no_ok") and dialect["resend"]:
            self.stats.resends_requested += 1
            tail.append(dialect["resend"].format(expected=expected))
        if self.resend in ("stock", "ok_only"):
            tail.append("ok")
        self._emit_later(tail)

    def _emit_later(self, lines: list[str]) -> None:
        """Emit now, or ``resend_delay`` real seconds from now (other output may come between)."""
        if not self.resend_delay:
            for line in lines:
                self._emit(line)
            return
        due = self._now + self.resend_delay
        self._delayed += [(due, line) for line in lines]

    def _release_delayed(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._emit(self._delayed.pop(0)[1])

    # == command execution ================================================

    def _start(self, cmd: _Command) -> None:
        self._op = self._run(cmd)
        self._op_wait = None
        self._next_busy = self._now + self._period(self.keepalive_interval)

    def _start_injected(self, text: str) -> None:
        """``queue.inject``: run ahead of the queue; not a program line, so no ok and no record."""
        cmd = _Command(-1, None, text, skip_ok=True, recorded=True)
        self._op = self._dispatch(cmd)
        self._op_wait = None
        self._next_busy = self._now + self._period(self.keepalive_interval)

    def _step_op(self) -> bool:
        """Resume the blocking handler; True when it finished (ok sent)."""
        while True:
            wait = self._op_wait
            if isinstance(wait, float) and self._now < wait:
                return False
            if callable(wait) and not wait():
                return False
            try:
                self._op_wait = next(self._op)
            except StopIteration:
                self._op = self._op_wait = self._next_busy = None
                return True

    def _dispatch(self, cmd: _Command) -> Generator[Wait, None, None]:
        """Run the command's handler (unknown commands are echoed, as Marlin does)."""
        match = _COMMAND.match(cmd.text.upper())
        code = match.group(1) + str(int(match.group(2))) if match else ""
        params = _params(cmd.text.upper()[match.end() :]) if match else {}
        handler = getattr(self, f"_cmd_{code}", None) if code not in self._compiled_out() else None
        if code.startswith("T"):
            handler = self._cmd_noop
        if handler is None:
            self._emit(f'echo:Unknown command: "{cmd.text}"')
        else:
            result = handler(cmd, params)
            if result is not None:
                yield from result

    def _compiled_out(self) -> set[str]:
        """Commands the configured feature set does not compile in."""
        out = set()
        if not self.autoreport_temp:
            out.add("M155")
        if not self.prompt_support:
            out.add("M876")
        return out

    def _run(self, cmd: _Command) -> Generator[Wait, None, None]:
        """Process one queued command, then ``ok`` and record it."""
        yield from self._dispatch(cmd)
        if self.halted:
            return
        self._queue.popleft()
        if not cmd.skip_ok:
            self._send_ok(cmd)
        if not cmd.recorded:
            self._record_after_planner(cmd.record)

    def _send_ok(self, cmd: _Command) -> None:
        if not self.advanced_ok:
            self._emit("ok")
            return
        n = f" N{cmd.line_number}" if cmd.line_number is not None else ""
        # Marlin counts the command being acknowledged as still queued.
        free = self.bufsize - len(self._queue) - 1
        self._emit(f"ok{n} P{self.planner_free} B{free}")

    def _record_after_planner(self, record: tuple[int, int | None, str]) -> None:
        """Keep the executed list in program order behind still-running moves."""
        if self._planner:
            self._planner.append(_Block(None, record=record))
        else:
            self._record(*record)

    def _sync(self) -> Generator[Wait, None, None]:
        """``planner.synchronize()``: wait until every queued move has run."""
        if self._planner:
            yield lambda: not self._planner

    def _kill(self, *reasons: str) -> None:
        """``kill()``: heaters off, everything dropped, silence until reset."""
        for reason in reasons:
            self._emit(reason)
        self.stats.errors_sent += 1 + len(reasons)
        self._emit(KILLED)
        self.hotend.target = self.bed.target = 0.0
        self._planner.clear()
        self._queue.clear()
        self._rx.clear()
        self._op = self._op_wait = None
        self._busy_until = None
        self.halted = True

    def _fire_fault(self, name: str) -> None:
        if name == "thermal_runaway_after_lines" and not self.halted:
            self._kill("Error:Thermal Runaway, system stopped! Heater_ID: 0")
        super()._fire_fault(name)

    # -- motion -------------------------------------------------------------

    def _target(self, params: dict) -> list[float]:
        """Machine target of a move's X/Y/Z/E words (G90/G91, M82/M83, G92)."""
        target = list(self._dest)
        for axis, letter in enumerate("XYZE"):
            if letter not in params or params[letter] is None:
                continue
            relative = self._relative_e if letter == "E" else self._relative
            value = params[letter]
            target[axis] = target[axis] + value if relative else value - self._offset[axis]
        return target

    def _clamp(self, target: list[float]) -> list[float]:
        """Soft endstops: clamp silently (Marlin does), but keep a warning."""
        if self.bed_size is None:
            return target
        for axis in range(3):
            clamped = min(max(target[axis], 0.0), self.bed_size[axis])
            if clamped != target[axis]:
                self.stats.warnings.append(
                    f"soft endstop: {'XYZ'[axis]}{target[axis]:.3f} clamped to {clamped:.3f}"
                )
                target[axis] = clamped
        return target

    def _queue_move(self, cmd: _Command, target: list[float], length: float):
        """Wait for a planner slot, then queue the move carrying cmd's record."""
        deltas = [abs(t - d) for t, d in zip(target, self._dest, strict=True)]
        seconds = length / (self._feedrate / 60.0) if length else 0.0
        seconds = max([seconds] + [d / m for d, m in zip(deltas, MAX_FEEDRATE, strict=True)])
        self._dest = list(target)
        if self.planner_free <= 0:
            yield lambda: self.planner_free > 0
        self._planner.append(_Block(tuple(target), seconds, cmd.record))
        cmd.recorded = True

    def _cmd_G0(self, cmd: _Command, p: dict):
        if p.get("F"):
            self._feedrate = p["F"]
        target = self._clamp(self._target(p))
        xyz = math.dist(target[:3], self._dest[:3])
        length = xyz or abs(target[3] - self._dest[3])
        yield from self._queue_move(cmd, target, length)

    _cmd_G1 = _cmd_G0

    def _cmd_G2(self, cmd: _Command, p: dict, clockwise: bool = True):
        if p.get("F"):
            self._feedrate = p["F"]
        start = self._dest
        target = self._clamp(self._target(p))
        center = (start[0] + (p.get("I") or 0.0), start[1] + (p.get("J") or 0.0))
        planar = arc_length(tuple(start[:2]), tuple(target[:2]), center, clockwise)
        length = math.hypot(planar, target[2] - start[2])
        yield from self._queue_move(cmd, target, length)

    def _cmd_G3(self, cmd: _Command, p: dict):
        yield from self._cmd_G2(cmd, p, clockwise=False)

    def _cmd_G4(self, cmd: _Command, p: dict):
        seconds = (p.get("P") or 0.0) / 1000.0 + (p.get("S") or 0.0)
        yield from self._sync()
        yield self._now + self._scaled(seconds)

    def _cmd_G28(self, cmd: _Command, p: dict):
        yield from self._sync()
        axes = [a for a in range(3) if "XYZ"[a] in p] or [0, 1, 2]
        seconds = sum(abs(self._pos[a]) / HOMING_FEEDRATE[a] for a in axes) + 1.0
        yield self._now + self._scaled(seconds)
        for a in axes:
            self._dest[a] = 0.0
            self._offset[a] = 0.0
        self._pos = tuple(self._dest)

    def _cmd_G90(self, cmd: _Command, p: dict) -> None:
        self._relative = self._relative_e = False

    def _cmd_G91(self, cmd: _Command, p: dict) -> None:
        self._relative = self._relative_e = True

    def _cmd_M82(self, cmd: _Command, p: dict) -> None:
        self._relative_e = False

    def _cmd_M83(self, cmd: _Command, p: dict) -> None:
        self._relative_e = True

    def _cmd_G92(self, cmd: _Command, p: dict) -> None:
        for axis, letter in enumerate("XYZE"):
            if letter in p:
                self._offset[axis] = (p[letter] or 0.0) - self._dest[axis]

    def _cmd_M400(self, cmd: _Command, p: dict):
        yield from self._sync()

    def _cmd_M114(self, cmd: _Command, p: dict) -> None:
        logical = [d + o for d, o in zip(self._dest, self._offset, strict=True)]
        counts = [round(v * s) for v, s in zip(self.position[:3], STEPS_PER_MM, strict=True)]
        self._emit(
            "X:{:.2f} Y:{:.2f} Z:{:.2f} E:{:.2f}".format(*logical) + " Count X:{} Y:{} Z:{}".format(*counts)
        )

    def _cmd_noop(self, cmd: _Command, p: dict) -> None:
        """Accepted commands whose effect the simulator does not model."""

    _cmd_G21 = _cmd_M17 = _cmd_M18 = _cmd_M84 = _cmd_M106 = _cmd_M107 = _cmd_noop
    _cmd_M117 = _cmd_M220 = _cmd_M221 = _cmd_M410 = _cmd_M999 = _cmd_noop

    def _cmd_M108(self, cmd: _Command, p: dict) -> None:
        """From the queue M108 can only clear a wait that is no longer running (nothing reads lines
        while one runs); it matters through the emergency parser or early processing."""
        self._heating_cancelled = True
        self._waiting_for_user = False

    # -- temperatures ---------------------------------------------------------

    def _heater_states(self) -> str:
        h, b = self.hotend, self.bed
        return f" T:{h.temp:.2f} /{h.target:.2f} B:{b.temp:.2f} /{b.target:.2f} @:{h.power} B@:{b.power}"

    def _cmd_M105(self, cmd: _Command, p: dict) -> None:
        cmd.skip_ok = True  # M105 folds its ok into the report
        self._emit("ok" + self._heater_states())

    def _cmd_M104(self, cmd: _Command, p: dict) -> None:
        if "S" in p:
            self.hotend.target = p["S"] or 0.0

    def _cmd_M140(self, cmd: _Command, p: dict) -> None:
        if "S" in p:
            self.bed.target = p["S"] or 0.0

    def _cmd_M109(self, cmd: _Command, p: dict):
        yield from self._wait_for_heater(self.hotend, p)

    def _cmd_M190(self, cmd: _Command, p: dict):
        yield from self._wait_for_heater(self.bed, p)

    def _wait_for_heater(self, heater: Heater, p: dict):
        """``wait_for_hotend``/``wait_for_bed``: S waits only when heating, R both."""
        value = p.get("R") if "R" in p else p.get("S")
        if value is None:
            return
        heater.target = value
        self._advance(self._now)
        if "R" not in p and heater.temp > heater.target:
            return  # M109 S does not wait for cooling
        self._heating_cancelled = False
        residency_start = None
        next_print = self._now
        while not self._heating_cancelled:
            self._advance(self._now)
            now = self._now
            if abs(heater.temp - heater.target) <= TEMP_WINDOW and residency_start is None:
                residency_start = now
            if residency_start is not None and now - residency_start >= self._scaled(self.residency):
                return
            if now >= next_print:
                self._emit(self._heater_states() + self._residency_left(residency_start))
                next_print = now + self._period(1.0)
            poll = now + self._scaled(0.25)
            yield min(next_print, poll) if self.time_scale > 0 else now

    def _residency_left(self, start: float | None) -> str:
        if start is None:
            return " W:?"
        elapsed_sim = (self._now - start) / self.time_scale if self.time_scale else 0.0
        return f" W:{max(0, math.ceil(self.residency - elapsed_sim))}"

    def _cmd_M155(self, cmd: _Command, p: dict) -> None:
        seconds = p.get("S") or 0.0
        if seconds > 0:
            self._autoreport_interval = self._period(seconds)
            self._next_autoreport = self._now + self._autoreport_interval
        else:
            self._autoreport_interval = self._next_autoreport = None

    # -- protocol commands ---------------------------------------------------

    def _cmd_M110(self, cmd: _Command, p: dict) -> None:
        if p.get("N") is not None:
            self.last_n = int(p["N"])

    def _cmd_M112(self, cmd: _Command, p: dict) -> None:
        """Reached only when nothing caught M112 earlier: no emergency parser and a numbered line."""
        self.stats.estops += 1
        self.stats.estop_times.append(self._now)
        self._kill()

    def _cmd_M113(self, cmd: _Command, p: dict) -> None:
        """``M113 S<n>``: busy keep-alive interval in seconds (0 = off, at most 60); bare: report it."""
        if "S" in p:
            self.keepalive_interval = min(60.0, max(0.0, p["S"] or 0.0))
        else:
            self._emit(f"echo:M113 S{self.keepalive_interval:g}")

    def _cmd_M115(self, cmd: _Command, p: dict) -> None:
        self._emit(
            f"FIRMWARE_NAME:{FIRMWARE_VERSION} (fabshop simulator)"
            " SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0"
            " MACHINE_TYPE:3D Printer EXTRUDER_COUNT:1"
            " UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"
        )
        caps = {
            **_CAPS,
            "AUTOREPORT_TEMP": int(self.autoreport_temp),
            "RUNOUT": int(self.runout_sensor),
            "EMERGENCY_PARSER": int(self.emergency_parser),
            "HOST_ACTION_COMMANDS": int(self.host_action_commands),
            "PROMPT_SUPPORT": int(self.prompt_support),
            "ADVANCED_OK": int(self.advanced_ok),
        }
        for name, value in caps.items():
            self._emit(f"Cap:{name}:{value}")

    # -- pause, runout and host actions ----------------------------------------

    def inject(self, **faults) -> None:
        """Base faults, plus ``runout=<tool>`` (:meth:`filament_runout`) and
        ``host_action="pause"|"resume"|"cancel"`` (:meth:`menu_action`)."""
        runout = faults.pop("runout", None)
        action = faults.pop("host_action", None)
        super().inject(**faults)
        if runout is not None and runout is not False:
            self.filament_runout(tool=0 if runout is True else int(runout))
        if action:
            self.menu_action(action)

    def filament_runout(self, tool: int = 0) -> None:
        """The runout sensor trips (Marlin's ``event_filament_runout`` with the stock script).

        Emits, as Marlin does: with ``prompt_support`` ``//action:prompt_end``,
        ``//action:prompt_begin FilamentRunout T0``, ``//action:prompt_show``; with
        ``host_action_commands`` ``//action:paused filament_runout 0``.  Then ``M600`` is injected
        ahead of the queue: moves already planned finish, then the firmware parks and reads no more
        lines until the user continues (see :meth:`_cmd_M600`).  A second runout while paused is
        ignored (Marlin's ``did_pause_print``).
        """
        if not self.runout_sensor:
            raise RuntimeError("no filament runout sensor configured (runout_sensor=True)")
        if self.halted or self.paused or RUNOUT_SCRIPT in self._injected:
            return
        if self.prompt_support:
            self._prompt_begin(f"FilamentRunout T{tool}", reason="runout")
            self._host_action("prompt_show")
        if self.host_action_commands:
            self._host_action(f"paused filament_runout {tool}")
        self._injected.append(RUNOUT_SCRIPT)
        self._service()

    def menu_action(self, action: str) -> None:
        """The user picks Pause/Resume/Cancel on the printer's own menu during a host print.

        Marlin then only tells the host (``//action:pause``, ``//action:resume``,
        ``//action:cancel``) and leaves it to act; without ``host_action_commands`` nothing is sent.
        """
        if action not in ("pause", "resume", "cancel"):
            raise ValueError("menu action must be pause, resume or cancel")
        if self.host_action_commands and not self.halted:
            self._host_action(action)

    def press_continue(self) -> None:
        """The user clicks the printer's knob: ends a ``paused for user`` wait (``wait_for_user``)."""
        self._waiting_for_user = False
        self._service()

    def _host_action(self, text: str) -> None:
        if self.host_action_commands:
            self._emit(f"//action:{text}")

    def _prompt_begin(self, text: str, reason: str) -> None:
        """``host_action_prompt_begin``: closes any open prompt first."""
        self._prompt_reason = reason
        self._host_action("prompt_end")
        self._host_action(f"prompt_begin {text}")

    def _prompt(self, text: str, button: str, reason: str) -> None:
        """``hostui.prompt_do``/``prompt_open``: begin, one button, show."""
        if not self.prompt_support:
            return
        self._prompt_begin(text, reason)
        self._host_action(f"prompt_button {button}")
        self._host_action("prompt_show")

    def _prompt_response(self, choice: int) -> None:
        """``M876 S<n>``: a prompt answer; only a "continue" prompt releases a user wait."""
        reason, self._prompt_reason = self._prompt_reason, None
        if reason == "continue":
            self._waiting_for_user = False

    def _cmd_M876(self, cmd: _Command, p: dict) -> None:
        """Queued ``M876`` (reached when the emergency parser did not take it)."""
        if not self.emergency_parser:
            self._prompt_response(int(p.get("S") or 0))

    def _cmd_M600(self, cmd: _Command, p: dict):
        """``M600`` (ADVANCED_PAUSE_FEATURE), shortened: park, wait for the user, resume.

        Host-visible lines as Marlin's ``pause_print``/``wait_for_confirmation``/``resume_print``:
        ``//action:paused``; prompts "Pause"/Dismiss and "Nozzle Parked"/Continue;
        ``echo:busy: paused for user`` every keep-alive interval; after the user continues
        (``M108``/``M876`` through the emergency parser, or :meth:`press_continue`)
        ``//action:resumed`` and the prompt "Resuming"/Dismiss.  Marlin's unload, load and purge
        dialogues in between are not modelled.
        """
        yield from self._sync()
        self.paused = True
        self._host_action("paused")
        self._prompt("Pause", "Dismiss", reason="info")
        self._prompt("Nozzle Parked", "Continue", reason="continue")
        self._waiting_for_user = True
        self._next_busy = self._now + self._period(self.keepalive_interval)
        yield lambda: not self._waiting_for_user
        self.paused = False
        self._host_action("resumed")
        self._prompt("Resuming", "Dismiss", reason="info")


def _leading_int(text: str) -> int:
    """C ``strtol``: the leading integer, or 0 if there is none."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0


def _params(text: str) -> dict[str, float | None]:
    """Parameter words after the command code (``None`` for a bare letter)."""
    return {letter: (float(number) if number else None) for letter, number in _PARAM.findall(text)}


#: The core :mod:`simulators.serve` runs for this firmware.
CORE = MarlinCore


# -- ``manage.py simulate_machine`` options of this simulator ------------------------------------


def add_command_options(group) -> None:
    """The command-line options of this simulator, in ``group`` (an argparse argument group)."""
    group.add_argument("--bufsize", type=int, default=None, help="command queue lines (4)")
    group.add_argument("--rx-buffer", type=int, default=None, dest="rx_buffer", help="RX buffer bytes (128)")
    group.add_argument("--advanced-ok", action="store_true", dest="advanced_ok")
    group.add_argument("--line-errors", default=None, dest="line_errors", choices=sorted(LINE_ERRORS))
    group.add_argument("--resend", default=None, choices=RESEND_STYLES)
    group.add_argument("--resend-delay-ms", type=float, default=None, dest="resend_delay_ms")
    group.add_argument("--no-emergency-parser", action="store_true", dest="no_emergency_parser")
    group.add_argument("--host-actions", action="store_true", dest="host_actions", help="actions and prompts")


def command_core_kwargs(options: dict) -> dict:
    """MarlinCore keyword arguments for the Marlin options given (absent ones keep the core's default)."""
    kwargs = {
        "bufsize": options["bufsize"],
        "rx_buffer_size": options["rx_buffer"],
        "line_errors": options["line_errors"],
        "resend": options["resend"],
        "resend_delay": None if options["resend_delay_ms"] is None else options["resend_delay_ms"] / 1000.0,
    }
    kwargs = {name: value for name, value in kwargs.items() if value is not None}
    if options["advanced_ok"]:
        kwargs["advanced_ok"] = True
    if options["no_emergency_parser"]:
        kwargs["emergency_parser"] = False
    if options["host_actions"]:
        kwargs.update(host_action_commands=True, prompt_support=True, runout_sensor=True)
    return kwargs
