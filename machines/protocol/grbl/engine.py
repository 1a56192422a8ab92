"""GRBL 1.1 host-side protocol engine (also grblHAL and FluidNC in GRBL mode).

Streaming uses GRBL's character-counting protocol: the host knows how many bytes
GRBL's serial receive buffer holds, keeps the byte count of every line written but
not yet answered, and writes the next line only if it still fits.  Each
``ok``/``error:N`` answers the oldest line.  Lines that write EEPROM or are ``$``
system commands are sent alone (send-response) because GRBL may block its serial
handling while writing EEPROM.

Connecting: soft reset, wait for the banner, then ask ``$I`` (build info: version,
planner blocks, RX buffer size) and ``$$`` (settings) one at a time, then one status
report read with nothing of ours in GRBL's buffer (its ``Bf:`` field, if enabled, is
the buffer's exact capacity).  The settings go to ``settings_check`` before READY.

Every line is sent as GRBL would read it: without spaces or comments, upper-cased
(GRBL's protocol loop drops exactly those before parsing, so this changes nothing
but the byte count, which is what limits a stream).

Real-time bytes (``?``, ``!``, ``~``, 0x18, overrides) are picked off by GRBL before
they reach the line buffer, so they are never counted.  ``?`` is asked every
``status_interval`` in every connected state, so a live controller is never silent
for long; ``link_timeout`` seconds of silence mean the link is gone.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from machines.protocol.base import (
    JOB_ACTIVE_STATES,
    TERMINAL_STATES,
    EngineState,
    MachineFacts,
    ProtocolEngine,
    ProtocolStateError,
    UnsupportedCommand,
)
from machines.protocol.events import (
    Acknowledged,
    Alarm,
    BuildInfo,
    ConnectionLost,
    ControllerSettings,
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
from machines.protocol.grbl.settings import settings_mismatch, settings_warnings
from machines.protocol.grbl.wire import (
    ALARM_CODE,
    BANNER,
    FALLBACK_RX_BUFFER,
    FEED_OVERRIDE,
    HOMING_LINE,
    RAPID_OVERRIDES,
    RT_CYCLE_START,
    RT_FEED_HOLD,
    RT_JOG_CANCEL,
    RT_SOFT_RESET,
    RT_STATUS,
    SPINDLE_OVERRIDE,
    STILL_STATES,
    is_sync_command,
    override_bytes,
    parse_build_options,
    parse_setting_line,
    parse_status_report,
    usable_rx_bytes,
    wire_text,
)

#: The questions asked while connecting, in order (each one alone in GRBL's buffer).
HANDSHAKE_QUERIES = ("$I", "$$")

SettingsCheck = Callable[[Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class _StreamItem:
    """A line of the stream: a program line, or a wrapper such as dry-run's ``$C``.

    ``text`` is the wire text (see :func:`wire_text`); an empty one is answered by the engine itself.
    """

    text: str
    program_index: int | None
    source_line: int | None
    sync: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sync", bool(self.text) and is_sync_command(self.text))

    @property
    def size(self) -> int:
        return len(self.text) + 1 if self.text else 0  # the "\n"; nothing at all for a local line

    @property
    def local(self) -> bool:
        """Nothing to send (a comment-only line): acknowledged by the engine in its turn."""
        return not self.text


@dataclass(frozen=True)
class _Sent:
    """A line occupying GRBL's receive buffer until its ok/error."""

    item: _StreamItem
    in_stream: bool  # False for manual commands (unlock, home, ...) and handshake queries
    leaves_check_mode: bool  # "$C" while in check mode: GRBL soft-resets afterwards
    query: bool = False  # one of HANDSHAKE_QUERIES


# Lower-case line prefix -> handler, in matching order.
_LINE_HANDLERS = {
    "ok": "_on_ok",
    "error:": "_on_error",
    "alarm:": "_on_alarm",
    "<": "_on_status",
    "[msg:": "_on_feedback_message",
    "[gc:": "_on_parser_state",
    "[prb:": "_on_probe",
    "[ver:": "_on_version",
    "[opt:": "_on_options",
    "[": "_on_bracketed",
    "grbl": "_on_banner",
    "$": "_on_echoed_setting",
    ">": "_on_echoed_setting",  # startup blocks: ">G54:ok"
}


# GRBL's work offsets G54..G59 are slots P1..P6 of ``G10 L2``.
WCS_NUMBERS = {f"G5{4 + n}": n + 1 for n in range(6)}

_ACTIVITY = {
    EngineState.HANDSHAKING: "connecting",
    EngineState.READY: "idle",
    EngineState.STREAMING: "streaming",
    EngineState.PAUSED: "paused",
    EngineState.COMPLETE: "waiting for the last moves to finish",
    EngineState.STOPPED: "cancelling",
}


class GrblEngine(ProtocolEngine):
    """Sans-I/O host side of the GRBL 1.1 serial protocol.

    Parameters (keyword-only):
        rx_buffer_size: bytes of GRBL's receive buffer to count against; None (default) learns it while
            connecting (see ``usable_rx_bytes``), an int forces it.
        settings_check: called once per connection with the ``$$`` settings (an empty mapping if the
            controller did not list them); a returned reason FAILS the engine before any program byte
            is written: "controller settings do not match the machine record: <reason>".
        status_interval: seconds between ``?`` queries (0.2 s = the wiki's 5 Hz ceiling).
        status_timeout: a ``?`` unanswered this long is presumed lost and may be re-sent.
        stop_on_error: an ``error:N`` during a job fails the job.
        dry_run: wrap the program in ``$C`` ... ``$C`` (GRBL check mode).
        reset_on_connect: handshake with a soft reset (wait for the banner) rather
            than just a ``?`` (wait for a status report).
        handshake_timeout: FAILED if the controller does not identify itself (banner, or the first
            status report without a reset) this long after ``handshake()``.
        query_timeout: how long each handshake question (``$I``, ``$$``) may go unanswered before the
            engine carries on without it (some forks ignore them).
        link_timeout: once the controller has said anything, this long without a single byte from it
            in any connected state means the link is gone: ``ConnectionLost`` then ``Halted``
            ("connection lost: ..."). Status polls keep a live controller talking.
        homing_timeout: stock GRBL 1.1 answers no ``?`` while its homing cycle moves (limits.c: "No
            time to run protocol_execute_realtime() in this loop"), so during ``$H`` silence is allowed
            this long, unless the controller has already answered ``?`` during this homing cycle
            (grblHAL, FluidNC), which puts it back under ``link_timeout``.
        hold_timeout: after cancel, soft-reset anyway if the feed hold has not
            completed (``Hold:0``) within this many seconds.
    """

    firmware = "grbl"
    supports_dry_run = True
    #: The machine's record, when built by :meth:`for_machine` (its warnings need it).
    _facts: MachineFacts | None = None
    maintenance_commands = frozenset({"unlock", "home"})
    override_kinds = frozenset({"feed", "spindle", "rapid"})

    def __init__(
        self,
        *,
        rx_buffer_size: int | None = None,
        settings_check: SettingsCheck | None = None,
        status_interval: float = 0.2,
        status_timeout: float = 1.0,
        stop_on_error: bool = True,
        dry_run: bool = False,
        reset_on_connect: bool = True,
        handshake_timeout: float = 5.0,
        query_timeout: float = 2.0,
        link_timeout: float = 2.0,
        homing_timeout: float = 120.0,
        hold_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if rx_buffer_size is not None and rx_buffer_size < 2:
            raise ValueError("rx_buffer_size must allow at least one character and a newline")
        self._forced_rx = rx_buffer_size
        self.settings_check = settings_check
        self.status_interval = status_interval
        self.status_timeout = status_timeout
        self.stop_on_error = stop_on_error
        self.dry_run = dry_run
        self.reset_on_connect = reset_on_connect
        self.handshake_timeout = handshake_timeout
        self.query_timeout = query_timeout
        self.link_timeout = link_timeout
        self.homing_timeout = homing_timeout
        self.hold_timeout = hold_timeout

        self._stream: list[_StreamItem] = []
        self._cursor = 0
        self._stream_answered = 0
        self._in_flight: deque[_Sent] = deque()
        self._bytes_in_flight = 0
        self._sync_in_flight = 0
        self._check_mode = False
        self._expected_resets = 0
        self._stray_ok_allowed = 0
        self._inert = False  # after emergency_stop: the engine writes nothing more

        # What the controller said about itself while connecting.
        self._learned_rx: int | None = None
        self._planner_blocks: int | None = None
        self._build_info: BuildInfo | None = None
        self._settings: dict[str, str] = {}
        self._opt: tuple[str, int | None, int | None] | None = None
        self._version: str | None = None
        self._listed: dict[str, str] = {}  # "$n=v" lines of the $$ in flight
        self._queries: deque[str] = deque()
        self._query_sent_at: float | None = None
        self._queries_done = False

        self._handshake_started: float | None = None
        self._identified = False  # banner seen (or, without a reset, a first status report)
        self._last_rx: float | None = None  # any byte at all, since handshake()
        self._link_origin: float | None = None  # silence is counted from max(_last_rx, this)
        self._last_poll_call: float | None = None
        self._link_lost = False
        self._homing_reported = False  # a "Home" status report arrived during the $H in flight
        self._last_status_poll: float | None = None
        self._status_outstanding_since: float | None = None
        self._status_polls_sent = 0
        self._status_reports_received = 0  # answered or presumed lost: keeps polls and reports paired
        self._last_report_number = 0  # _status_reports_received when a report last really arrived
        self._last_work_offset: tuple[float, ...] | None = None
        self._last_status: StatusReport | None = None

        self._realtime_out = bytearray()  # real-time bytes poll() must write next
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
    def rx_buffer_size(self) -> int:
        """The receive-buffer bytes character counting uses: forced, learned, or ``FALLBACK_RX_BUFFER``."""
        if self._forced_rx is not None:
            return self._forced_rx
        return self._learned_rx if self._learned_rx is not None else FALLBACK_RX_BUFFER

    @property
    def planner_blocks(self) -> int | None:
        """Planner blocks the controller reported (``[OPT:..]`` or ``Bf:`` at rest), or None."""
        return self._planner_blocks

    @property
    def build_info(self) -> BuildInfo | None:
        """The controller's ``$I`` answer, or None until (or unless) it gave one."""
        return self._build_info

    @property
    def settings(self) -> Mapping[str, str]:
        """The controller's ``$$`` settings (``{"130": "200.000"}``); empty until (or unless) listed."""
        return MappingProxyType(self._settings)

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
    def for_machine(cls, facts: MachineFacts) -> GrblEngine:
        """Refuse to stream if ``$$`` contradicts the machine's record (travel, units)."""
        engine = cls(settings_check=functools.partial(settings_mismatch, facts=facts))
        engine._facts = facts
        return engine

    def controller_report(self) -> dict:
        """Build, learned buffers, ``$$`` settings and what they mean, for the machine's page."""
        build = self.build_info
        return {
            "version": f"Grbl {build.version}" if build else "",
            "options": build.options if build else "",
            "rx_buffer": self.rx_buffer_size,
            "planner_blocks": self.planner_blocks,
            "settings": dict(self.settings),
            "warnings": settings_warnings(self.settings, facts=self._facts),
        }

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
        """Soft reset (default) or a status query; then ``$I``, ``$$`` and a status report; READY."""
        self._transition(EngineState.HANDSHAKING)
        self._handshake_started = now
        self._identified = False
        self._last_rx = None
        self._link_origin = now
        if self.reset_on_connect:
            return RT_SOFT_RESET
        self._record_status_poll(now)
        return RT_STATUS

    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        """Queue a program; raises ValueError for a line that can never fit GRBL's buffer."""
        for source_line, text in lines:
            if len(wire_text(text)) + 1 > self.rx_buffer_size:
                raise ValueError(f"source line {source_line} is longer than GRBL's rx buffer")
        self._store_program(lines)

    def _reset_program_cursor(self) -> None:
        items = [_StreamItem(wire_text(line.text), line.index, line.source_line) for line in self._program]
        if self.dry_run:
            items = [_StreamItem("$C", None, None), *items, _StreamItem("$C", None, None)]
        self._stream = items
        self._cursor = 0
        self._stream_answered = 0

    def _complete_if_done(self) -> list[Event]:
        if self._stream_answered < len(self._stream):
            return []
        return super()._complete_if_done()

    # ------------------------------------------------------------------ the connect questions
    def _identify(self) -> None:
        """The controller is there: ask the handshake questions again from the start."""
        self._identified = True
        self._queries = deque(HANDSHAKE_QUERIES)
        self._query_sent_at = None
        self._queries_done = False
        self._opt = self._version = None
        self._listed = {}

    def _next_query(self, now: float) -> bytes:
        if not self._queries or self._in_flight:
            return b""
        item = _StreamItem(self._queries.popleft(), None, None)
        self._query_sent_at = now
        return self._transmit(item, in_stream=False, now=now, query=True)

    def _query_answered(self, sent: _Sent, answered: bool) -> list[Event]:
        """The ``$I`` or ``$$`` in flight got its ok (``answered``), an error, or timed out."""
        self._query_sent_at = None
        if sent.item.text == "$I":
            return self._took_build_info()
        settings = self._listed if answered else {}
        self._listed = {}
        return self._took_settings(settings)

    def _took_build_info(self) -> list[Event]:
        if self._version is None and self._opt is None:
            return []
        letters, planner, rx = self._opt or ("", None, None)
        self._build_info = BuildInfo(self._version or "", letters, planner, rx)
        self._planner_blocks = planner
        return [self._build_info]

    def _took_settings(self, settings: dict[str, str]) -> list[Event]:
        """Record the settings, let ``settings_check`` judge them, then ask for the closing status report."""
        self._settings = dict(settings)
        self._queries_done = True
        events: list[Event] = [ControllerSettings(dict(settings))]
        reason = self.settings_check(self.settings) if self.settings_check is not None else None
        if reason:
            return events + self._fail(f"controller settings do not match the machine record: {reason}")
        if self._status_outstanding_since is None:
            self._last_status_poll = None  # ask at once: READY waits for this report
        return events

    def _query_in_flight(self) -> _Sent | None:
        return self._in_flight[0] if self._in_flight and self._in_flight[0].query else None

    def _finish_handshake(self, report: StatusReport) -> list[Event]:
        """The status report that closes the handshake: learn ``Bf:`` from it and become READY."""
        if report.rx_free is not None:
            # Nothing of ours is in GRBL's buffer (see the buffer-size notes above this class).
            opt_rx = self._build_info.rx_buffer if self._build_info else None
            self._learned_rx = usable_rx_bytes(opt_rx, report.rx_free)
            if self._planner_blocks is None:
                self._planner_blocks = report.planner_free
        elif self._build_info is not None and self._build_info.rx_buffer is not None:
            self._learned_rx = usable_rx_bytes(self._build_info.rx_buffer, None)
        too_long = next((item for item in self._stream if item.size > self.rx_buffer_size), None)
        if too_long is not None:
            line, size = too_long.source_line, self.rx_buffer_size
            return self._fail(f"source line {line} is longer than the controller's {size}-byte rx buffer")
        self._transition(EngineState.READY)
        self._start_loaded_program()
        return []

    # ------------------------------------------------------------------ sending
    def data_to_send(self, now: float) -> bytes:
        """The next handshake question, or the next program lines that fit GRBL's receive buffer."""
        if self._inert:
            return b""
        if self._state is EngineState.HANDSHAKING:
            return self._next_query(now)
        if self._state is not EngineState.STREAMING:
            return b""
        out = bytearray()
        while self._cursor < len(self._stream) and self._fits(self._stream[self._cursor]):
            item = self._stream[self._cursor]
            self._cursor += 1
            out += self._transmit(item, in_stream=True, now=now)
        local = self._answer_local_lines()
        if local:
            self._defer(local + self._complete_if_done())
        return bytes(out)

    def _fits(self, item: _StreamItem) -> bool:
        if item.local:
            return True  # takes no room; answered in its turn
        if self._sync_in_flight:
            return False  # nothing follows a settings write until it is answered
        if item.sync and self._bytes_in_flight:
            return False
        return self._bytes_in_flight + item.size <= self.rx_buffer_size

    def _transmit(self, item: _StreamItem, *, in_stream: bool, now: float, query: bool = False) -> bytes:
        leaves_check_mode = item.text == "$C" and self._check_mode
        if HOMING_LINE.match(item.text):
            self._homing_reported = False
        self._in_flight.append(_Sent(item, in_stream, leaves_check_mode, query))
        self._bytes_in_flight += item.size
        self._sync_in_flight += item.sync
        if item.program_index is not None:
            self._lines_sent += 1
        return item.text.encode("ascii") + b"\n" if item.text else b""

    def command(self, text: str, now: float = 0.0) -> bytes:
        """Bytes for one out-of-program command (jog, ``$$``...), sent send-response style.

        Only while no program streams and nothing is in flight; its ok/error is
        consumed like any other line.
        """
        self._require({EngineState.READY, EngineState.COMPLETE}, "send a command")
        if self._in_flight:
            raise ProtocolStateError("wait for the previous command's answer first")
        item = _StreamItem(wire_text(text), None, None)
        if item.local:
            raise ValueError("nothing to send once comments and spaces are removed")
        if item.size > self.rx_buffer_size:
            raise ValueError("command longer than GRBL's rx buffer")
        return self._transmit(item, in_stream=False, now=now)

    def unlock(self, now: float = 0.0) -> bytes:
        """``$X``: clear an alarm lock."""
        return self.command("$X", now)

    def home(self, now: float = 0.0) -> bytes:
        """``$H``: run the homing cycle (``homing_timeout`` bounds its silence, see the class docstring)."""
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
        """Same as cancel's motion handling: hold, then soft reset when motion stopped.

        With the link lost there is no hold to watch: hold and reset at once, nothing left to drain.
        """
        if self._inert:
            return b""
        if self._link_lost:
            return RT_FEED_HOLD + RT_SOFT_RESET
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
        match = ALARM_CODE.search(text)
        return f"Alarm {match.group(1)}: {alarm_message(int(match.group(1)))}" if match else None

    # ------------------------------------------------------------------ periodic work
    def poll(self, now: float) -> bytes:
        """Status queries (one outstanding, at most every ``status_interval``) and the deferred soft
        reset of cancel. Timeouts are judged in ``receive_data``, after what the port held was read."""
        if self._inert or self._state is EngineState.IDLE:
            return b""
        self._note_poll_call(now)
        out = bytearray(self._realtime_out)
        self._realtime_out.clear()
        out += self._due_soft_reset(now)
        if self._status_query_due(now):
            self._record_status_poll(now)
            out += RT_STATUS
        return bytes(out)

    def _note_poll_call(self, now: float) -> None:
        """A host that stopped calling ``poll()`` stopped asking: that silence is not the controller's."""
        if self._last_poll_call is not None and now - self._last_poll_call > self.link_timeout / 2:
            self._link_origin = now
        self._last_poll_call = now

    def next_deadline(self, now: float) -> float | None:
        if self._inert or self._state is EngineState.IDLE:
            return None
        if self._realtime_out or (self._reset_after_hold and self._hold_started is None):
            return now
        deadlines = [
            self._next_status_time(),
            self._identify_deadline(),
            self._query_deadline(),
            self._link_deadline(),
        ]
        if self._reset_after_hold and self._hold_started is not None:
            deadlines.append(self._hold_started + self.hold_timeout)
        known = [deadline for deadline in deadlines if deadline is not None]
        return min(known) if known else None

    def _polling_active(self) -> bool:
        """After a reset, status polls wait for the controller's first byte (its banner, usually)."""
        waiting_for_reset = self._state is EngineState.HANDSHAKING and self.reset_on_connect
        return not (waiting_for_reset and not self._identified and self._last_rx is None)

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
        # Only a report that really arrived, answering a poll sent after the hold, says motion stopped:
        # a poll presumed lost must not make the last report (from before the hold) look fresh.
        fresh = self._last_report_number > self._hold_poll_mark
        return fresh and self._last_status is not None and self._last_status.state in STILL_STATES

    # ------------------------------------------------------------------ timeouts
    def _identify_deadline(self) -> float | None:
        if self._state is not EngineState.HANDSHAKING or self._identified or self._handshake_started is None:
            return None
        return self._handshake_started + self.handshake_timeout

    def _query_deadline(self) -> float | None:
        if self._query_in_flight() is None or self._query_sent_at is None:
            return None
        return self._query_sent_at + self.query_timeout

    def _homing_in_flight(self) -> bool:
        return any(HOMING_LINE.match(sent.item.text) for sent in self._in_flight)

    def _link_monitored(self) -> bool:
        """Connected and owed traffic: every state but before the first byte, terminal or inert."""
        if self._inert or self._link_lost or self._last_rx is None:
            return False
        if self._state is EngineState.STOPPED:
            return self._reset_after_hold  # a cancel still draining
        return self._state in _ACTIVITY

    def _link_deadline(self) -> float | None:
        if not self._link_monitored():
            return None
        origin = max(self._last_rx, self._link_origin or self._last_rx)
        if self._homing_in_flight() and not self._homing_reported:
            return origin + self.homing_timeout
        return origin + self.link_timeout

    def _check_timeouts(self, now: float) -> list[Event]:
        """Timeouts due at ``now``; called after the data read at ``now`` was taken in."""
        identify = self._identify_deadline()
        if identify is not None and now >= identify:
            return self._fail("GRBL did not identify itself after connecting")
        link = self._link_deadline()
        if link is not None and now >= link:
            return self._lose_link(now)
        query = self._query_deadline()
        if query is not None and now >= query:
            # Some forks ignore $I or $$: carry on without the answer, and swallow it if it comes late.
            self._stray_ok_allowed += 1
            return self._query_answered(self._retire_oldest(), answered=False)
        return []

    def _lose_link(self, now: float) -> list[Event]:
        """Nothing received for ``link_timeout``: ConnectionLost, then Halted (FAILED) if a job can fail."""
        assert self._last_rx is not None
        activity = "homing" if self._homing_in_flight() else _ACTIVITY[self._state]
        silent_for = now - self._last_rx
        detail = f"no answer from the controller for {silent_for:.1f} s while {activity}"
        self._link_lost = True
        self._reset_after_hold = False  # no hold to wait for on a dead link
        events: list[Event] = [ConnectionLost(silent_for, detail)]
        return events + self._fail(f"connection lost: {detail}")

    # ------------------------------------------------------------------ receiving
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Take in ``data`` (any byte proves the link alive), then judge the timeouts due at ``now``."""
        if data:
            self._last_rx = now
        events = super().receive_data(data, now)
        return events + self._check_timeouts(now)

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
        if sent.item.text == "$C":
            self._check_mode = not self._check_mode
            if sent.leaves_check_mode:
                self._expected_resets += 1
        if sent.query:
            events += self._query_answered(sent, answered=True)
        if sent.item.program_index is not None:
            events.append(self._acknowledge(sent))
        return events + self._answer_local_lines() + self._complete_if_done()

    def _acknowledge(self, sent: _Sent) -> Acknowledged:
        self._lines_acknowledged += 1
        assert sent.item.program_index is not None and sent.item.source_line is not None
        return Acknowledged(sent.item.program_index, sent.item.source_line)

    def _answer_local_lines(self) -> list[Event]:
        """Acknowledge the comment-only lines now at the head of the queue (nothing was sent for them)."""
        events: list[Event] = []
        while self._in_flight and self._in_flight[0].item.local:
            events.append(self._acknowledge(self._retire_oldest()))
        return events

    def _on_error(self, text: str, now: float) -> list[Event]:
        detail = text.split(":", 1)[1].strip()
        code = int(detail) if detail.isdigit() else None
        message = error_message(code) if code is not None else detail
        self._errors += 1
        if not self._in_flight:
            return [FirmwareError(code, message, None, None), *self._unexpected_answer(text)]
        sent = self._retire_oldest()
        events: list[Event] = [FirmwareError(code, message, sent.item.program_index, sent.item.source_line)]
        if sent.query:
            return events + self._query_answered(sent, answered=False)
        if sent.in_stream and self.stop_on_error and self._state in JOB_ACTIVE_STATES:
            where = f" on source line {sent.item.source_line}" if sent.item.source_line else ""
            return events + self._fail(f"error:{detail}{where}: {message}")
        return events + self._answer_local_lines() + self._complete_if_done()

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
        self._last_report_number = self._status_reports_received
        if report.state.startswith("Home") and self._homing_in_flight():
            self._homing_reported = True  # this controller talks while homing: hold it to link_timeout
        events: list[Event] = [report]
        if self._state is EngineState.HANDSHAKING:
            events += self._handshake_status(report)
        return events

    def _handshake_status(self, report: StatusReport) -> list[Event]:
        if not self._identified:
            if self.reset_on_connect:
                return []  # a report from before our reset's banner says nothing about the buffer
            self._identify()
            return []
        if self._queries_done and not self._in_flight:
            return self._finish_handshake(report)
        return []

    def _on_banner(self, text: str, now: float) -> list[Event]:
        match = BANNER.match(text)
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
            # wire, giving two banners. The questions, asked again after each banner, come after both.
            self._identify()
            self._last_status_poll = None
        elif self._expected_resets:
            self._expected_resets -= 1
        elif self._state in JOB_ACTIVE_STATES:
            events += self._fail("controller reset unexpectedly")
        return events

    def _on_version(self, text: str, now: float) -> list[Event]:
        sent = self._query_in_flight()
        if sent is None or sent.item.text != "$I":
            return self._on_bracketed(text, now)
        body = text[5:].rstrip("]")
        self._version = body.partition(":")[0]  # "1.1h.20190825:<user build string>"
        return []

    def _on_options(self, text: str, now: float) -> list[Event]:
        sent = self._query_in_flight()
        if sent is None or sent.item.text != "$I":
            return self._on_bracketed(text, now)
        self._opt = parse_build_options(text[5:].rstrip("]"))
        return []

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
        sent = self._query_in_flight()
        setting = parse_setting_line(text)
        if sent is not None and sent.item.text == "$$" and setting is not None:
            key, value = setting
            self._listed[key] = value
            return []
        return [Message(text)]

    # ------------------------------------------------------------------ helpers
    def _retire_oldest(self) -> _Sent:
        sent = self._in_flight.popleft()
        self._bytes_in_flight -= sent.item.size
        self._sync_in_flight -= sent.item.sync
        if sent.in_stream:
            self._stream_answered += 1
            if sent.item.program_index is not None:
                self._lines_answered += 1
        return sent

    def _clear_in_flight(self) -> None:
        self._in_flight.clear()
        self._bytes_in_flight = 0
        self._sync_in_flight = 0
        self._query_sent_at = None

    def _unexpected_answer(self, text: str) -> list[Event]:
        if self._stray_ok_allowed and text.lower() == "ok":
            self._stray_ok_allowed -= 1
            return []
        if self._state in TERMINAL_STATES or self._state is EngineState.HANDSHAKING:
            return []  # buffers were flushed by a reset; late answers are expected
        return [ProtocolViolation(f"{text!r} received with no line in flight")]
