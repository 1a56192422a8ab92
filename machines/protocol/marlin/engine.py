"""Marlin host-side protocol engine.

Every line the engine writes while connected is numbered and checksummed
(``N<n> <text>*<xor>``), including its own temperature queries and tickles.
Marlin only accepts ``N`` equal to its last accepted number plus one, so numbering
everything gives one strictly ordered stream in which

* each transmission is answered by exactly one ``ok`` (or by a ``Resend``),
* a line can never execute twice, and a gap is always reported as ``Resend``,
* an ``ok T:..`` (the M105 reply) proves every lower-numbered line was
  accepted, which lets the engine resynchronise after a lost ``ok``.

Unnumbered M105s would also be accepted by Marlin, but their ``ok`` would be
indistinguishable in the ok-count from a program line's, and other firmwares in
the family reject mixing; numbering is the one scheme that is always correct.
Only ``M112`` and the ``safe_shutdown()`` lines are unnumbered: they must work
when the numbering state is unknown.

Resend handling.  Marlin answers a bad line with ``Error:..`` + ``Resend: N`` +
``ok`` and then *drains* its receive buffer, so lines written after the bad one
are either silently dropped or each rejected with another ``Resend: N``.  On the
first (genuine) request the engine rewinds to N and forgets the rejected
transmissions; repeats of the same N caused by those older transmissions are
absorbed (at most one per forgotten transmission, and never after a response
timeout, when any such repeat would long have arrived).  The ``ok`` right after a
``Resend`` belongs to the rejected line and never acknowledges anything.
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

_LINE_ERROR_MARKERS = (
    "line number is not last line number+1",
    "checksum mismatch",
    "no checksum with line number",
    "no line number with checksum",
)
_HALT_MARKERS = (
    "thermal runaway",
    "mintemp",
    "maxtemp",
    "heating failed",
    "printer halted",
    "kill() called",
    "stopped due to errors",
    "system stopped",
)
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
    program_index: int | None = None
    source_line: int | None = None

    @property
    def is_temperature_query(self) -> bool:
        return self.text == "M105"


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


class MarlinEngine(ProtocolEngine):
    """Sans-I/O host side of Marlin's numbered, checksummed serial protocol.

    Parameters (keyword-only):
        window: lines in flight before any ADVANCED_OK information (1 = ping-pong).
        advanced_window_max: cap on lines in flight once ``ok N P B`` replies arrive
            (only used when M115 reported ``Cap:ADVANCED_OK:1``).
        history_size: numbered lines kept for resends.
        max_resends: a line requested more often than this fails the job.
        timeout: silence allowed before tickling with M105 (extended per command
            by ``blocking_timeouts`` and G4 dwell times; reset by any received line,
            so ``busy:`` keep-alives extend it).
        max_tickles: unanswered tickles before the job fails.
        temperature_interval: M105 polling period when the firmware cannot auto-report.
        autoreport_interval: ``M155 S<n>`` period when it can.
        stop_on_error: an unrecognised ``Error:`` during a job fails the job.
        ok_follows_resend: the firmware sends ``ok`` after each ``Resend`` (Marlin does).
        handshake_timeout / handshake_attempts: re-send M110+M115 if unanswered.
    """

    firmware = "marlin"

    def __init__(
        self,
        *,
        window: int = 1,
        advanced_window_max: int = 4,
        history_size: int = 64,
        max_resends: int = 5,
        timeout: float = 5.0,
        max_tickles: int = 3,
        temperature_interval: float = 2.0,
        autoreport_interval: int = 1,
        stop_on_error: bool = True,
        ok_follows_resend: bool = True,
        handshake_timeout: float = 5.0,
        handshake_attempts: int = 3,
        blocking_timeouts: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        if window < 1 or advanced_window_max < 1:
            raise ValueError("windows must allow at least one line in flight")
        if history_size < max(window, advanced_window_max) + max_tickles + 2:
            raise ValueError("history_size must exceed the largest window plus tickles")
        self.window = window
        self.advanced_window_max = advanced_window_max
        self.history_size = history_size
        self.max_resends = max_resends
        self.timeout = timeout
        self.max_tickles = max_tickles
        self.temperature_interval = temperature_interval
        self.autoreport_interval = autoreport_interval
        self.stop_on_error = stop_on_error
        self.ok_follows_resend = ok_follows_resend
        self.handshake_timeout = handshake_timeout
        self.handshake_attempts = handshake_attempts
        self.blocking_timeouts = dict(blocking_timeouts or DEFAULT_BLOCKING_TIMEOUTS)

        self._history: dict[int, _Numbered] = {}
        self._next_number = 0  # number the next new line gets
        self._send_cursor = 0  # next number to (re)transmit; < _next_number while resending
        self._highest_transmitted = -1
        self._highest_acked = -1
        self._in_flight: deque[int] = deque()
        self._control_queue: deque[str] = deque()  # engine commands waiting for a number
        self._program_cursor = 0
        self._current_window = window
        self._resend_counts: dict[int, int] = {}
        self._duplicate_budget = 0
        self._duplicate_line: int | None = None
        self._swallow_ok = False
        self._inert = False

        self._firmware_name = ""
        self._caps: dict[str, bool] = {}
        self._extruder_count = 1
        self._m115_number: int | None = None
        self._handshake_started: float | None = None
        self._handshake_tries = 0
        self._autoreport = False
        self._next_temperature_poll: float | None = None
        self._temperature_query_waiting = False  # queued or in flight

        self._quiet_since: float | None = None
        self._tickles = 0

    # ------------------------------------------------------------------ properties
    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def current_window(self) -> int:
        """Lines currently allowed in flight."""
        return self._current_window

    @property
    def capabilities(self) -> dict[str, bool]:
        return dict(self._caps)

    @property
    def autoreporting(self) -> bool:
        """True when temperatures come from ``M155`` auto-reports rather than polling."""
        return self._autoreport

    # ------------------------------------------------------------------ connect & load
    def handshake(self, now: float) -> bytes:
        """``N0 M110 N0`` (reset numbering) then ``N1 M115`` (capabilities)."""
        self._transition(EngineState.HANDSHAKING)
        self._handshake_tries = 1
        self._queue_handshake(now)
        out = bytearray()
        while self._send_cursor < self._next_number:
            out += self._transmit(self._history[self._send_cursor], now)
        return bytes(out)

    def _queue_handshake(self, now: float) -> None:
        """Forget all numbering state and number M110/M115 as lines 0 and 1."""
        self._history.clear()
        self._in_flight.clear()
        self._control_queue.clear()
        self._next_number = self._send_cursor = 0
        self._highest_transmitted = self._highest_acked = -1
        self._resend_counts.clear()
        self._duplicate_budget = 0
        self._current_window = self.window
        self._handshake_started = now
        # Marlin takes the number of an M110 line from its argument, so this sets
        # "last line" to 0 whatever the firmware believed before; next is N1.
        self._allocate("M110 N0")
        self._m115_number = self._allocate("M115").number

    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        self._store_program(lines)

    def _reset_program_cursor(self) -> None:
        self._program_cursor = 0

    # ------------------------------------------------------------------ sending
    def data_to_send(self, now: float) -> bytes:
        """Resends, queued engine commands, then program lines, while the window allows."""
        return self._fill_window(now, program_allowed=True)

    def poll(self, now: float) -> bytes:
        """Handshake retries, M105 tickles after silence, and temperature polls."""
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return b""
        if self._state is EngineState.HANDSHAKING:
            self._retry_handshake_if_due(now)
        out = self._tickle_if_silent(now)
        return out + self._fill_window(now, program_allowed=False)

    def next_deadline(self, now: float) -> float | None:
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return None
        deadlines = []
        if self._state is EngineState.HANDSHAKING and self._handshake_started is not None:
            deadlines.append(self._handshake_started + self.handshake_timeout)
        response = self._response_deadline()
        if response is not None:
            deadlines.append(response)
        if self._temperature_poll_enabled():
            deadlines.append(self._next_temperature_poll or now)
        if self._control_queue and len(self._in_flight) < self._current_window:
            deadlines.append(now)
        return min(deadlines) if deadlines else None

    def _fill_window(self, now: float, *, program_allowed: bool) -> bytes:
        if self._inert or self._state is EngineState.IDLE or self._state in TERMINAL_STATES:
            return b""
        self._queue_temperature_poll_if_due(now)
        out = bytearray()
        while len(self._in_flight) < self._current_window:
            entry = self._next_entry(program_allowed)
            if entry is None:
                break
            out += self._transmit(entry, now)
        return bytes(out)

    def _next_entry(self, program_allowed: bool) -> _Numbered | None:
        """The next line in number order: a resend, an engine command, or program text."""
        if self._send_cursor < self._next_number:
            entry = self._history[self._send_cursor]
            if entry.program_index is not None and not program_allowed:
                return None
            return entry
        if self._state is EngineState.HANDSHAKING:
            return None
        if self._control_queue:
            return self._allocate(self._control_queue.popleft())
        streaming = program_allowed and self._state is EngineState.STREAMING
        if streaming and self._program_cursor < len(self._program):
            line = self._program[self._program_cursor]
            self._program_cursor += 1
            return self._allocate(line.text, line.index, line.source_line)
        return None

    def _allocate(
        self, text: str, program_index: int | None = None, source_line: int | None = None
    ) -> _Numbered:
        timeout = command_timeout(text, self.timeout, self.blocking_timeouts)
        entry = _Numbered(self._next_number, text, timeout, program_index, source_line)
        self._history[entry.number] = entry
        self._next_number += 1
        while len(self._history) > self.history_size:
            del self._history[next(iter(self._history))]
        return entry

    def _transmit(self, entry: _Numbered, now: float) -> bytes:
        if not self._in_flight:
            # Silence while nothing was expected says nothing about this line.
            self._quiet_since = now
        self._in_flight.append(entry.number)
        if entry.number == self._send_cursor:
            self._send_cursor += 1
        if entry.number <= self._highest_transmitted:
            self._resends += 1
        else:
            self._highest_transmitted = entry.number
            if entry.program_index is not None:
                self._lines_sent += 1
        return frame_line(entry.number, entry.text)

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
        if not self._in_flight or self._quiet_since is None:
            return None
        if self._state is EngineState.HANDSHAKING:
            return None  # the handshake has its own retry timer
        allowances = [self._history[n].timeout for n in self._in_flight if n in self._history]
        return self._quiet_since + max(allowances, default=self.timeout)

    def _tickle_if_silent(self, now: float) -> bytes:
        """After too long a silence, write a numbered M105.

        If a line was lost Marlin answers with ``Resend`` for it; if only its ``ok``
        was lost the ``ok T:`` reply resynchronises the ok accounting.  Either way
        no program line is skipped or duplicated.
        """
        deadline = self._response_deadline()
        if deadline is None or now < deadline:
            return b""
        if self._tickles >= self.max_tickles:
            silence = now - (self._quiet_since or now)
            reason = f"printer silent for {silence:.0f} s despite {self._tickles} M105 probes"
            self._defer(self._fail(reason))
            return b""
        self._tickles += 1
        self._duplicate_budget = 0  # repeats of an old Resend would have arrived by now
        self._quiet_since = now
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
        self._require({EngineState.PAUSED}, "resume")
        self._transition(EngineState.STREAMING)
        return b""

    def cancel(self) -> bytes:
        """Stop feeding and return the heaters/fan-off lines to write."""
        self._stop("cancelled")
        return self.safe_shutdown()

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
        self._quiet_since = now
        self._tickles = 0

    def _handle_line(self, text: str, now: float) -> list[Event]:
        swallow, self._swallow_ok = self._swallow_ok, False
        if swallow and _is_ok(text):
            return []  # this ok answers the rejected line, not an accepted one
        return self._dispatch(text, now, _LINE_HANDLERS)

    def _handle_unmatched(self, text: str, now: float) -> list[Event]:
        if _TEMPERATURE_LINE.match(text):
            readings = parse_temperatures(text)
            if readings:
                return [Temperatures(readings, text)]
        return [Unparsed(text)]

    def _on_ok(self, text: str, now: float) -> list[Event]:
        if not _is_ok(text):
            return [Unparsed(text)]
        rest = text[2:].strip()
        readings = parse_temperatures(rest) if rest else None
        events: list[Event] = [Temperatures(readings, text)] if readings else []
        self._apply_advanced_ok(rest)
        if self._state in TERMINAL_STATES:
            return events
        if not self._in_flight:
            if self._state is EngineState.HANDSHAKING:
                return events  # leftovers from before M110
            return [*events, ProtocolViolation(f"{text!r} with no line in flight")]
        for _ in range(self._lines_answered_by_ok(readings is not None)):
            events += self._accept(self._in_flight.popleft(), now)
        return events + self._complete_if_done()

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
        if number == self._m115_number and self._state is EngineState.HANDSHAKING:
            return self._finish_handshake(now)
        if entry.program_index is None or entry.source_line is None:
            return []
        self._lines_acknowledged += 1
        self._lines_answered += 1
        return [Acknowledged(entry.program_index, entry.source_line)]

    def _apply_advanced_ok(self, rest: str) -> None:
        match = _ADVANCED_OK.match(rest)
        if match and self._caps.get("ADVANCED_OK"):
            free_slots = int(match.group(3))
            self._current_window = max(1, min(self.advanced_window_max, free_slots))

    def _finish_handshake(self, now: float) -> list[Event]:
        self._transition(EngineState.READY)
        self._autoreport = self._caps.get("AUTOREPORT_TEMP", False)
        self._temperature_query_waiting = False
        if self._autoreport:
            self._control_queue.append(f"M155 S{self.autoreport_interval}")
        else:
            self._next_temperature_poll = now
        self._start_loaded_program()
        return [Capabilities(self._firmware_name, dict(self._caps))]

    def _on_resend(self, text: str, now: float) -> list[Event]:
        match = _RESEND_NUMBER.match(text)
        if match is None:
            return [Unparsed(text)]
        self._swallow_ok = self.ok_follows_resend
        if self._state in TERMINAL_STATES:
            return []
        number = int(match.group(1))
        if self._duplicate_budget and number == self._duplicate_line:
            self._duplicate_budget -= 1  # rejection of a line written before the rewind
            return []
        return self._rewind(number)

    def _rewind(self, number: int) -> list[Event]:
        if number != self._next_number and number not in self._history:
            return self._fail(
                f"printer requested N{number}, which is not in the {self.history_size}-line history"
            )
        if number <= self._highest_acked:
            self._unaccept_from(number)
        count = self._resend_counts.get(number, 0) + 1
        self._resend_counts[number] = count
        if count > self.max_resends:
            return self._fail(f"N{number} requested {count} times; giving up")
        rejected = [n for n in self._in_flight if n >= number]
        self._in_flight = deque(n for n in self._in_flight if n < number)
        self._duplicate_budget = max(0, len(rejected) - 1)
        self._duplicate_line = number
        self._send_cursor = number
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

    def _on_error(self, text: str, now: float) -> list[Event]:
        body = text[len("error:") :].strip()
        lowered = body.lower()
        if any(marker in lowered for marker in _LINE_ERROR_MARKERS):
            return []  # the Resend that follows carries the information
        if any(marker in lowered for marker in _HALT_MARKERS):
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
        return [Busy(text.split("busy:", 1)[1].strip())]

    def _on_echo(self, text: str, now: float) -> list[Event]:
        return [Message(text[len("echo:") :].strip())]

    def _on_host_action(self, text: str, now: float) -> list[Event]:
        return [HostAction(text[len("//action:") :].strip())]

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
