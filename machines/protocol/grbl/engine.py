"""GRBL 1.1 host-side protocol engine.

Streaming uses GRBL's character-counting protocol: the host knows GRBL's serial
receive buffer holds ``rx_buffer_size`` bytes, keeps the byte count of every line
written but not yet answered, and writes the next line only if it still fits.
Each ``ok``/``error:N`` answers the oldest line.  Lines that write EEPROM or are
``$`` system commands are sent alone (send-response) because GRBL may block its
serial handling while writing EEPROM.

Real-time bytes (``?``, ``!``, ``~``, 0x18, overrides) are picked off by GRBL before
they reach the line buffer, so they are never counted.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from machines.protocol.base import (
    JOB_ACTIVE_STATES,
    TERMINAL_STATES,
    EngineState,
    ProtocolEngine,
    ProtocolStateError,
    UnsupportedCommand,
)
from machines.protocol.events import (
    Acknowledged,
    Alarm,
    Event,
    FirmwareError,
    Message,
    ParserState,
    ProbeResult,
    ProtocolViolation,
    Started,
    StatusReport,
    Unparsed,
)
from machines.protocol.grbl.codes import alarm_message, error_message

RT_STATUS = b"?"
RT_FEED_HOLD = b"!"
RT_CYCLE_START = b"~"
RT_SOFT_RESET = b"\x18"
RT_JOG_CANCEL = b"\x85"
RAPID_OVERRIDES = {100: b"\x95", 50: b"\x96", 25: b"\x97"}


@dataclass(frozen=True)
class _OverrideCodes:
    reset: int
    coarse_up: int
    coarse_down: int
    fine_up: int
    fine_down: int


FEED_OVERRIDE = _OverrideCodes(0x90, 0x91, 0x92, 0x93, 0x94)
SPINDLE_OVERRIDE = _OverrideCodes(0x99, 0x9A, 0x9B, 0x9C, 0x9D)

_BANNER = re.compile(r"^Grbl\w*\s+(\S+)")
# EEPROM writers and system commands: G10 (L2/L20), G28.1, G30.1 and every "$" line.
_SYNC_LINE = re.compile(r"^\$|G0*10(?![0-9.])|G0*28\.1(?![0-9])|G0*30\.1(?![0-9])")
_HOMING = re.compile(r"^\$H")
_ALARM_CODE = re.compile(r"ALARM:(\d+)", re.IGNORECASE)
# Machine states in which motion has stopped, so a soft reset cannot lose position.
_STILL_STATES = frozenset({"Idle", "Hold:0", "Alarm", "Check", "Sleep", "Door:0", "Door:1"})


def is_sync_command(text: str) -> bool:
    """True for lines GRBL must process with nothing else in its buffer."""
    return bool(_SYNC_LINE.search(text.upper().replace(" ", "")))


def override_bytes(delta: int | Literal["reset"], codes: _OverrideCodes) -> bytes:
    """Real-time bytes moving an override by ``delta`` percent (10s then 1s), or resetting it."""
    if delta == "reset" or delta == 0:
        return bytes([codes.reset])
    if not isinstance(delta, int):
        raise ValueError(f"override delta must be an int or 'reset', not {delta!r}")
    coarse, fine = divmod(abs(delta), 10)
    up = delta > 0
    return (
        bytes([codes.coarse_up if up else codes.coarse_down]) * coarse
        + bytes([codes.fine_up if up else codes.fine_down]) * fine
    )


def _floats(value: str | None) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(part) for part in value.split(","))


def _ints(value: str | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(part) for part in value.split(","))


def _combine(a: tuple[float, ...], b: tuple[float, ...], sign: int) -> tuple[float, ...]:
    # GRBL prints at most 4 decimals; rounding hides binary floating-point noise.
    return tuple(round(x + sign * y, 4) for x, y in zip(a, b, strict=False))


def parse_status_report(line: str, last_work_offset: tuple[float, ...] | None = None) -> StatusReport | None:
    """Parse ``<State|MPos:..|FS:..|...>``; None if it is not a well-formed report.

    GRBL sends either MPos or WPos, and WCO only now and then, so the missing
    position is derived from the most recent work offset the caller remembers.
    """
    if not (line.startswith("<") and line.endswith(">")):
        return None
    state, *fields = line[1:-1].split("|")
    values = {}
    for item in fields:
        name, _, value = item.partition(":")
        values[name] = value
    try:
        machine_pos = _floats(values.get("MPos"))
        work_pos = _floats(values.get("WPos"))
        work_offset = _floats(values.get("WCO")) or last_work_offset
        feed_speed = _floats(values.get("FS")) or _floats(values.get("F"))
        buffers = _ints(values.get("Bf"))
        line_number = int(values["Ln"]) if "Ln" in values else None
        overrides = _ints(values.get("Ov"))
    except ValueError:
        return None
    if work_offset is not None:
        if work_pos is None and machine_pos is not None:
            work_pos = _combine(machine_pos, work_offset, -1)
        elif machine_pos is None and work_pos is not None:
            machine_pos = _combine(work_pos, work_offset, +1)
    return StatusReport(
        state=state,
        machine_pos=machine_pos,
        work_pos=work_pos,
        feed=feed_speed[0] if feed_speed else None,
        spindle=feed_speed[1] if feed_speed and len(feed_speed) > 1 else None,
        planner_free=buffers[0] if buffers else None,
        rx_free=buffers[1] if buffers and len(buffers) > 1 else None,
        line=line_number,
        overrides=overrides,
        pins=values.get("Pn"),
        work_offset=work_offset,
        raw=line,
    )


@dataclass(frozen=True)
class _StreamItem:
    """A line of the stream: a program line, or a wrapper such as dry-run's ``$C``."""

    text: str
    program_index: int | None
    source_line: int | None

    @property
    def size(self) -> int:
        return len(self.text) + 1  # the "\n"

    @property
    def sync(self) -> bool:
        return is_sync_command(self.text)


@dataclass(frozen=True)
class _Sent:
    """A line occupying GRBL's receive buffer until its ok/error."""

    item: _StreamItem
    in_stream: bool  # False for manual commands (unlock, home, ...)
    leaves_check_mode: bool  # "$C" while in check mode: GRBL soft-resets afterwards


# Lower-case line prefix -> handler, in matching order.
_LINE_HANDLERS = {
    "ok": "_on_ok",
    "error:": "_on_error",
    "alarm:": "_on_alarm",
    "<": "_on_status",
    "[msg:": "_on_feedback_message",
    "[gc:": "_on_parser_state",
    "[prb:": "_on_probe",
    "[": "_on_bracketed",
    "grbl": "_on_banner",
    "$": "_on_echoed_setting",
    ">": "_on_echoed_setting",  # startup blocks: ">G54:ok"
}


# GRBL's work offsets G54..G59 are slots P1..P6 of ``G10 L2``.
WCS_NUMBERS = {f"G5{4 + n}": n + 1 for n in range(6)}


class GrblEngine(ProtocolEngine):
    """Sans-I/O host side of the GRBL 1.1 serial protocol.

    Parameters (keyword-only):
        rx_buffer_size: GRBL's serial receive buffer (``Bf:`` at idle shows it; 128 stock).
        status_interval: seconds between ``?`` queries (0.2 s = the wiki's 5 Hz ceiling).
        status_timeout: a ``?`` unanswered this long is presumed lost and may be re-sent.
        stop_on_error: an ``error:N`` during a job fails the job.
        dry_run: wrap the program in ``$C`` ... ``$C`` (GRBL check mode).
        reset_on_connect: handshake with a soft reset (wait for the banner) rather
            than just a ``?`` (wait for a status report).
        handshake_timeout: FAILED if the controller does not identify itself in time.
        response_timeout: FAILED if nothing at all (not even status reports) arrives
            this long while lines are in flight; None disables.  Never applied while
            ``$H`` homing is in flight.
        hold_timeout: after cancel, soft-reset anyway if the feed hold has not
            completed (``Hold:0``) within this many seconds.
    """

    firmware = "grbl"
    supports_dry_run = True
    maintenance_commands = frozenset({"unlock", "home"})
    override_kinds = frozenset({"feed", "spindle", "rapid"})

    def __init__(
        self,
        *,
        rx_buffer_size: int = 128,
        status_interval: float = 0.2,
        status_timeout: float = 1.0,
        stop_on_error: bool = True,
        dry_run: bool = False,
        reset_on_connect: bool = True,
        handshake_timeout: float = 5.0,
        response_timeout: float | None = 10.0,
        hold_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if rx_buffer_size < 2:
            raise ValueError("rx_buffer_size must allow at least one character and a newline")
        self.rx_buffer_size = rx_buffer_size
        self.status_interval = status_interval
        self.status_timeout = status_timeout
        self.stop_on_error = stop_on_error
        self.dry_run = dry_run
        self.reset_on_connect = reset_on_connect
        self.handshake_timeout = handshake_timeout
        self.response_timeout = response_timeout
        self.hold_timeout = hold_timeout

        self._stream: list[_StreamItem] = []
        self._cursor = 0
        self._stream_answered = 0
        self._in_flight: deque[_Sent] = deque()
        self._bytes_in_flight = 0
        self._check_mode = False
        self._expected_resets = 0
        self._stray_ok_allowed = 0
        self._inert = False  # after emergency_stop: the engine writes nothing more

        self._handshake_started: float | None = None
        self._last_rx: float | None = None
        self._last_status_poll: float | None = None
        self._status_outstanding_since: float | None = None
        self._status_polls_sent = 0
        self._status_reports_received = 0
        self._last_work_offset: tuple[float, ...] | None = None
        self._last_status: StatusReport | None = None

        self._realtime_out = bytearray()  # real-time bytes poll() must write next
        self._banner_seen = False  # during the handshake: GRBL announced itself, a status report confirms
        self._reset_after_hold = False
        self._hold_poll_mark = 0  # status polls sent before the hold was requested
        self._hold_started: float | None = None

    # ------------------------------------------------------------------ properties
    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def bytes_in_flight(self) -> int:
        """Bytes of unanswered lines currently occupying GRBL's receive buffer."""
        return self._bytes_in_flight

    @property
    def last_status(self) -> StatusReport | None:
        return self._last_status

    @property
    def pending_reset(self) -> bool:
        """A cancel's soft reset is still waiting for the feed hold to complete (keep polling)."""
        return self._reset_after_hold

    # ------------------------------------------------------------------ firmware facts for the I/O loop
    @property
    def draining(self) -> bool:
        """The soft reset that ends a cancel is still to come (``poll()`` sends it after the hold)."""
        return self._reset_after_hold

    @property
    def confirms_stop_by_status(self) -> bool:
        """GRBL says ``ok`` when a line enters its planner, long before the move ends: watch for Idle."""
        return True

    def estop_bytes(self) -> bytes:
        """Feed hold then soft reset, both real-time bytes that GRBL acts on at once."""
        return RT_FEED_HOLD + RT_SOFT_RESET

    @classmethod
    def job_prelude(cls, *, home: bool, work_offsets: Mapping[str, Sequence[float]]) -> list[str]:
        """``$H`` if the mill must be homed, then ``G10 L2`` for each recorded G54..G59 offset.

        The offsets go to the controller so that it cuts in exactly the frame the program was
        validated in; names outside G54..G59 are ignored.
        """
        lines = ["$H"] if home else []
        for name, (x, y, z) in sorted(work_offsets.items()):
            if name in WCS_NUMBERS:
                lines.append(f"G10 L2 P{WCS_NUMBERS[name]} X{x:.3f} Y{y:.3f} Z{z:.3f}")
        return lines

    @property
    def check_mode(self) -> bool:
        """Whether GRBL is (as far as the engine knows) in ``$C`` check mode."""
        return self._check_mode

    # ------------------------------------------------------------------ connect & load
    def handshake(self, now: float) -> bytes:
        """Soft reset (default) or a status query; READY when GRBL answers."""
        self._transition(EngineState.HANDSHAKING)
        self._handshake_started = now
        self._banner_seen = False
        if self.reset_on_connect:
            return RT_SOFT_RESET
        self._record_status_poll(now)
        return RT_STATUS

    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        """Queue a program; raises ValueError for a line that can never fit GRBL's buffer."""
        for source_line, text in lines:
            if len(text.strip()) + 1 > self.rx_buffer_size:
                raise ValueError(f"source line {source_line} is longer than GRBL's rx buffer")
        self._store_program(lines)

    def _reset_program_cursor(self) -> None:
        items = [_StreamItem(line.text, line.index, line.source_line) for line in self._program]
        if self.dry_run:
            items = [_StreamItem("$C", None, None), *items, _StreamItem("$C", None, None)]
        self._stream = items
        self._cursor = 0
        self._stream_answered = 0

    def _complete_if_done(self) -> list[Event]:
        if self._stream_answered < len(self._stream):
            return []
        return super()._complete_if_done()

    # ------------------------------------------------------------------ sending
    def data_to_send(self, now: float) -> bytes:
        """Next program lines that fit GRBL's receive buffer (character counting)."""
        if self._inert or self._state is not EngineState.STREAMING:
            return b""
        out = bytearray()
        while self._cursor < len(self._stream) and self._fits(self._stream[self._cursor]):
            item = self._stream[self._cursor]
            self._cursor += 1
            out += self._transmit(item, in_stream=True, now=now)
        return bytes(out)

    def _fits(self, item: _StreamItem) -> bool:
        if any(sent.item.sync for sent in self._in_flight):
            return False  # nothing follows a settings write until it is answered
        if item.sync and self._in_flight:
            return False
        return self._bytes_in_flight + item.size <= self.rx_buffer_size

    def _transmit(self, item: _StreamItem, *, in_stream: bool, now: float) -> bytes:
        if not self._in_flight:
            # Silence before this moment says nothing about the new line.
            self._last_rx = max(self._last_rx or now, now)
        leaves_check_mode = item.text.upper() == "$C" and self._check_mode
        self._in_flight.append(_Sent(item, in_stream, leaves_check_mode))
        self._bytes_in_flight += item.size
        if item.program_index is not None:
            self._lines_sent += 1
        return item.text.encode("ascii") + b"\n"

    def command(self, text: str, now: float = 0.0) -> bytes:
        """Bytes for one out-of-program command (jog, ``$$``...), sent send-response style.

        Only while no program streams and nothing is in flight; its ok/error is
        consumed like any other line.
        """
        self._require({EngineState.READY, EngineState.COMPLETE}, "send a command")
        if self._in_flight:
            raise ProtocolStateError("wait for the previous command's answer first")
        item = _StreamItem(text.strip(), None, None)
        if item.size > self.rx_buffer_size:
            raise ValueError("command longer than GRBL's rx buffer")
        return self._transmit(item, in_stream=False, now=now)

    def unlock(self, now: float = 0.0) -> bytes:
        """``$X``: clear an alarm lock."""
        return self.command("$X", now)

    def home(self, now: float = 0.0) -> bytes:
        """``$H``: run the homing cycle (no response timeout applies while it runs)."""
        return self.command("$H", now)

    def check_mode_commands(self, now: float = 0.0) -> bytes:
        """``$C``: toggle check mode.  Leaving it soft-resets GRBL; that banner is expected."""
        return self.command("$C", now)

    # ------------------------------------------------------------------ real-time control
    def pause(self) -> bytes:
        self._transition(EngineState.PAUSED)
        return RT_FEED_HOLD

    def resume(self) -> bytes:
        self._require({EngineState.PAUSED}, "resume")
        self._transition(EngineState.STREAMING)
        return RT_CYCLE_START

    def cancel(self) -> bytes:
        """Feed hold now; ``poll()`` sends the soft reset once the hold has completed."""
        if self._state in TERMINAL_STATES:
            raise ProtocolStateError(f"cannot cancel while {self._state.name}")
        self._stop("cancelled")
        return self._hold_then_reset()

    def safe_shutdown(self) -> bytes:
        """Same as cancel's motion handling: hold, then soft reset when motion stopped."""
        if self._inert:
            return b""
        return self._hold_then_reset()

    def emergency_stop(self) -> bytes:
        """Feed hold and soft reset in one write; the engine sends nothing afterwards."""
        self._stop("emergency stop")
        self._inert = True
        self._realtime_out.clear()
        self._reset_after_hold = False
        return self.estop_bytes()

    def _hold_then_reset(self) -> bytes:
        self._reset_after_hold = True
        self._hold_poll_mark = self._status_polls_sent
        self._hold_started = None  # stamped by the next poll(now)
        return RT_FEED_HOLD

    def feed_override(self, delta: int | Literal["reset"]) -> bytes:
        """Feed override by ``delta`` percent (e.g. +10, -1, +25) or ``"reset"`` to 100 %."""
        return override_bytes(delta, FEED_OVERRIDE)

    def spindle_override(self, delta: int | Literal["reset"]) -> bytes:
        """Spindle override by ``delta`` percent or ``"reset"`` to 100 %."""
        return override_bytes(delta, SPINDLE_OVERRIDE)

    def rapid_override(self, percent: int) -> bytes:
        """Rapid override: 100, 50 or 25 percent."""
        try:
            return RAPID_OVERRIDES[percent]
        except KeyError:
            raise ValueError("GRBL rapid override is 100, 50 or 25 percent") from None

    def jog_cancel(self) -> bytes:
        return RT_JOG_CANCEL

    # The generic entry points (see ProtocolEngine) over the methods above.
    def maintenance_command(self, kind: str, now: float = 0.0) -> bytes:
        """``unlock`` is ``$X``, ``home`` is ``$H``."""
        if kind == "unlock":
            return self.unlock(now)
        if kind == "home":
            return self.home(now)
        return super().maintenance_command(kind, now)

    def override(self, kind: str, change: int | str) -> bytes:
        try:
            if kind == "feed":
                return self.feed_override(change)
            if kind == "spindle":
                return self.spindle_override(change)
            if kind == "rapid" and isinstance(change, int):
                return self.rapid_override(change)
        except ValueError as exc:
            raise UnsupportedCommand(str(exc)) from None
        return super().override(kind, change)

    @classmethod
    def explain_fault(cls, text: str) -> str | None:
        """``ALARM:n`` in ``text`` -> the alarm's meaning (GRBL's table)."""
        match = _ALARM_CODE.search(text)
        return f"Alarm {match.group(1)}: {alarm_message(int(match.group(1)))}" if match else None

    # ------------------------------------------------------------------ periodic work
    def poll(self, now: float) -> bytes:
        """Status queries (one outstanding, at most every ``status_interval``), the
        deferred soft reset of cancel, and handshake/response timeouts."""
        if self._inert or self._state is EngineState.IDLE:
            return b""
        self._check_timeouts(now)
        out = bytearray(self._realtime_out)
        self._realtime_out.clear()
        out += self._due_soft_reset(now)
        if self._status_query_due(now):
            self._record_status_poll(now)
            out += RT_STATUS
        return bytes(out)

    def next_deadline(self, now: float) -> float | None:
        if self._inert or self._state is EngineState.IDLE:
            return None
        if self._realtime_out or (self._reset_after_hold and self._hold_started is None):
            return now
        deadlines = [self._next_status_time()]
        if self._state is EngineState.HANDSHAKING and self._handshake_started is not None:
            deadlines.append(self._handshake_started + self.handshake_timeout)
        if self._reset_after_hold and self._hold_started is not None:
            deadlines.append(self._hold_started + self.hold_timeout)
        liveness = self._liveness_deadline()
        if liveness is not None:
            deadlines.append(liveness)
        known = [deadline for deadline in deadlines if deadline is not None]
        return min(known) if known else None

    def _polling_active(self) -> bool:
        return not (
            self._state is EngineState.HANDSHAKING and self.reset_on_connect and not self._banner_seen
        )

    def _next_status_time(self) -> float | None:
        if not self._polling_active():
            return None
        if self._status_outstanding_since is not None:
            return self._status_outstanding_since + self.status_timeout
        if self._last_status_poll is None:
            return 0.0
        return self._last_status_poll + self.status_interval

    def _status_query_due(self, now: float) -> bool:
        due = self._next_status_time()
        return due is not None and now >= due

    def _record_status_poll(self, now: float) -> None:
        if self._status_outstanding_since is not None:
            # The previous query went unanswered; count it as lost.
            self._status_reports_received += 1
        self._last_status_poll = now
        self._status_outstanding_since = now
        self._status_polls_sent += 1

    def _due_soft_reset(self, now: float) -> bytes:
        if not self._reset_after_hold:
            return b""
        if self._hold_started is None:
            self._hold_started = now
        if self._hold_completed() or now - self._hold_started >= self.hold_timeout:
            self._reset_after_hold = False
            self._clear_in_flight()  # the reset flushes GRBL's buffers
            return RT_SOFT_RESET
        return b""

    def _hold_completed(self) -> bool:
        fresh = self._status_reports_received > self._hold_poll_mark
        return fresh and self._last_status is not None and self._last_status.state in _STILL_STATES

    def _liveness_deadline(self) -> float | None:
        if self.response_timeout is None or self._state not in JOB_ACTIVE_STATES:
            return None
        if not self._in_flight or self._last_rx is None:
            return None
        if any(_HOMING.match(sent.item.text.upper()) for sent in self._in_flight):
            return None  # homing may legitimately take minutes
        return self._last_rx + self.response_timeout

    def _check_timeouts(self, now: float) -> None:
        if self._state is EngineState.HANDSHAKING and self._handshake_started is not None:
            if now - self._handshake_started >= self.handshake_timeout:
                self._defer(self._fail("GRBL did not identify itself after connecting"))
            return
        liveness = self._liveness_deadline()
        if liveness is not None and now >= liveness:
            self._defer(self._fail(f"GRBL stopped responding for {self.response_timeout:g} s"))

    # ------------------------------------------------------------------ receiving
    def _note_received(self, now: float) -> None:
        self._last_rx = now

    def _handle_line(self, text: str, now: float) -> list[Event]:
        return self._dispatch(text, now, _LINE_HANDLERS)

    def _on_ok(self, text: str, now: float) -> list[Event]:
        if text.lower() != "ok":
            return [Unparsed(text)]
        if not self._in_flight:
            return self._unexpected_answer(text)
        sent = self._retire_oldest()
        events: list[Event] = []
        if sent.item.text.upper() == "$C":
            self._check_mode = not self._check_mode
            if sent.leaves_check_mode:
                self._expected_resets += 1
        if sent.item.program_index is not None:
            self._lines_acknowledged += 1
            events.append(Acknowledged(sent.item.program_index, sent.item.source_line))
        return events + self._complete_if_done()

    def _on_error(self, text: str, now: float) -> list[Event]:
        detail = text.split(":", 1)[1].strip()
        code = int(detail) if detail.isdigit() else None
        message = error_message(code) if code is not None else detail
        self._errors += 1
        if not self._in_flight:
            return [FirmwareError(code, message, None, None), *self._unexpected_answer(text)]
        sent = self._retire_oldest()
        events: list[Event] = [FirmwareError(code, message, sent.item.program_index, sent.item.source_line)]
        if sent.in_stream and self.stop_on_error and self._state in JOB_ACTIVE_STATES:
            where = f" on source line {sent.item.source_line}" if sent.item.source_line else ""
            return events + self._fail(f"error:{detail}{where}: {message}")
        return events + self._complete_if_done()

    def _on_alarm(self, text: str, now: float) -> list[Event]:
        detail = text.split(":", 1)[1].strip()
        code = int(detail) if detail.isdigit() else None
        message = alarm_message(code) if code is not None else detail
        events: list[Event] = [Alarm(code, message)]
        if self._state in JOB_ACTIVE_STATES:
            events += self._fail(f"ALARM:{detail} {message}")
        return events

    def _on_status(self, text: str, now: float) -> list[Event]:
        report = parse_status_report(text, self._last_work_offset)
        if report is None:
            return [Unparsed(text)]
        self._last_work_offset = report.work_offset
        self._last_status = report
        if self._status_outstanding_since is not None:
            self._status_outstanding_since = None
            self._status_reports_received += 1
        if self._state is EngineState.HANDSHAKING and (self._banner_seen or not self.reset_on_connect):
            self._transition(EngineState.READY)
            self._start_loaded_program()
        return [report]

    def _on_banner(self, text: str, now: float) -> list[Event]:
        match = _BANNER.match(text)
        if match is None:
            return [Unparsed(text)]
        events: list[Event] = [Started("Grbl", match.group(1))]
        if self._in_flight and self._in_flight[0].leaves_check_mode:
            # The reset can overtake the "$C" ok: count the banner as its answer.
            events += self._on_ok("ok", now)
            self._stray_ok_allowed += 1
        self._clear_in_flight()  # a reset empties GRBL's receive buffer
        self._status_outstanding_since = None
        if self._state is EngineState.HANDSHAKING:
            # Not READY yet: opening a port can reboot the controller (DTR) while our soft reset is on the
            # wire, giving two banners. A status report, asked for after the banner, comes after both.
            self._banner_seen = True
            self._last_status_poll = None
        elif self._expected_resets:
            self._expected_resets -= 1
        elif self._state in JOB_ACTIVE_STATES:
            events += self._fail("controller reset unexpectedly")
        return events

    def _on_feedback_message(self, text: str, now: float) -> list[Event]:
        return [Message(text[5:-1] if text.endswith("]") else text[5:])]

    def _on_parser_state(self, text: str, now: float) -> list[Event]:
        return [ParserState(text[4:].rstrip("]"))]

    def _on_probe(self, text: str, now: float) -> list[Event]:
        body = text[5:].rstrip("]")
        position, _, flag = body.rpartition(":")
        try:
            return [ProbeResult(tuple(float(v) for v in position.split(",")), flag == "1")]
        except ValueError:
            return [Unparsed(text)]

    def _on_bracketed(self, text: str, now: float) -> list[Event]:
        return [Message(text[1:].rstrip("]"))]

    def _on_echoed_setting(self, text: str, now: float) -> list[Event]:
        return [Message(text)]

    # ------------------------------------------------------------------ helpers
    def _retire_oldest(self) -> _Sent:
        sent = self._in_flight.popleft()
        self._bytes_in_flight -= sent.item.size
        if sent.in_stream:
            self._stream_answered += 1
            if sent.item.program_index is not None:
                self._lines_answered += 1
        return sent

    def _clear_in_flight(self) -> None:
        self._in_flight.clear()
        self._bytes_in_flight = 0

    def _unexpected_answer(self, text: str) -> list[Event]:
        if self._stray_ok_allowed and text.lower() == "ok":
            self._stray_ok_allowed -= 1
            return []
        if self._state in TERMINAL_STATES or self._state is EngineState.HANDSHAKING:
            return []  # buffers were flushed by a reset; late answers are expected
        return [ProtocolViolation(f"{text!r} received with no line in flight")]
