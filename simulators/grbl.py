"""GRBL 1.1h firmware core (pure state machine; see :mod:`.core` for the contract).

Modelled behaviour, following the GRBL 1.1 "Interface" documentation and
the firmware's serial/protocol design:

* A bounded serial receive buffer (``rx_buffer_size``, 128 stock).  Real-time
  characters (``? ! ~ 0x18`` and the 0x80+ extended set) are picked out on
  arrival and never enter it.  A byte arriving while it is full is lost (an
  *overrun*, counted in ``rx_overruns``) — real GRBL drops it silently.  Stock
  GRBL's ring holds all ``rx_buffer_size`` bytes (it allocates one slot more);
  grblHAL's holds one byte less (``build="grblhal"``), and says so in ``Bf:``.
* ``$I`` answers like GRBL 1.1h (``[VER:1.1h..]``, ``[OPT:V,15,128]``) or like
  grblHAL (``[OPT:VNMSL,35,1024,3,0]``, ``[FIRMWARE:grblHAL]``); without
  ``report_build_options`` the ``[OPT:..]`` line is left out.
* Stock GRBL prints no status report while its homing cycle moves (the ``?``
  is answered when homing ends); ``status_during_homing`` (the default, as
  grblHAL) answers at once.
* The protocol loop takes characters out of the buffer into a line and
  executes the line.  A motion line that finds the planner (15 blocks) full
  is held *in hand*, so following lines stay in the receive buffer and no
  ``ok`` is sent until a block finishes.  Spindle/coolant changes, ``G4``,
  ``M0`` and ``M2``/``M30`` first wait for the planner to drain, as GRBL does.
* Blocks run for distance/feed (capped by ``$110``-``$112``), scaled by
  ``time_scale`` and the feed/rapid overrides.
* Soft limits use a positive machine space ``[0, $13x]`` per axis (GRBL
  compiled with ``HOMING_FORCE_SET_ORIGIN``); ``$H`` homes to 0,0,0.
* Hard/soft-limit alarms are *critical*: ``ALARM:n`` + ``[MSG:Reset to
  continue]``; everything but ``?`` and 0x18 is ignored until a soft reset,
  after which the machine is in ``Alarm`` until ``$X`` or ``$H``.
* ``$10`` defaults to 3 (MPos + ``Bf:`` buffer report) rather than GRBL's 1,
  because hosts doing character counting rely on ``Bf:``;
  ``report_buffer_state=False`` gives GRBL's own 1.  Fields appear in
  GRBL's order: ``<State|MPos|Bf|FS|WCO or Ov>``.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from simulators.core import FirmwareCore
from simulators.grbl_gcode import GcodeError, GrblInterpreter, Move

BANNER = "Grbl 1.1h ['$' for help]"
VERSION = "[VER:1.1h.20190825:]"
GRBLHAL_VERSION = "[VER:1.1f.20240110:]"
BUILDS = ("grbl", "grblhal")
_STOCK_BUFFERS = {"grbl": (128, 15), "grblhal": (1024, 35)}  # (RX bytes, planner blocks) by default
HELP = "[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]"
UNLOCK_HINT = "[MSG:'$H'|'$X' to unlock]"

LINE_BUFFER_SIZE = 80  # GRBL's line[] holds 79 characters + NUL
_RAW_LINE_LIMIT = 1024  # guard against a host that never sends a newline

DEFAULT_SETTINGS: dict[int, float] = {
    0: 10, 1: 25, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 10: 3, 11: 0.010, 12: 0.002, 13: 0,
    20: 0, 21: 0, 22: 1, 23: 0, 24: 25.0, 25: 500.0, 26: 250, 27: 1.0, 30: 1000, 31: 0, 32: 0,
    100: 250.0, 101: 250.0, 102: 250.0, 110: 500.0, 111: 500.0, 112: 500.0,
    120: 10.0, 121: 10.0, 122: 10.0, 130: 200.0, 131: 200.0, 132: 200.0,
}  # fmt: skip
_INTEGER_SETTINGS = frozenset({0, 1, 2, 3, 4, 5, 6, 10, 13, 20, 21, 22, 23, 26, 30, 31, 32})

# Status codes used by the core itself (the interpreter raises the g-code ones).
_ERR_BAD_NUMBER = 2
_ERR_INVALID_STATEMENT = 3
_ERR_NEGATIVE = 4
_ERR_SETTING_DISABLED = 5
_ERR_IDLE = 8
_ERR_LOCKED = 9
_ERR_SOFT_LIMIT_NEEDS_HOMING = 10
_ERR_LINE_OVERFLOW = 11
_ERR_TRAVEL_EXCEEDED = 15

ALARM_HARD_LIMIT = 1
ALARM_SOFT_LIMIT = 2
ALARM_ABORT_CYCLE = 3
ALARM_HOMING_FAIL_RESET = 6

# Real-time command bytes.
RT_STATUS, RT_HOLD, RT_RESUME, RT_RESET = 0x3F, 0x21, 0x7E, 0x18
RT_DOOR, RT_JOG_CANCEL = 0x84, 0x85
_FEED_OVR = {0x90: None, 0x91: 10, 0x92: -10, 0x93: 1, 0x94: -1}
_RAPID_OVR = {0x95: 100, 0x96: 50, 0x97: 25}
_SPINDLE_OVR = {0x99: None, 0x9A: 10, 0x9B: -10, 0x9C: 1, 0x9D: -1}

_COMMENT = re.compile(rb"\([^)]*\)?|;.*")
_SETTING = re.compile(r"\$(\d+)=(.*)")
_STARTUP = re.compile(r"\$N(\d)=(.*)")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def normalise(raw: bytes) -> str:
    """GRBL's line filter: drop comments, whitespace and controls; upper-case."""
    text = _COMMENT.sub(b"", raw).decode("ascii", "replace")
    return "".join(ch for ch in text.upper() if ch > " " and ch != "\x7f")


def _fmt(values) -> str:
    # + 0.0 turns -0.0 into 0.0 so reports never show "-0.000".
    return ",".join(f"{round(v, 3) + 0.0:.3f}" for v in values)


@dataclass
class _Entry:
    """A planner slot: a move, or (``move is None``) a zero-time record marker."""

    move: Move | None
    record: tuple[int, int | None, str] | None = None
    jog: bool = False
    progress: float = 0.0


class GrblCore(FirmwareCore):
    """GRBL 1.1h.  See module docstring for the modelled behaviour.

    :param rx_buffer_size: serial receive buffer (bytes); None: the build's, 128 (GRBL) or 1024 (grblHAL).
    :param planner_blocks: planner capacity (``Bf:`` reports the free count); None: 15 or 35 by build.
    :param envelope: machine travel per axis in mm (``$130``-``$132``), or
        ``None`` to disable soft limits.
    :param homing_lock: power up in ``Alarm`` as GRBL does with homing enabled.
    :param settings: overrides for ``$`` settings.
    :param build: ``"grbl"`` (1.1h) or ``"grblhal"``: the ``$I`` answer and the ring's usable size.
    :param report_build_options: whether ``$I`` prints ``[OPT:..]``.
    :param report_buffer_state: whether status reports carry ``Bf:`` (``$10`` default 3, else 1).
    :param status_during_homing: answer ``?`` while homing (grblHAL) or only once it ends (GRBL 1.1).
    """

    firmware = "grbl"
    newline = "\r\n"
    travel_option = "envelope"

    def __init__(
        self,
        *,
        rx_buffer_size: int | None = None,
        planner_blocks: int | None = None,
        envelope: tuple[float, float, float] | None = (200.0, 200.0, 200.0),
        homing_lock: bool = False,
        settings: dict[int, float] | None = None,
        build: str = "grbl",
        report_build_options: bool = True,
        report_buffer_state: bool = True,
        status_during_homing: bool = True,
        time_scale: float = 1.0,
        seed: int = 0,
        **faults,
    ):
        if build not in BUILDS:
            raise ValueError(f"build must be one of {BUILDS}, not {build!r}")
        stock = _STOCK_BUFFERS[build]
        self.rx_buffer_size = rx_buffer_size if rx_buffer_size is not None else stock[0]
        self.planner_blocks = planner_blocks if planner_blocks is not None else stock[1]
        self.homing_lock = homing_lock
        self.build = build
        self.report_build_options = report_build_options
        self.status_during_homing = status_during_homing
        # GRBL allocates rx_buffer_size + 1 ring slots; grblHAL allocates rx_buffer_size and keeps one empty.
        self.rx_capacity = self.rx_buffer_size - (build == "grblhal")
        self._status_pending = False  # a "?" waiting for the homing cycle to end (GRBL 1.1)
        self._defaults = dict(DEFAULT_SETTINGS)
        self._defaults[10] = 3 if report_buffer_state else 1
        if envelope is not None:
            self._defaults.update({130: envelope[0], 131: envelope[1], 132: envelope[2], 20: 1})
        self._defaults.update(settings or {})
        self.settings = dict(self._defaults)
        self.interp = GrblInterpreter(self._max_rates())
        self.startup_lines = ["", ""]
        self._line_index = 0
        self._reset_runtime(position=(0.0, 0.0, 0.0))
        super().__init__(time_scale=time_scale, seed=seed, **faults)

    # == shell API ========================================================

    def boot(self, now: float) -> None:
        """Power-on / DTR reset: RAM is lost, position is 0, banner is sent."""
        self._now = now
        self._reset_runtime(position=(0.0, 0.0, 0.0))
        self.alarm = self.homing_lock and bool(self.settings[22])
        self._announce()

    def receive(self, data: bytes, now: float) -> None:
        """Bytes arrived on the UART at ``now`` (in order)."""
        self._advance(now)
        for byte in data:
            if self.disconnect_requested:
                break  # the cable is pulled: the rest of this chunk never arrives
            self.stats.bytes_received += 1
            if self._realtime(byte, now) or byte >= 0x80:
                continue  # real-time and unknown extended bytes never reach the buffer
            if len(self._rx) >= self.rx_capacity:
                self.stats.overruns += 1
                continue
            self._rx.append(byte)
            self._pump()

    def tick(self, now: float) -> None:
        """Advance motion and timers to ``now`` and keep the protocol loop going."""
        self._advance(now)
        if self.homing_until is not None and now >= self.homing_until:
            self._finish_homing()
        if self.dwell_until is not None and now >= self.dwell_until:
            self.dwell_until = None
        if self.busy_until is not None and now >= self.busy_until:
            self.busy_until = None
        self._pump()

    def next_deadline(self) -> float | None:
        """Earliest time something becomes due without new input."""
        times = [t for t in (self.homing_until, self.dwell_until, self.busy_until) if t is not None]
        if self._planner and not self.hold:
            head = self._planner[0]
            times.append(self._clock + (1.0 - head.progress) * self._real_duration(head))
        return min(times) if times else None

    # == observable state =================================================

    @property
    def state(self) -> str:
        """The state name as GRBL reports it (``Idle``, ``Run``, ``Hold:0``...)."""
        if self.sleeping:
            return "Sleep"
        if self.homing_until is not None:
            return "Home"
        if self.alarm or self.critical:
            return "Alarm"
        if self.check_mode:
            return "Check"
        if self.hold:
            return "Hold:0"  # our stops are instantaneous, so the hold is complete
        if any(e.move for e in self._planner):
            return "Jog" if self._planner[0].jog else "Run"
        return "Idle"

    @property
    def position(self) -> tuple[float, float, float]:
        """Current machine position, interpolated inside the running block."""
        if self._planner and self._planner[0].move is not None:
            head = self._planner[0]
            p = head.progress
            return tuple(s + (t - s) * p for s, t in zip(self._pos, head.move.target, strict=True))
        return self._pos

    @property
    def planner_free(self) -> int:
        return self.planner_blocks - sum(1 for e in self._planner if e.move is not None)

    @property
    def rx_free(self) -> int:
        return self.rx_capacity - len(self._rx)

    @property
    def rx_overruns(self) -> int:
        """Bytes lost because they arrived while the receive buffer was full (a host must keep this 0)."""
        return self.stats.overruns

    # == reset / alarms ===================================================

    def _reset_runtime(self, position) -> None:
        """Clear everything a soft reset clears (buffers, planner, timers)."""
        self._rx = bytearray()
        self._line = bytearray()
        self._steps: deque[tuple] = deque()
        self._held: tuple[int, int | None, str] | None = None
        self._tail_entry: _Entry | None = None
        self._planner: deque[_Entry] = deque()
        self._pos = tuple(position)
        self._clock = getattr(self, "_now", 0.0)
        self.hold = self.critical = self.sleeping = self.check_mode = False
        self.alarm = getattr(self, "alarm", False)
        self.homing_until = self.dwell_until = self.busy_until = None
        self._status_pending = False
        self._homing_record: tuple[int, int | None, str] | None = None
        self.feed_override = self.rapid_override = self.spindle_override = 100
        self._wco_counter = self._ovr_counter = 0
        self.interp.reset(self._pos)

    def _announce(self) -> None:
        self.stats.resets += 1
        self._emit("")
        self._emit(BANNER)
        if self.alarm:
            self._emit(UNLOCK_HINT)

    def _soft_reset(self, now: float, estop: bool = True) -> None:
        """0x18: abort everything; ALARM:3 if it interrupted motion."""
        if estop:
            self.stats.estops += 1
            self.stats.estop_times.append(now)
        moving = self.homing_until is not None or (not self.hold and any(e.move for e in self._planner))
        position = self.position
        code = ALARM_HOMING_FAIL_RESET if self.homing_until is not None else ALARM_ABORT_CYCLE
        was_asleep = self.sleeping
        self._reset_runtime(position)
        if moving:
            self._report_alarm(code)
        self.alarm = self.alarm or moving or was_asleep
        self._announce()

    def _report_alarm(self, code: int) -> None:
        self.alarm = True
        self.stats.alarms.append(code)
        self._emit(f"ALARM:{code}")

    def _critical_alarm(self, code: int) -> None:
        """Hard/soft limit: stop dead, drop queued work, wait for a reset."""
        position = self.position
        self._planner.clear()
        self._steps.clear()
        self._held = None
        self._pos = position
        self.interp.position = list(position)
        self.hold = False
        self.homing_until = self.dwell_until = None
        self.critical = True
        self._report_alarm(code)
        self._emit("[MSG:Reset to continue]")

    def _fire_fault(self, name: str) -> None:
        if name == "alarm_after_lines":
            self._critical_alarm(ALARM_HARD_LIMIT)
        super()._fire_fault(name)

    def _inject_busy(self, seconds: float) -> None:
        self.busy_until = self._now + self._scaled(seconds)

    # == real-time bytes ==================================================

    def _realtime(self, byte: int, now: float) -> bool:
        """Handle a real-time byte; False if ``byte`` is ordinary data."""
        if byte == RT_RESET:
            self._soft_reset(now)
        elif byte == RT_STATUS:
            self._advance(now)
            if self.homing_until is not None and not self.status_during_homing:
                self._status_pending = True  # GRBL 1.1's homing loop has "no time" for reports
            else:
                self._status_report()
        elif byte in (RT_HOLD, RT_RESUME, RT_JOG_CANCEL, RT_DOOR) or byte in _FEED_OVR:
            if not (self.critical or self.sleeping):
                self._motion_realtime(byte)
        elif byte in _RAPID_OVR or byte in _SPINDLE_OVR or byte in (0x9E, 0xA0, 0xA1):
            if not (self.critical or self.sleeping):
                self._override_realtime(byte)
        else:
            return False
        return True

    def _motion_realtime(self, byte: int) -> None:
        locked = self.alarm or self.check_mode or self.homing_until is not None
        if byte in (RT_HOLD, RT_DOOR) and not locked:
            self.hold = True
        elif byte == RT_RESUME and self.hold:
            self.hold = False
            self.interp.modal.program = ""
        elif byte == RT_JOG_CANCEL and self._planner and self._planner[0].jog:
            self._cancel_jog()
        elif byte in _FEED_OVR:
            self.feed_override = self._bump(self.feed_override, _FEED_OVR[byte])

    def _override_realtime(self, byte: int) -> None:
        if byte in _RAPID_OVR:
            self.rapid_override = _RAPID_OVR[byte]
        elif byte in _SPINDLE_OVR:
            self.spindle_override = self._bump(self.spindle_override, _SPINDLE_OVR[byte])
        elif byte == 0xA0:
            self.interp.modal.flood = not self.interp.modal.flood
        elif byte == 0xA1:
            self.interp.modal.mist = not self.interp.modal.mist
        self._ovr_counter = 0

    def _bump(self, value: int, delta: int | None) -> int:
        self._ovr_counter = 0  # GRBL reports Ov: on the next status after a change
        return 100 if delta is None else max(10, min(200, value + delta))

    def _cancel_jog(self) -> None:
        position = self.position
        self._planner = deque(e for e in self._planner if not e.jog)
        self._pos = position
        self.interp.position = list(position)

    def _status_report(self) -> None:
        """``<State|MPos|Bf|FS|WCO|Ov>`` with GRBL's WCO/Ov refresh counters."""
        busy = self.state not in ("Idle", "Alarm", "Check", "Sleep")
        mask = int(self.settings[10])
        wco = self.interp.wco()
        pos = self.position
        parts = [self.state]
        if mask & 1:
            parts.append("MPos:" + _fmt(pos))
        else:
            parts.append("WPos:" + _fmt(p - o for p, o in zip(pos, wco, strict=True)))
        if mask & 2:
            parts.append(f"Bf:{self.planner_free},{self.rx_free}")
        parts.append(f"FS:{self._current_feed():.0f},{self._current_speed():.0f}")
        if self._wco_counter > 0:
            self._wco_counter -= 1
        else:
            self._wco_counter = (30 if busy else 10) - 1
            self._ovr_counter = self._ovr_counter or 1
            parts.append("WCO:" + _fmt(wco))
        if self._ovr_counter > 0:
            self._ovr_counter -= 1
        else:
            self._ovr_counter = (20 if busy else 10) - 1
            parts.append(f"Ov:{self.feed_override},{self.rapid_override},{self.spindle_override}")
            accessories = self._accessories()
            if accessories:
                parts.append("A:" + accessories)
        self._emit("<" + "|".join(parts) + ">")

    def _accessories(self) -> str:
        m = self.interp.modal
        spindle = {"M3": "S", "M4": "C"}.get(m.spindle, "")
        return spindle + ("F" if m.flood else "") + ("M" if m.mist else "")

    def _current_feed(self) -> float:
        if self.hold or not self._planner or self._planner[0].move is None:
            return 0.0
        head = self._planner[0]
        scale = self.rapid_override if head.move.rapid else self.feed_override
        return head.move.feed * scale / 100.0

    def _current_speed(self) -> float:
        m = self.interp.modal
        return 0.0 if m.spindle == "M5" else m.speed * self.spindle_override / 100.0

    # == motion execution =================================================

    def _real_duration(self, entry: _Entry) -> float:
        scale = self.rapid_override if entry.move.rapid else self.feed_override
        return self._scaled(entry.move.duration) * 100.0 / scale

    def _advance(self, now: float) -> None:
        """Run planner blocks up to ``now``; records finish in program order."""
        t = self._clock
        while self._planner and not self.hold:
            entry = self._planner[0]
            if entry.move is not None:
                real = self._real_duration(entry)
                remaining = (1.0 - entry.progress) * real
                if t + remaining > now:
                    entry.progress += (now - t) / real
                    break
                t += remaining
                self._pos = entry.move.target
            self._planner.popleft()
            if entry.record:
                self._now = t
                self._record(*entry.record)
        self._clock = self._now = now

    # == protocol loop ====================================================

    def _blocked(self) -> bool:
        waiting = (self.homing_until, self.dwell_until, self.busy_until)
        return self.critical or self.sleeping or any(t is not None for t in waiting)

    def _pump(self) -> None:
        """GRBL's main loop: finish the held line, then read further lines."""
        while not self._blocked():
            # Zero-time blocks (time_scale=0) finish here, before the next line.
            self._advance(self._now)
            if self._steps or self._held:
                if not self._run_steps():
                    return
                continue
            if not self._rx:
                return
            byte = self._rx.pop(0)
            if byte in (0x0A, 0x0D):
                raw = bytes(self._line)
                self._line.clear()
                self._process_line(raw)
            elif len(self._line) < _RAW_LINE_LIMIT:
                self._line.append(byte)

    def _process_line(self, raw: bytes) -> None:
        text = normalise(self._maybe_corrupt(raw))
        if not text:
            self._emit("ok")  # GRBL acknowledges empty and comment-only lines
            return
        index = self._line_index
        self._line_index += 1
        self.stats.lines_received += 1
        if len(text) >= LINE_BUFFER_SIZE:
            self._error(_ERR_LINE_OVERFLOW)
        elif text[0] == "$":
            self._system_command(text, index)
        elif self.alarm or self.state == "Jog":
            self._error(_ERR_LOCKED)
        else:
            self._gcode_line(text, index)

    def _gcode_line(self, text: str, index: int) -> None:
        wco_before = self.interp.wco()
        try:
            plan = self.interp.execute(text)
        except GcodeError as exc:
            self._error(exc.code)
            return
        if self.interp.wco() != wco_before:
            self._wco_counter = 0
        moves = [step[1] for step in plan.steps if step[0] == "move"]
        if any(self._outside_envelope(m.check_points) for m in moves):
            self._critical_alarm(ALARM_SOFT_LIMIT)
            return
        if self.check_mode:
            self._emit("ok")
            return
        self._steps = deque(plan.steps)
        self._held = (index, plan.line_number, text)

    def _run_steps(self) -> bool:
        """Work through the held line's steps; False while one must wait."""
        while self._steps:
            step = self._steps[0]
            kind = step[0]
            if kind == "sync" and self._planner:
                return False
            if kind in ("move", "jog"):
                if self.planner_free <= 0:
                    return False
                self._tail_entry = _Entry(step[1], jog=kind == "jog")
                self._planner.append(self._tail_entry)
            else:
                self._tail_entry = None
            self._steps.popleft()
            if kind == "dwell" and self._scaled(step[1]) > 0:
                self.dwell_until = self._now + self._scaled(step[1])
                return False
            if kind == "pause":
                self.hold = True
            elif kind == "end":
                self._emit("[MSG:Pgm End]")
        self._finish_held()
        return True

    def _finish_held(self) -> None:
        """Send the held line's ``ok`` and arrange its executed record."""
        record, self._held = self._held, None
        self._emit("ok")
        if record is None:
            return
        if self._tail_entry is not None:
            self._tail_entry.record = record
        elif self._planner:
            self._planner.append(_Entry(None, record))
        else:
            self._record(*record)
        self._tail_entry = None

    def _outside_envelope(self, points) -> bool:
        if not self.settings[20]:
            return False
        travel = (self.settings[130], self.settings[131], self.settings[132])
        eps = 1e-6
        return any(not (-eps <= p[a] <= travel[a] + eps) for p in points for a in range(3))

    def _error(self, code: int) -> None:
        self.stats.errors_sent += 1
        self._emit(f"error:{code}")

    # == $ system commands ================================================

    def _idle_or_alarm(self) -> bool:
        return not self._planner and not self.hold and not self.check_mode

    def _system_command(self, text: str, index: int) -> None:
        simple = {
            "$": self._cmd_help,
            "$$": self._cmd_settings,
            "$#": self._cmd_parameters,
            "$G": self._cmd_gcode_state,
            "$I": self._cmd_info,
            "$N": self._cmd_startup_lines,
            "$C": self._cmd_check_mode,
            "$X": self._cmd_unlock,
            "$SLP": self._cmd_sleep,
        }
        if text in simple:
            simple[text]()
        elif text == "$H":
            self._cmd_home(index)
        elif text.startswith("$J="):
            self._cmd_jog(text, index)
        elif text.startswith("$RST=") and text[5:] in ("$", "#", "*"):
            self._cmd_restore(text[5:])
        elif match := _STARTUP.fullmatch(text):
            self._cmd_store_startup(int(match.group(1)), match.group(2))
        elif match := _SETTING.fullmatch(text):
            self._cmd_write_setting(int(match.group(1)), match.group(2))
        else:
            self._error(_ERR_INVALID_STATEMENT)

    def _cmd_help(self) -> None:
        self._emit(HELP)
        self._emit("ok")

    def _cmd_settings(self) -> None:
        if self.state.startswith(("Run", "Hold", "Jog")):
            self._error(_ERR_IDLE)
            return
        for key, value in self.settings.items():
            shown = f"{int(value)}" if key in _INTEGER_SETTINGS else f"{value:.3f}"
            self._emit(f"${key}={shown}")
        self._emit("ok")

    def _cmd_parameters(self) -> None:
        offsets = self.interp.offsets
        for n, wcs in enumerate(offsets.wcs):
            self._emit(f"[G{54 + n}:{_fmt(wcs)}]")
        self._emit(f"[G28:{_fmt(offsets.g28)}]")
        self._emit(f"[G30:{_fmt(offsets.g30)}]")
        self._emit(f"[G92:{_fmt(self.interp.g92)}]")
        self._emit(f"[TLO:{self.interp.tlo:.3f}]")
        self._emit("[PRB:0.000,0.000,0.000:0]")
        self._emit("ok")

    def _cmd_gcode_state(self) -> None:
        m = self.interp.modal
        words = [
            m.motion,
            f"G{54 + m.wcs}",
            f"G{m.plane}",
            "G20" if m.inches else "G21",
            "G91" if m.incremental else "G90",
            "G93" if m.inverse_time else "G94",
        ]
        if m.program:
            words.append(m.program)
        words.append(m.spindle)
        coolant = (["M7"] if m.mist else []) + (["M8"] if m.flood else [])
        words += coolant or ["M9"]
        feed = m.feed / 25.4 if m.inches else m.feed
        words += [f"T{m.tool}", f"F{feed:.0f}", f"S{m.speed:.0f}"]
        self._emit("[GC:" + " ".join(words) + "]")
        self._emit("ok")

    def _cmd_info(self) -> None:
        """GRBL 1.1h: ``[VER:..]``, ``[OPT:V,15,128]``; grblHAL adds its own fields and lines."""
        grblhal = self.build == "grblhal"
        self._emit(GRBLHAL_VERSION if grblhal else VERSION)
        if self.report_build_options:
            if grblhal:
                self._emit(f"[OPT:VNMSL,{self.planner_blocks},{self.rx_buffer_size},3,0]")
            else:
                self._emit(f"[OPT:V,{self.planner_blocks},{self.rx_buffer_size}]")
        if grblhal:
            self._emit("[NEWOPT:ENUMS,RT+,HOME,SED]")
            self._emit("[FIRMWARE:grblHAL]")
        self._emit("ok")

    def _cmd_startup_lines(self) -> None:
        for n, line in enumerate(self.startup_lines):
            self._emit(f"$N{n}={line}")
        self._emit("ok")

    def _cmd_store_startup(self, n: int, line: str) -> None:
        if n >= len(self.startup_lines):
            self._error(_ERR_INVALID_STATEMENT)
        elif not self._idle_or_alarm():
            self._error(_ERR_IDLE)
        else:
            self.startup_lines[n] = line
            self._emit("ok")

    def _cmd_check_mode(self) -> None:
        if self.check_mode:
            # Leaving check mode is a soft reset in GRBL: ok first, then the banner.
            self._emit("[MSG:Disabled]")
            self._emit("ok")
            self._soft_reset(self._now, estop=False)
        elif self.alarm or not self._idle_or_alarm():
            self._error(_ERR_IDLE)
        else:
            self.check_mode = True
            self._emit("[MSG:Enabled]")
            self._emit("ok")

    def _cmd_unlock(self) -> None:
        if self.alarm:
            self.alarm = False
            self._emit("[MSG:Caution: Unlocked]")
        self._emit("ok")

    def _cmd_sleep(self) -> None:
        if not self._idle_or_alarm():
            self._error(_ERR_IDLE)
            return
        self._emit("ok")
        self.sleeping = True
        self._emit("[MSG:Sleeping]")

    def _cmd_home(self, index: int) -> None:
        if not self.settings[22]:
            self._error(_ERR_SETTING_DISABLED)
            return
        if not self._idle_or_alarm():
            self._error(_ERR_IDLE)
            return
        x, y, z = (abs(v) for v in self._pos)
        seek, locate, pulloff = self.settings[25], self.settings[24], self.settings[27]
        minutes = (z + max(x, y)) / seek + 2 * (3 * pulloff / locate)
        self._homing_record = (index, None, "$H")
        self.homing_until = self._now + self._scaled(minutes * 60.0)
        if self.homing_until <= self._now:
            self._finish_homing()

    def _finish_homing(self) -> None:
        self.homing_until = None
        self._pos = (0.0, 0.0, 0.0)
        self.interp.position = [0.0, 0.0, 0.0]
        self.alarm = False
        if self._status_pending:
            self._status_pending = False
            self._status_report()
        self._emit("ok")
        if self._homing_record:
            self._record(*self._homing_record)
            self._homing_record = None

    def _cmd_jog(self, text: str, index: int) -> None:
        if self.alarm or self.hold or self.check_mode or self.state not in ("Idle", "Jog"):
            self._error(_ERR_IDLE)
            return
        saved = list(self.interp.position)
        try:
            move = self.interp.jog(text[3:])
        except GcodeError as exc:
            self._error(exc.code)
            return
        if move is None:
            self._emit("ok")
            return
        if self._outside_envelope(move.check_points):
            self.interp.position = saved  # jogs are refused, not alarmed
            self._error(_ERR_TRAVEL_EXCEEDED)
            return
        self._steps = deque([("jog", move)])
        self._held = (index, None, text)

    def _cmd_restore(self, what: str) -> None:
        if not self._idle_or_alarm():
            self._error(_ERR_IDLE)
            return
        if what in ("$", "*"):
            self.settings = dict(self._defaults)
            self.interp.max_rates = self._max_rates()
        if what in ("#", "*"):
            self.interp.offsets = type(self.interp.offsets)()
        self._emit("[MSG:Restoring defaults]")
        self._emit("ok")

    def _cmd_write_setting(self, key: int, value_text: str) -> None:
        if not _NUMBER.fullmatch(value_text):
            self._error(_ERR_BAD_NUMBER)
            return
        value = float(value_text)
        if key not in self.settings:
            self._error(_ERR_INVALID_STATEMENT)
        elif value < 0:
            self._error(_ERR_NEGATIVE)
        elif not self._idle_or_alarm():
            self._error(_ERR_IDLE)
        elif key == 20 and value and not self.settings[22]:
            self._error(_ERR_SOFT_LIMIT_NEEDS_HOMING)
        else:
            self.settings[key] = int(value) if key in _INTEGER_SETTINGS else value
            if key == 22 and not value:
                self.settings[20] = 0  # GRBL drops soft limits along with homing
            self.interp.max_rates = self._max_rates()
            self._emit("ok")

    def _max_rates(self) -> tuple[float, float, float]:
        return (self.settings[110], self.settings[111], self.settings[112])


#: The core :mod:`simulators.serve` runs for this firmware.
CORE = GrblCore
