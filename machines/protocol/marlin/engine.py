"""Marlin host-side protocol engine (Marlin 1.1/2.x and the family that speaks its line protocol).

Every line the engine writes while connected is numbered and checksummed
(``N<n> <text>*<xor>``), including its own temperature queries and tickles.
Marlin only accepts ``N`` equal to its last accepted number plus one, so numbering
everything gives one strictly ordered stream in which

* each transmission is answered by exactly one ``ok`` (or rejected: an error about the line,
  a ``Resend``, or both, usually followed by an ``ok`` that answers the rejected line),
* a line can never execute twice, and a gap is always reported as a rejection,
* an ``ok T:..`` (the M105 reply) proves every lower-numbered line was
  accepted, which lets the engine resynchronise after a lost ``ok``.

Only ``M112``, ``M108`` and the ``safe_shutdown()`` lines are unnumbered: they must work
when the numbering state is unknown.

Connecting.  ``M110 N0`` alone, then ``M115`` once its ``ok`` came: one line in flight, so a late
``ok`` from an earlier attempt can never be counted for the wrong line.  ``M115``'s answer is the
``ok`` that follows its ``FIRMWARE_NAME`` line; a bare ``ok`` before it is a leftover and ignored.

Rejections (see :mod:`.replies`).  Firmware of this family precedes, follows or replaces ``Resend: N``
with an error about line numbers or checksums, sometimes sends the ``Resend`` late, sometimes only an
``ok``.  The first sign of a rejection (the error or the ``Resend``) rewinds the stream to N at once;
the other parts of the same rejection are recognised and consumed; the ``ok`` that answers the rejected
line never acknowledges anything.  Marlin drains its receive buffer after a bad line, so lines written
after it are dropped or each rejected in turn: those repeats are absorbed (at most one per forgotten
transmission, never after a tickle).

Flow control.  Without ``ADVANCED_OK`` one line is in flight.  With it, the engine learns the
command buffer (BUFSIZE) from the ``B`` field of ``ok N P B`` replies and counts bytes against the
firmware's serial receive buffer: the oldest BUFSIZE lines in flight sit in the command queue, every
later one in the receive buffer, whose bytes must never exceed its size.  Rejected lines keep occupying
that buffer until the first genuine ``ok`` after a resend, so their bytes still count until then.

Liveness.  A firmware that reports temperatures by itself (``M155``) or keeps the host informed while a
command blocks (``busy: processing``, made every second with ``M113 S1``) is never silent for more
than about a second, in any state: idle, printing, paused or heating.  Silence beyond
``link_timeout`` then means the link is gone (:class:`ConnectionLost`).  Separately, a line left
unanswered longer than its allowance (a lost ``ok``) is probed with a numbered ``M105``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from machines.protocol.base import (
    JOB_ACTIVE_STATES,
    TERMINAL_STATES,
    EngineState,
    ProtocolEngine,
)
from machines.protocol.events import (
    Acknowledged,
    Busy,
    Capabilities,
    ConnectionLost,
    Event,
    FirmwareError,
    HostAction,
    Message,
    ProtocolViolation,
    Resending,
    Started,
    Temperatures,
    Unparsed,
)
from machines.protocol.marlin.replies import (
    PromptBuilder,
    classify_error,
    line_rejection,
    parse_host_action,
)

#: Seconds to allow for commands that legitimately block Marlin's queue.
DEFAULT_BLOCKING_TIMEOUTS: dict[str, float] = {
    "M109": 30 * 60.0,  # wait for hotend temperature
    "M190": 30 * 60.0,  # wait for bed temperature
    "M191": 30 * 60.0,  # wait for chamber temperature
    "G28": 5 * 60.0,  # homing
    "G29": 5 * 60.0,  # bed levelling probe grid
    "M400": 5 * 60.0,  # wait for moves to finish
    "M600": 30 * 60.0,  # filament change waits for the user
}

_TEMPERATURE = re.compile(r"(?<![\w@])([TBCPR]\d*):\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_TEMPERATURE_LINE = re.compile(r"^(?:ok\s+)?[TBC]\d*:", re.IGNORECASE)
_ADVANCED_OK = re.compile(r"^N(\d+)\s+P(\d+)\s+B(\d+)")
_RESEND_NUMBER = re.compile(r"^(?:resend:?|rs)\s*N?:?\s*(\d+)", re.IGNORECASE)
_FIRMWARE_NAME = re.compile(r"FIRMWARE_NAME:(.*?)(?:\s+[A-Z_]+:|$)")
_EXTRUDER_COUNT = re.compile(r"EXTRUDER_COUNT:(\d+)")
_COMMAND_WORD = re.compile(r"^([GM])0*(\d+(?:\.\d+)?)", re.IGNORECASE)
_DWELL_ARG = re.compile(r"\b([PS])(\d+(?:\.\d+)?)", re.IGNORECASE)


def checksum(payload: str) -> int:
    """Marlin's checksum: XOR of every byte before the ``*``."""
    value = 0
    for byte in payload.encode("ascii"):
        value ^= byte
    return value


def frame_line(number: int, text: str) -> bytes:
    """``N<number> <text>*<checksum>\\n`` as written to the port."""
    payload = f"N{number} {text}"
    return f"{payload}*{checksum(payload)}\n".encode("ascii")


def parse_temperatures(text: str) -> dict[str, tuple[float, float | None]] | None:
    """Heater readings from an M105 reply or auto-report; None if there are none.

    Single-hotend reports (``T:``) are keyed ``T0``; when ``T0:``/``T1:`` are also
    present the bare ``T:`` (a copy of the active tool) is dropped.  ``@:``/``B@:``
    (heater power) and ``W:`` (M109 countdown) are ignored.
    """
    readings: dict[str, tuple[float, float | None]] = {}
    for name, actual, target in _TEMPERATURE.findall(text):
        readings[name.upper()] = (float(actual), float(target) if target else None)
    if not readings:
        return None
    if "T" in readings:
        bare = readings.pop("T")
        if not any(key[0] == "T" for key in readings):
            readings = {"T0": bare, **readings}
    return readings


def command_timeout(text: str, base: float, blocking: dict[str, float]) -> float:
    """How long ``text`` may keep Marlin silent: ``base`` or its blocking allowance."""
    match = _COMMAND_WORD.match(text)
    if match is None:
        return base
    word = f"{match.group(1).upper()}{match.group(2)}"
    if word == "G4":
        return base + _dwell_seconds(text)
    return max(base, blocking.get(word, 0.0))


def _dwell_seconds(text: str) -> float:
    seconds = 0.0
    for letter, value in _DWELL_ARG.findall(text[2:]):
        seconds += float(value) / 1000.0 if letter.upper() == "P" else float(value)
    return seconds


@dataclass(frozen=True)
class _Numbered:
    """A numbered line: program text or one of the engine's own commands."""

    number: int
    text: str
    timeout: float
    wire: bytes  # the framed line as written
    program_index: int | None = None
    source_line: int | None = None

    @property
    def is_temperature_query(self) -> bool:
        return self.text == "M105"

    @property
    def size(self) -> int:
        """Bytes this line takes on the wire."""
        return len(self.wire)


@dataclass
class _Rejection:
    """One rejected transmission, told by up to three lines (error, ``Resend``, ``ok``) in some order."""

    number: int
    resend_seen: bool
    ok_swallowed: bool = False


# Lower-case line prefix -> handler, in matching order.
_LINE_HANDLERS = {
    "ok": "_on_ok",
    "resend": "_on_resend",
    "rs ": "_on_resend",
    "error:": "_on_error",
    "!!": "_on_fatal",
    "echo:busy:": "_on_busy",
    "busy:": "_on_busy",
    "echo:": "_on_echo",
    "//action:": "_on_host_action",
    "wait": "_on_wait",
    "start": "_on_start",
    "firmware_name:": "_on_firmware_name",
    "cap:": "_on_capability",
}

#: Host actions after which the host must stop feeding lines, and those after which it may go on.
_PAUSING_ACTIONS = frozenset({"pause", "paused", "out_of_filament"})
_RESUMING_ACTIONS = frozenset({"resume", "resumed"})
#: Commands that wait for a heater or a person: M108 (emergency parser) breaks them on cancel.
_WAITING_COMMANDS = frozenset({"M109", "M190", "M191", "M0", "M1", "M600"})


class MarlinEngine(ProtocolEngine):
    """Sans-I/O host side of Marlin's numbered, checksummed serial protocol.

    Parameters (keyword-only):
        rx_buffer_size: the firmware's serial receive buffer in bytes (128 in stock Marlin; a ring
            buffer of N holds N-1). Only used with ``ADVANCED_OK``.
        max_in_flight: a cap on lines in flight whatever the buffers would allow.
        history_size: numbered lines kept for resends.
        max_resends: a line requested more often than this fails the job.
        timeout: how long a line may go unanswered before an ``M105`` probe (extended per command by
            ``blocking_timeouts`` and G4 dwell times; ``busy:`` keep-alives restart it).
        max_tickles: unanswered probes before the job fails.
        link_timeout: silence that means the link is gone, once the firmware is known to talk at
            least every second (auto-reports or keep-alives).
        keepalive_interval: ``M113 S<n>``: seconds between ``busy:`` keep-alives while a command blocks.
        temperature_interval: M105 polling period when the firmware cannot auto-report.
        autoreport_interval: ``M155 S<n>`` period when it can.
        stop_on_error: an error that is neither about a line nor a halt fails the job (default: it is
            reported and the job goes on, as the firmware does).
        ok_follows_resend: the firmware sends ``ok`` after each ``Resend`` (Marlin does).
        handshake_timeout / handshake_attempts: start ``M110``/``M115`` again if unanswered.
    """

    firmware = "marlin"

    def __init__(
        self,
        *,
        rx_buffer_size: int = 128,
        max_in_flight: int = 32,
        history_size: int = 128,
        max_resends: int = 5,
        timeout: float = 5.0,
        max_tickles: int = 3,
        link_timeout: float = 2.0,
        keepalive_interval: int = 1,
        temperature_interval: float = 1.0,
        autoreport_interval: int = 1,
        stop_on_error: bool = False,
        ok_follows_resend: bool = True,
        handshake_timeout: float = 5.0,
        handshake_attempts: int = 3,
        blocking_timeouts: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        if rx_buffer_size < 2 or max_in_flight < 1:
            raise ValueError("the buffers must allow at least one line in flight")
        if history_size < max_in_flight + max_tickles + 2:
            raise ValueError("history_size must exceed max_in_flight plus tickles")
        self.rx_buffer_size = rx_buffer_size
        self.max_in_flight = max_in_flight
        self.history_size = history_size
        self.max_resends = max_resends
        self.timeout = timeout
        self.max_tickles = max_tickles
        self.link_timeout = link_timeout
        self.keepalive_interval = keepalive_interval
        self.temperature_interval = temperature_interval
        self.autoreport_interval = autoreport_interval
        self.stop_on_error = stop_on_error
        self.ok_follows_resend = ok_follows_resend
        self.handshake_timeout = handshake_timeout
        self.handshake_attempts = handshake_attempts
        self.blocking_timeouts = dict(blocking_timeouts or DEFAULT_BLOCKING_TIMEOUTS)
        self._init_numbering()
        self._init_connection()

    def _init_numbering(self) -> None:
        self._history: dict[int, _Numbered] = {}
        self._next_number = 0  # number the next new line gets
        self._send_cursor = 0  # next number to (re)transmit; < _next_number while resending
        self._highest_transmitted = -1
        self._highest_acked = -1
        self._in_flight: deque[int] = deque()
        self._control_queue: deque[str] = deque()  # engine commands waiting for a number
        self._program_cursor = 0
        self._resend_counts: dict[int, int] = {}
        self._duplicate_budget = 0
        self._duplicate_line: int | None = None
        self._rejection: _Rejection | None = None
        self._oks_to_swallow = 0
        self._ghost_bytes = 0  # rejected lines still in the firmware's receive buffer
        self._inert = False

    def _init_connection(self) -> None:
        self._firmware_name = ""
        self._identified = False  # FIRMWARE_NAME seen since M115 was written
        self._caps: dict[str, bool] = {}
        self._extruder_count = 1
        self._bufsize: int | None = None  # learned from ADVANCED_OK's B
        self._handshake_started: float | None = None
        self._handshake_tries = 0
        self._autoreport = False
        self._keepalive_seen = False
        self._next_temperature_poll: float | None = None
        self._temperature_query_waiting = False  # queued or in flight
        self._waiting_since: float | None = None  # the oldest line in flight waits since then
        self._last_rx: float | None = None
        self._tickles = 0
        self._host_lines: dict[str, int] = {}
        self._prompt = PromptBuilder()
        self._paused_by_firmware = False

    # ------------------------------------------------------------------ properties
    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def bytes_in_flight(self) -> int:
        """Bytes of unanswered lines, plus rejected ones the firmware may still hold."""
        return self._ghost_bytes + sum(self._history[n].size for n in self._in_flight if n in self._history)

    @property
    def current_window(self) -> int:
        """Command-buffer lines the engine counts on (1 until ``ADVANCED_OK`` taught it BUFSIZE)."""
        return self._bufsize if self._advanced_ok else 1

    @property
    def capabilities(self) -> dict[str, bool]:
        return dict(self._caps)

    @property
    def autoreporting(self) -> bool:
        """True when temperatures come from ``M155`` auto-reports rather than polling."""
        return self._autoreport

    @property
    def host_lines(self) -> dict[str, int]:
        """The lines the engine added to the program's, with how often each was sent (resends excluded)."""
        return dict(self._host_lines)

    @property
    def _advanced_ok(self) -> bool:
        return bool(self._caps.get("ADVANCED_OK")) and self._bufsize is not None

    def controller_report(self) -> dict:
        """What the printer said about itself at connect, and what that means for the people using it."""
        warnings = []
        if not self._caps.get("EMERGENCY_PARSER"):
            warnings.append(
                "The firmware has no EMERGENCY_PARSER: an E-STOP (M112) is read only after the command "
                "the printer is busy with (a heat-up or homing can take minutes). Use the printer's own "
                "stop button or power switch for an immediate stop."
            )
        return {
            "firmware_name": self._firmware_name,
            "capabilities": dict(self._caps),
            "command_buffer": self._bufsize,
            "rx_buffer": self.rx_buffer_size,
            "warnings": warnings,
        }

    # ------------------------------------------------------------------ connect & load
    def handshake(self, now: float) -> bytes:
        """``N0 M110 N0`` (reset numbering); ``N1 M115`` follows once it is answered."""
        self._transition(EngineState.HANDSHAKING)
        self._handshake_tries = 1
        self._queue_handshake(now)
        return self._fill_window(now, program_allowed=False)

    def _queue_handshake(self, now: float) -> None:
        """Forget all numbering state and number M110 as line 0 (M115 becomes line 1 later)."""
        self._history.clear()
        self._in_flight.clear()
        self._control_queue.clear()
        self._next_number = self._send_cursor = 0
        self._highest_transmitted = self._highest_acked = -1
        self._resend_counts.clear()
        self._duplicate_budget = self._oks_to_swallow = self._ghost_bytes = 0
        self._rejection = None
        self._handshake_started = now
        self._identified = False
        # Marlin takes the number of an M110 line from its argument, so this sets
        # "last line" to 0 whatever the firmware believed before; next is N1.
        self._allocate("M110 N0")

    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        self._store_program(lines)

    def _reset_program_cursor(self) -> None:
        self._program_cursor = 0

    # ------------------------------------------------------------------ sending
    def data_to_send(self, now: float) -> bytes:
        """Resends, queued engine commands, then program lines, while flow control allows."""
        return self._fill_window(now, program_allowed=True)

    def poll(self, now: float) -> bytes:
        """Handshake retries, link and response timeouts, and temperature polls."""
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return b""
        if self._state is EngineState.HANDSHAKING:
            self._retry_handshake_if_due(now)
        elif self._link_lost(now):
            return b""
        out = self._tickle_if_unanswered(now)
        return out + self._fill_window(now, program_allowed=False)

    def next_deadline(self, now: float) -> float | None:
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return None
        deadlines = []
        if self._state is EngineState.HANDSHAKING and self._handshake_started is not None:
            deadlines.append(self._handshake_started + self.handshake_timeout)
        for deadline in (self._response_deadline(), self._link_deadline()):
            if deadline is not None:
                deadlines.append(deadline)
        if self._temperature_poll_enabled():
            deadlines.append(self._next_temperature_poll or now)
        if self._control_queue and self._room_for(None):
            deadlines.append(now)
        return min(deadlines) if deadlines else None

    def _fill_window(self, now: float, *, program_allowed: bool) -> bytes:
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return b""
        self._queue_temperature_poll_if_due(now)
        out = bytearray()
        while True:
            entry = self._peek_entry(program_allowed)
            if entry is None or not self._room_for(entry):
                break
            out += self._transmit(self._take_entry(entry), now)
        return bytes(out)

    def _room_for(self, entry: _Numbered | str | None) -> bool:
        """Whether one more line fits what the firmware can hold (see the module docstring)."""
        if not self._in_flight:
            return True  # one line always fits; a firmware that cannot take it is broken anyway
        if len(self._in_flight) >= (self.max_in_flight if self._advanced_ok else 1):
            return False
        if not self._advanced_ok:
            return False
        size = entry.size if isinstance(entry, _Numbered) else 24  # an engine command, framed
        queued = self._bufsize or 1
        waiting = [self._history[n].size for n in list(self._in_flight)[queued:] if n in self._history]
        if len(self._in_flight) >= queued:
            waiting.append(size)
        return self._ghost_bytes + sum(waiting) <= self.rx_buffer_size - 1

    def _peek_entry(self, program_allowed: bool) -> _Numbered | str | None:
        """The next line in number order (a resend, an engine command or program text), not yet taken."""
        if self._send_cursor < self._next_number:
            entry = self._history[self._send_cursor]
            if entry.program_index is not None and not program_allowed:
                return None
            return entry
        if self._state is EngineState.HANDSHAKING:
            return None
        if self._control_queue:
            return self._control_queue[0]
        streaming = program_allowed and self._state is EngineState.STREAMING
        if streaming and self._program_cursor < len(self._program):
            line = self._program[self._program_cursor]
            return self._framed(self._next_number, line.text, line.index, line.source_line)
        return None

    def _take_entry(self, peeked: _Numbered | str) -> _Numbered:
        """Make the peeked line the next one: allocate its number unless it is a resend."""
        if isinstance(peeked, str):
            self._control_queue.popleft()
            return self._allocate(peeked)
        if peeked.number < self._next_number:
            return peeked  # a resend
        self._program_cursor += 1
        return self._store(peeked)

    def _framed(
        self, number: int, text: str, program_index: int | None = None, source_line: int | None = None
    ) -> _Numbered:
        timeout = command_timeout(text, self.timeout, self.blocking_timeouts)
        return _Numbered(number, text, timeout, frame_line(number, text), program_index, source_line)

    def _allocate(self, text: str) -> _Numbered:
        """Number one of the engine's own commands and remember that the host added it."""
        self._host_lines[text] = self._host_lines.get(text, 0) + 1
        return self._store(self._framed(self._next_number, text))

    def _store(self, entry: _Numbered) -> _Numbered:
        self._history[entry.number] = entry
        self._next_number += 1
        while len(self._history) > self.history_size:
            del self._history[next(iter(self._history))]
        return entry

    def _transmit(self, entry: _Numbered, now: float) -> bytes:
        if not self._in_flight:
            # Time without a line in flight says nothing about this line.
            self._waiting_since = now
        self._in_flight.append(entry.number)
        if entry.number == self._send_cursor:
            self._send_cursor += 1
        if entry.number <= self._highest_transmitted:
            self._resends += 1
        else:
            self._highest_transmitted = entry.number
            if entry.program_index is not None:
                self._lines_sent += 1
        return entry.wire

    # ------------------------------------------------------------------ temperatures
    def _temperature_poll_enabled(self) -> bool:
        return (
            not self._autoreport
            and not self._temperature_query_waiting
            and self._state in {EngineState.READY, *JOB_ACTIVE_STATES, EngineState.COMPLETE}
        )

    def _queue_temperature_poll_if_due(self, now: float) -> None:
        if not self._temperature_poll_enabled():
            return
        if self._next_temperature_poll is None or now >= self._next_temperature_poll:
            self._control_queue.append("M105")
            self._temperature_query_waiting = True
            self._next_temperature_poll = now + self.temperature_interval

    # ------------------------------------------------------------------ timeouts
    def _response_deadline(self) -> float | None:
        """When the oldest line in flight has waited too long for its answer (a lost ``ok``?)."""
        if not self._in_flight or self._waiting_since is None:
            return None
        if self._state is EngineState.HANDSHAKING:
            return None  # the handshake has its own retry timer
        allowances = [self._history[n].timeout for n in self._in_flight if n in self._history]
        return self._waiting_since + max(allowances, default=self.timeout)

    def _talks_every_second(self) -> bool:
        """Whether silence can be trusted: the firmware reports by itself, or nothing blocks it."""
        if self._autoreport or self._keepalive_seen:
            return True
        blocking = any(self._history[n].timeout > self.timeout for n in self._in_flight if n in self._history)
        return not blocking and not any(
            self._history[n].program_index is not None for n in self._in_flight if n in self._history
        )

    def _link_deadline(self) -> float | None:
        if self._last_rx is None or self._state in (EngineState.IDLE, EngineState.HANDSHAKING):
            return None
        if not self._talks_every_second():
            return None  # the response timeout and its probes decide
        return self._last_rx + self.link_timeout

    def _link_lost(self, now: float) -> bool:
        """Fail the job with ConnectionLost once the printer has been silent too long; True if it did."""
        deadline = self._link_deadline()
        if deadline is None or now < deadline:
            return False
        silent = now - (self._last_rx or now)
        detail = f"no word from the printer for {silent:.1f} s"
        self._defer([ConnectionLost(silent, detail), *self._fail(f"connection lost: {detail}")])
        return True

    def _tickle_if_unanswered(self, now: float) -> bytes:
        """After a line waited too long, write a numbered M105.

        If a line was lost Marlin answers with a rejection for it; if only its ``ok``
        was lost the ``ok T:`` reply resynchronises the ok accounting.  Either way
        no program line is skipped or duplicated.
        """
        deadline = self._response_deadline()
        if deadline is None or now < deadline:
            return b""
        if self._tickles >= self.max_tickles:
            waited = now - (self._waiting_since or now)
            reason = f"printer did not answer for {waited:.0f} s despite {self._tickles} M105 probes"
            self._defer(self._fail(reason))
            return b""
        self._tickles += 1
        self._duplicate_budget = 0  # repeats of an old rejection would have arrived by now
        self._oks_to_swallow = 0
        self._waiting_since = now
        return self._transmit(self._allocate("M105"), now)

    def _retry_handshake_if_due(self, now: float) -> None:
        if self._handshake_started is None or now < self._handshake_started + self.handshake_timeout:
            return
        if self._handshake_tries >= self.handshake_attempts:
            self._defer(self._fail("printer did not answer M110/M115"))
            return
        self._handshake_tries += 1
        self._queue_handshake(now)

    # ------------------------------------------------------------------ control
    def pause(self) -> bytes:
        """Stop feeding program lines (host-streamed print: no M25)."""
        self._transition(EngineState.PAUSED)
        return b""

    def resume(self) -> bytes:
        """Feed lines again; if the printer paused itself (a runout's M600 waits for the user), ``M108``
        tells it to continue, when its emergency parser reads it at once."""
        self._require({EngineState.PAUSED}, "resume")
        self._transition(EngineState.STREAMING)
        paused_itself, self._paused_by_firmware = self._paused_by_firmware, False
        return b"M108\n" if paused_itself and self._caps.get("EMERGENCY_PARSER") else b""

    def cancel(self) -> bytes:
        """Stop feeding; return ``M108`` (break a heat-up or a wait for the user, if the emergency parser
        reads it at once) and the heaters/fan-off lines."""
        waiting = self._waiting_command_in_flight()
        self._stop("cancelled")
        breaker = b"M108\n" if waiting and self._caps.get("EMERGENCY_PARSER") else b""
        return breaker + self.safe_shutdown()

    def _waiting_command_in_flight(self) -> bool:
        for number in self._in_flight:
            entry = self._history.get(number)
            if entry is not None and entry.text.split(" ", 1)[0].upper() in _WAITING_COMMANDS:
                return True
        return False

    def emergency_stop(self) -> bytes:
        """Unnumbered ``M112`` (handled by Marlin's emergency parser at once)."""
        self._stop("emergency stop")
        self._inert = True
        return self.estop_bytes()

    def safe_shutdown(self) -> bytes:
        """Unnumbered hotend(s)/bed off and fan off; valid whatever the line numbering.

        Still returned after ``emergency_stop()``: heaters off is right whatever stopped the job.
        """
        if self._extruder_count > 1:
            hotends = "".join(f"M104 T{tool} S0\n" for tool in range(self._extruder_count))
        else:
            hotends = "M104 S0\n"
        return f"{hotends}M140 S0\nM107\n".encode("ascii")

    # ------------------------------------------------------------------ firmware facts for the I/O loop
    def estop_bytes(self) -> bytes:
        """Unnumbered ``M112``: Marlin's emergency parser acts on it before the command queue."""
        return b"M112\n"

    # No job_prelude: printer programs home themselves (G28 in their start code).

    def settle_command(self) -> str | None:
        """``M400`` is answered only once the planner is empty, i.e. the machine stands still."""
        return "M400"

    # ------------------------------------------------------------------ receiving
    def _note_received(self, now: float) -> None:
        self._last_rx = now

    def _handle_line(self, text: str, now: float) -> list[Event]:
        return self._dispatch(text, now, _LINE_HANDLERS)

    def _handle_unmatched(self, text: str, now: float) -> list[Event]:
        if _TEMPERATURE_LINE.match(text):
            readings = parse_temperatures(text)
            if readings:
                if " W:" in text:  # M109/M190 counting down: the blocking command is alive
                    self._waiting_since = now if self._in_flight else self._waiting_since
                return [Temperatures(readings, text)]
        return [Unparsed(text)]

    def _on_ok(self, text: str, now: float) -> list[Event]:
        if not _is_ok(text):
            return [Unparsed(text)]
        rest = text[2:].strip()
        readings = parse_temperatures(rest) if rest else None
        events: list[Event] = [Temperatures(readings, text)] if readings else []
        if self._state in TERMINAL_STATES:
            return events
        if self._state is EngineState.HANDSHAKING:
            return events + self._on_handshake_ok(now)
        if readings is None and self._oks_to_swallow:
            self._oks_to_swallow -= 1
            if self._rejection is not None:
                self._rejection.ok_swallowed = True
            return events  # this ok answers the rejected line, not an accepted one
        self._learn_buffers(rest)
        if not self._in_flight:
            return [*events, ProtocolViolation(f"{text!r} with no line in flight")]
        self._rejection = None
        self._ghost_bytes = 0  # the firmware took a genuine line: the rejected ones are gone
        self._oks_to_swallow = 0 if readings is not None else self._oks_to_swallow
        self._tickles = 0
        for _ in range(self._lines_answered_by_ok(readings is not None)):
            events += self._accept(self._in_flight.popleft(), now)
        self._waiting_since = now if self._in_flight else None
        return events + self._complete_if_done()

    def _on_handshake_ok(self, now: float) -> list[Event]:
        """M110's ok writes M115; M115's is the ok after FIRMWARE_NAME; any other ok is a leftover."""
        in_flight = self._in_flight[0] if self._in_flight else None
        if in_flight == 0:
            self._accept_handshake_line()
            self._identified = False
            self._allocate("M115")
            return []
        if in_flight == 1 and self._identified:
            self._accept_handshake_line()
            return self._finish_handshake(now)
        return []  # a late answer to an earlier attempt, or to something written before M110

    def _accept_handshake_line(self) -> None:
        self._highest_acked = self._in_flight.popleft()
        self._waiting_since = None

    def _lines_answered_by_ok(self, carries_temperatures: bool) -> int:
        """1, or more when an M105 reply shows earlier oks were lost in transit."""
        if carries_temperatures:
            for position, number in enumerate(self._in_flight):
                entry = self._history.get(number)
                if entry is not None and entry.is_temperature_query:
                    return position + 1
        return 1

    def _accept(self, number: int, now: float) -> list[Event]:
        if number <= self._highest_acked:
            return [ProtocolViolation(f"N{number} acknowledged twice; ignored")]
        self._highest_acked = number
        self._resend_counts.pop(number, None)
        entry = self._history.get(number)
        if entry is None:
            return []
        if entry.is_temperature_query:
            self._temperature_query_waiting = False
        if entry.program_index is None or entry.source_line is None:
            return []
        self._lines_acknowledged += 1
        self._lines_answered += 1
        return [Acknowledged(entry.program_index, entry.source_line)]

    def _learn_buffers(self, rest: str) -> None:
        """``ok N<n> P<planner free> B<command buffer free>``: the largest B seen is BUFSIZE (or one less:
        Marlin counts the command it is answering), which is the safe side to err on."""
        match = _ADVANCED_OK.match(rest)
        if match and self._caps.get("ADVANCED_OK"):
            free = int(match.group(3))
            if free >= 1 and (self._bufsize is None or free > self._bufsize):
                self._bufsize = free

    def _finish_handshake(self, now: float) -> list[Event]:
        self._transition(EngineState.READY)
        self._autoreport = self._caps.get("AUTOREPORT_TEMP", False)
        self._temperature_query_waiting = False
        if self._autoreport:
            self._control_queue.append(f"M155 S{self.autoreport_interval}")
        else:
            self._next_temperature_poll = now
        # Keep-alives every second while a command blocks, so that silence means a lost link
        # (Marlin's HOST_KEEPALIVE_FEATURE; a firmware without M113 answers "Unknown command" and ok).
        self._control_queue.append(f"M113 S{self.keepalive_interval}")
        self._start_loaded_program()
        return [Capabilities(self._firmware_name, dict(self._caps))]

    # -- rejections -------------------------------------------------------------------------------
    def _on_resend(self, text: str, now: float) -> list[Event]:
        match = _RESEND_NUMBER.match(text)
        if match is None:
            return [Unparsed(text)]
        if self._state in TERMINAL_STATES or self._state is EngineState.HANDSHAKING:
            return []
        number = int(match.group(1))
        current = self._rejection
        if current is not None and not current.resend_seen:
            # The Resend of a rejection its error already announced (perhaps late, perhaps after its ok).
            current.resend_seen = True
            if current.ok_swallowed and self.ok_follows_resend:
                self._oks_to_swallow += 1  # this Resend brings an ok of its own
            if number == current.number:
                return []
            current.number = number  # the Resend's number is the authority
            return self._rewind(number, counted=False)
        return self._rejected(number, resend_seen=True)

    def _on_line_error(self, body: str, now: float) -> list[Event]:
        if self._state in TERMINAL_STATES or self._state is EngineState.HANDSHAKING:
            return []
        number = line_rejection(body).resend_from
        if number is None:
            number = self._in_flight[0] if self._in_flight else self._highest_acked + 1
        return self._rejected(number, resend_seen=False)

    def _rejected(self, number: int, *, resend_seen: bool) -> list[Event]:
        """A new rejection of the line the printer wants next (``number``): rewind, or absorb a repeat."""
        self._rejection = _Rejection(number, resend_seen=resend_seen)
        if self.ok_follows_resend or not resend_seen:
            self._oks_to_swallow += 1
        if self._duplicate_budget and number == self._duplicate_line:
            self._duplicate_budget -= 1  # rejection of a line written before the rewind
            return []
        return self._rewind(number, counted=True)

    def _rewind(self, number: int, *, counted: bool) -> list[Event]:
        if number != self._next_number and number not in self._history:
            return self._fail(
                f"printer requested N{number}, which is not in the {self.history_size}-line history"
            )
        if number <= self._highest_acked:
            self._unaccept_from(number)
        if counted:
            count = self._resend_counts.get(number, 0) + 1
            self._resend_counts[number] = count
            if count > self.max_resends:
                return self._fail(f"N{number} requested {count} times; giving up")
        rejected = [n for n in self._in_flight if n >= number]
        self._in_flight = deque(n for n in self._in_flight if n < number)
        # Lines written after the rejected one may still sit in the firmware's receive buffer.
        self._ghost_bytes += sum(self._history[n].size for n in rejected[1:] if n in self._history)
        self._duplicate_budget = max(0, len(rejected) - 1)
        self._duplicate_line = number
        self._send_cursor = number
        if not self._in_flight:
            self._waiting_since = None
        return [Resending(number)]

    def _unaccept_from(self, number: int) -> None:
        """The printer's line counter says it never accepted N``number`` onwards, although an ``ok`` came.

        That happens when line noise hits the ``N`` itself: Marlin then takes the line as unnumbered (no
        checksum check), answers ``ok`` for whatever it made of it, and asks for the number again at the
        next line. The firmware's counter is the authority, so those lines are sent again (the history
        still holds them) and their acknowledgements are taken back.
        """
        for n in range(number, self._highest_acked + 1):
            entry = self._history.get(n)
            if entry is not None and entry.program_index is not None and entry.source_line is not None:
                self._lines_acknowledged -= 1
                self._lines_answered -= 1
        self._highest_acked = number - 1

    # -- everything else --------------------------------------------------------------------------
    def _on_error(self, text: str, now: float) -> list[Event]:
        body = text[len("error:") :].strip()
        kind = classify_error(body)
        if kind == "line":
            return self._on_line_error(body, now)
        if kind == "halt":
            return self._fail(f"printer halted: {body}")
        self._errors += 1
        entry = self._oldest_program_entry_in_flight()
        index = entry.program_index if entry else None
        source = entry.source_line if entry else None
        events: list[Event] = [FirmwareError(None, body, index, source)]
        if self.stop_on_error and self._state in JOB_ACTIVE_STATES:
            events += self._fail(f"printer error: {body}")
        return events

    def _oldest_program_entry_in_flight(self) -> _Numbered | None:
        for number in self._in_flight:
            entry = self._history.get(number)
            if entry is not None and entry.program_index is not None:
                return entry
        return None

    def _on_fatal(self, text: str, now: float) -> list[Event]:
        return self._fail(f"printer halted: {text.lstrip('! ')}")

    def _on_busy(self, text: str, now: float) -> list[Event]:
        self._keepalive_seen = True
        if self._in_flight:
            self._waiting_since = now  # the line in flight is being worked on
        return [Busy(text.split("busy:", 1)[1].strip())]

    def _on_echo(self, text: str, now: float) -> list[Event]:
        return [Message(text[len("echo:") :].strip())]

    def _on_host_action(self, text: str, now: float) -> list[Event]:
        """Pause/resume feeding as the printer asks; prompts become one event when shown."""
        action = parse_host_action(text[len("//action:") :])
        if action.name in _PAUSING_ACTIONS:
            self._paused_by_firmware = action.name != "pause"  # "pause" only asks the host to stop feeding
            if self._state is EngineState.STREAMING:
                self._transition(EngineState.PAUSED)
        elif action.name in _RESUMING_ACTIONS:
            self._paused_by_firmware = False
            if self._state is EngineState.PAUSED:
                self._transition(EngineState.STREAMING)
        if action.name == "prompt_begin":
            self._prompt.begin(action.detail)
            return []
        if action.name in ("prompt_choice", "prompt_button"):
            self._prompt.add_choice(action.detail)
            return []
        if action.name == "prompt_show":
            return [HostAction("prompt", self._prompt.text())]
        return [HostAction(action.name, action.detail)]

    def _on_wait(self, text: str, now: float) -> list[Event]:
        # Marlin's idle notice; never an acknowledgement.
        return [] if text.lower() == "wait" else [Unparsed(text)]

    def _on_start(self, text: str, now: float) -> list[Event]:
        if text.lower() != "start":
            return [Unparsed(text)]
        events: list[Event] = [Started("Marlin", "")]
        if self._state in JOB_ACTIVE_STATES:
            return events + self._fail("printer reset unexpectedly (start received mid-job)")
        if self._state in {EngineState.READY, EngineState.COMPLETE}:
            self._transition(EngineState.HANDSHAKING)
        if self._state is EngineState.HANDSHAKING:
            # Whatever we wrote during the boot was lost; identify the firmware afresh.
            self._queue_handshake(now)
        return events

    def _on_firmware_name(self, text: str, now: float) -> list[Event]:
        match = _FIRMWARE_NAME.match(text)
        self._firmware_name = match.group(1).strip() if match else text
        self._identified = True
        extruders = _EXTRUDER_COUNT.search(text)
        if extruders:
            self._extruder_count = max(1, int(extruders.group(1)))
        return []

    def _on_capability(self, text: str, now: float) -> list[Event]:
        name, _, value = text[len("cap:") :].rpartition(":")
        if not name:
            return [Unparsed(text)]
        self._caps[name.strip().upper()] = value.strip() == "1"
        return []


def _is_ok(text: str) -> bool:
    return text == "ok" or text.startswith("ok ")
