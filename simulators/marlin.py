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


@dataclass
class _EmergencyParser:
    """Marlin's byte-level parser for M108/M112/M410 (runs before the buffer)."""

    state: str = "reset"
    transitions: dict = field(
        default_factory=lambda: {
            ("M", "1"): "M1",
            ("M", "4"): "M4",
            ("M1", "0"): "M10",
            ("M1", "1"): "M11",
            ("M10", "8"): "M108",
            ("M11", "2"): "M112",
            ("M4", "1"): "M41",
            ("M41", "0"): "M410",
        }
    )

    def feed(self, ch: str) -> str | None:
        """Consume one character; return ``"M108"``/``"M112"``/``"M410"`` on EOL."""
        if ch in "\r\n":
            done, self.state = self.state, "reset"
            return done if done in ("M108", "M112", "M410") else None
        s = self.state
        if s in ("M108", "M112", "M410", "ignore"):
            return None  # Marlin ignores the rest of the line (e.g. "*checksum")
        if s == "reset":
            self.state = {" ": "reset", "N": "N", "M": "M"}.get(ch, "ignore")
        elif s == "N":
            self.state = "N" if (ch.isdigit() or ch in " -") else ("M" if ch == "M" else "ignore")
        elif s == "M" and ch == " ":
            pass
        else:
            self.state = self.transitions.get((s, ch), "ignore")
        return None


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
            if self._emergency(byte, now):
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
        self._keepalive(now)
        self._autoreport(now)
        self._service()
        self._idle_wait(now)

    def next_deadline(self) -> float | None:
        """Earliest time something becomes due without new input."""
        if self.halted:
            return None
        times = [self._busy_until, self._next_autoreport]
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
        if not blocked or self._next_busy is None or self.time_scale == 0:
            return
        if now >= self._next_busy:
            self._emit(BUSY)
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
        return False

    def _service(self) -> None:
        """Marlin's main loop: finish the blocking handler, read lines, run one."""
        while not self.halted and self._busy_until is None:
            if self._op is not None:
                if not self._step_op():
                    return
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
        """Validate line number and checksum, then queue the command."""
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
        text = text.split("*", 1)[0].strip()
        self._queue.append(_Command(index, line_number, text))

    def _check_numbered(self, text: str) -> tuple[int, str] | None:
        """Marlin's ``N``/``*`` checks; ``(n, command)`` or None after an error."""
        n = _leading_int(text[1:])
        gcode_n = n
        is_m110 = "M110" in text
        if is_m110:
            second = text.find("N", text.index("M110") + 4)
            if second != -1:
                gcode_n = _leading_int(text[second + 1 :])
        if gcode_n != self.last_n + 1 and not is_m110:
            self.stats.line_number_errors += 1
            self._line_error("Line Number is not Last Line Number+1, Last Line: ")
            return None
        star = text.rfind("*")
        if star == -1:
            self._line_error("No Checksum with line number, Last Line: ")
            return None
        checksum = 0
        for ch in text[:star].encode("ascii", "replace"):
            checksum ^= ch
        if _leading_int(text[star + 1 :]) != checksum:
            self.stats.checksum_errors += 1
            self._line_error("checksum mismatch, Last Line: ")
            return None
        self.last_n = gcode_n
        command = re.sub(r"^N\s*[-+]?\d*\s*", "", text[:star])
        return n, command

    def _line_error(self, message: str) -> None:
        """``gcode_line_error``: report, flush the RX buffer, request a resend."""
        self.stats.errors_sent += 1
        self.stats.resends_requested += 1
        self._emit(f"Error:{message}{self.last_n}")
        self._rx.clear()
        self._emit(f"Resend: {self.last_n + 1}")
        self._emit("ok")

    # == command execution ================================================

    def _start(self, cmd: _Command) -> None:
        self._op = self._run(cmd)
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

    def _run(self, cmd: _Command) -> Generator[Wait, None, None]:
        """Process one queued command, then ``ok`` and record it."""
        match = _COMMAND.match(cmd.text.upper())
        code = match.group(1) + str(int(match.group(2))) if match else ""
        params = _params(cmd.text.upper()[match.end() :]) if match else {}
        handler = getattr(self, f"_cmd_{code}", None)
        if code.startswith("T"):
            handler = self._cmd_noop
        if handler is None:
            self._emit(f'echo:Unknown command: "{cmd.text}"')
        else:
            result = handler(cmd, params)
            if result is not None:
                yield from result
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
    _cmd_M117 = _cmd_M220 = _cmd_M221 = _cmd_M108 = _cmd_M999 = _cmd_noop

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
        self._kill()

    def _cmd_M115(self, cmd: _Command, p: dict) -> None:
        self._emit(
            f"FIRMWARE_NAME:{FIRMWARE_VERSION} (fabshop simulator)"
            " SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0"
            " MACHINE_TYPE:3D Printer EXTRUDER_COUNT:1"
            " UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"
        )
        caps = {**_CAPS, "ADVANCED_OK": int(self.advanced_ok)}
        for name, value in caps.items():
            self._emit(f"Cap:{name}:{value}")


def _leading_int(text: str) -> int:
    """C ``strtol``: the leading integer, or 0 if there is none."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0


def _params(text: str) -> dict[str, float | None]:
    """Parameter words after the command code (``None`` for a bare letter)."""
    return {letter: (float(number) if number else None) for letter, number in _PARAM.findall(text)}


#: The core :mod:`simulators.serve` runs for this firmware.
CORE = MarlinCore
