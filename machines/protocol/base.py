"""Shared skeleton of the sans-I/O host-side protocol engines.

An engine never touches a port or a clock.  The runner owns both and drives the
engine with four calls, passing ``now`` (monotonic seconds) every time:

1. ``handshake(now)`` once after opening the port, write the bytes it returns;
2. ``receive_data(data, now)`` with every chunk read (``b""`` is fine) -> events;
3. ``data_to_send(now)`` and ``poll(now)`` -> bytes to write (often ``b""``);
4. ``next_deadline(now)`` -> how long ``select()`` may sleep.

Events produced by time-driven work inside ``poll()`` (for example a timeout
that fails the job) are queued and returned by the next ``receive_data`` call,
so a runner that always calls ``receive_data`` after waking up sees them all.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from machines.protocol.events import (
    Event,
    Halted,
    ProtocolViolation,
    StreamComplete,
    Unparsed,
)

#: A partial line longer than this without a newline is treated as garbage.
MAX_PARTIAL_LINE = 4096


class ProtocolStateError(RuntimeError):
    """A method was called in a state that does not allow it."""


class UnsupportedCommand(ValueError):
    """The engine's firmware has no such command (an override kind, a maintenance command), or not with
    that value. Callers ask first: ``maintenance_commands``, ``override_kinds``."""


class EngineState(enum.Enum):
    IDLE = "idle"  # constructed, nothing sent yet
    HANDSHAKING = "handshaking"  # waiting for the firmware to identify itself
    READY = "ready"  # connected, no program streaming
    STREAMING = "streaming"
    PAUSED = "paused"  # program loaded, host not feeding new lines
    COMPLETE = "complete"  # every program line answered; a new program may be loaded
    FAILED = "failed"  # terminal: the job ended abnormally (see ``failed``)
    STOPPED = "stopped"  # terminal: cancelled or emergency-stopped by the host


_S = EngineState

#: Legal state changes. Anything else raises ProtocolStateError.
TRANSITIONS: dict[EngineState, frozenset[EngineState]] = {
    _S.IDLE: frozenset({_S.HANDSHAKING, _S.FAILED, _S.STOPPED}),
    _S.HANDSHAKING: frozenset({_S.READY, _S.FAILED, _S.STOPPED}),
    # READY/COMPLETE -> HANDSHAKING: the firmware rebooted between jobs; identify it again.
    _S.READY: frozenset({_S.STREAMING, _S.HANDSHAKING, _S.FAILED, _S.STOPPED}),
    _S.STREAMING: frozenset({_S.PAUSED, _S.COMPLETE, _S.FAILED, _S.STOPPED}),
    _S.PAUSED: frozenset({_S.STREAMING, _S.FAILED, _S.STOPPED}),
    _S.COMPLETE: frozenset({_S.STREAMING, _S.HANDSHAKING, _S.FAILED, _S.STOPPED}),
    _S.FAILED: frozenset(),
    _S.STOPPED: frozenset(),
}

TERMINAL_STATES = frozenset({_S.FAILED, _S.STOPPED})
JOB_ACTIVE_STATES = frozenset({_S.STREAMING, _S.PAUSED})
#: States in which ``load()`` is accepted (the program starts once the handshake is done).
LOADABLE_STATES = frozenset({_S.IDLE, _S.HANDSHAKING, _S.READY, _S.COMPLETE})


@dataclass(frozen=True)
class ProgramLine:
    """One line of the loaded program."""

    index: int  # 0-based position in the load
    source_line: int  # line number in the source file, for humans
    text: str


@dataclass(frozen=True)
class MachineFacts:
    """What the MES's record says about a machine, for an engine to check the controller against.

    ``envelope``: ((x_min, x_max), (y_min, y_max), (z_min, z_max)) in millimetres.
    """

    envelope: tuple[tuple[float, float], ...]
    requires_homing: bool = False


LineHandler = Callable[[str, float], list[Event]]


class ProtocolEngine(ABC):
    """Host-side protocol state machine; see the module docstring for the call contract.

    Everything a generic I/O loop must know about a firmware is asked of its engine
    (``estop_bytes``, ``settle_command``, ``confirms_stop_by_status``, ``draining``,
    ``job_prelude``...), so a new firmware is one new engine module, never a new branch
    in the loop.
    """

    #: The firmware's name, as machines record it ("grbl", "marlin"); the key of the engine registry.
    firmware: ClassVar[str]
    #: Whether the constructor takes ``dry_run=True``: check the program on the controller without moving.
    supports_dry_run: ClassVar[bool] = False
    #: Commands sent to a connected controller while no job streams (``maintenance_command``): "unlock"
    #: clears an alarm lock without homing, "home" runs the homing cycle. Empty: the firmware has none.
    maintenance_commands: ClassVar[frozenset[str]] = frozenset()
    #: Real-time overrides a running job accepts (``override``): "feed", "spindle", "rapid".
    override_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self._state = EngineState.IDLE
        self._failure: str | None = None
        self._stop_reason: str | None = None
        self._partial = bytearray()
        self._pending_events: list[Event] = []
        self._program: list[ProgramLine] = []
        self._lines_sent = 0
        self._lines_acknowledged = 0
        self._lines_answered = 0
        self._resends = 0
        self._errors = 0

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def finished(self) -> bool:
        """True once the job can no longer make progress (complete, failed or stopped)."""
        return self._state in {EngineState.COMPLETE, *TERMINAL_STATES}

    @property
    def failed(self) -> str | None:
        """Why the engine FAILED, or None."""
        return self._failure

    @property
    def stop_reason(self) -> str | None:
        """Why the engine was STOPPED ("cancelled", "emergency stop"), or None."""
        return self._stop_reason

    @property
    def lines_sent(self) -> int:
        """Distinct program lines written at least once (resends not counted)."""
        return self._lines_sent

    @property
    def lines_acknowledged(self) -> int:
        """Program lines the firmware answered with ``ok``."""
        return self._lines_acknowledged

    @property
    def resends(self) -> int:
        """Line transmissions that repeated an earlier one."""
        return self._resends

    @property
    def errors(self) -> int:
        """FirmwareError events emitted so far."""
        return self._errors

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Lines written and not yet answered."""

    def _transition(self, new_state: EngineState) -> None:
        if new_state not in TRANSITIONS[self._state]:
            raise ProtocolStateError(f"illegal transition {self._state.name} -> {new_state.name}")
        self._state = new_state

    def _require(self, allowed: frozenset[EngineState] | set[EngineState], action: str) -> None:
        if self._state not in allowed:
            raise ProtocolStateError(f"cannot {action} while {self._state.name}")

    def _fail(self, reason: str) -> list[Event]:
        """Move to FAILED (once) and return the Halted event that announces it."""
        if self._state in TERMINAL_STATES:
            return []
        self._transition(EngineState.FAILED)
        self._failure = reason
        return [Halted(reason)]

    def _stop(self, reason: str) -> None:
        if self._state in TERMINAL_STATES:
            return
        self._transition(EngineState.STOPPED)
        self._stop_reason = reason

    def _complete_if_done(self) -> list[Event]:
        if self._state is EngineState.STREAMING and self._lines_answered == len(self._program):
            self._transition(EngineState.COMPLETE)
            return [StreamComplete()]
        return []

    # ------------------------------------------------------------------ loading
    def _store_program(self, lines: Sequence[tuple[int, str]]) -> None:
        """Validate and keep ``lines``; starts streaming at once if connected."""
        self._require(LOADABLE_STATES, "load a program")
        if not lines:
            raise ValueError("refusing to load an empty program")
        program = []
        for index, (source_line, text) in enumerate(lines):
            clean = text.strip()
            if not clean or "\n" in clean or "\r" in clean or not clean.isascii():
                raise ValueError(f"source line {source_line}: not a single ASCII g-code line")
            program.append(ProgramLine(index, source_line, clean))
        self._program = program
        self._lines_sent = self._lines_acknowledged = self._lines_answered = 0
        self._reset_program_cursor()
        if self._state in {EngineState.READY, EngineState.COMPLETE}:
            self._transition(EngineState.STREAMING)

    def _start_loaded_program(self) -> None:
        """Called when the handshake completes: begin a program loaded early."""
        if self._program and self._lines_answered == 0 and self._state is EngineState.READY:
            self._transition(EngineState.STREAMING)

    @abstractmethod
    def _reset_program_cursor(self) -> None:
        """Forget per-program progress before a new program streams."""

    # ------------------------------------------------------------------ receiving
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the port; returns the events they (and earlier polls) caused.

        Partial lines are buffered until their newline arrives.
        """
        events, self._pending_events = self._pending_events, []
        self._partial.extend(data)
        *complete, rest = self._partial.split(b"\n")
        if len(rest) > MAX_PARTIAL_LINE:
            events.append(ProtocolViolation(f"discarded {len(rest)} bytes without a newline"))
            rest = b""
        self._partial = bytearray(rest)
        for raw in complete:
            text = raw.decode("ascii", errors="replace").strip()
            if text:
                self._note_received(now)
                events.extend(self._handle_line(text, now))
        return events

    def _dispatch(self, text: str, now: float, table: dict[str, str]) -> list[Event]:
        """Route ``text`` to the handler registered for the first matching prefix.

        ``table`` maps a lower-case line prefix to a method name; dict order is the
        matching order, so longer/more specific prefixes are listed first.
        """
        lowered = text.lower()
        for prefix, method_name in table.items():
            if lowered.startswith(prefix):
                handler: LineHandler = getattr(self, method_name)
                return handler(text, now)
        return self._handle_unmatched(text, now)

    def _handle_unmatched(self, text: str, now: float) -> list[Event]:
        return [Unparsed(text)]

    def _defer(self, events: list[Event]) -> None:
        """Queue events produced outside receive_data (e.g. by a timeout in poll)."""
        self._pending_events.extend(events)

    @abstractmethod
    def _handle_line(self, text: str, now: float) -> list[Event]:
        """Turn one complete, stripped, non-empty line into events."""

    @abstractmethod
    def _note_received(self, now: float) -> None:
        """Record that the firmware showed signs of life at ``now``."""

    # ------------------------------------------------------------------ the interface
    @abstractmethod
    def handshake(self, now: float) -> bytes:
        """Bytes to write right after opening the port; moves IDLE -> HANDSHAKING."""

    @abstractmethod
    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        """Queue ``(source_line, text)`` pairs to stream (already validated g-code)."""

    @abstractmethod
    def data_to_send(self, now: float) -> bytes:
        """Bytes flow control allows right now (may be ``b""``)."""

    @abstractmethod
    def poll(self, now: float) -> bytes:
        """Periodic work: status/temperature queries and timeout handling."""

    @abstractmethod
    def next_deadline(self, now: float) -> float | None:
        """When ``poll()`` next has something to do, or None if nothing is scheduled."""

    @abstractmethod
    def pause(self) -> bytes:
        """Stop feeding the program (GRBL also holds motion)."""

    @abstractmethod
    def resume(self) -> bytes:
        """Continue after ``pause()``."""

    @abstractmethod
    def cancel(self) -> bytes:
        """End the job in an orderly way; state becomes STOPPED ("cancelled")."""

    @abstractmethod
    def emergency_stop(self) -> bytes:
        """Bytes that stop the machine immediately; state becomes STOPPED."""

    @abstractmethod
    def safe_shutdown(self) -> bytes:
        """Bytes that leave the machine safe after a Halted job (runner writes, then closes).

        Also asked right after ``emergency_stop()``: an engine returns there only what is still
        worth writing to a machine that was just stopped (``b""`` if nothing is).
        """

    # ------------------------------------------------------------------ firmware facts for the I/O loop
    @abstractmethod
    def estop_bytes(self) -> bytes:
        """The bytes of an emergency stop, as ``emergency_stop()`` returns them.

        Pure: no state changes, safe to call from any thread. The loop writes these from its control
        thread the moment an E-STOP is requested, and tells the engine (``emergency_stop()``) afterwards.
        """

    def settle_command(self) -> str | None:
        """A line the firmware answers only once every move has finished, or None.

        The loop appends it to a program that does not already end with it, so that "every line
        acknowledged" also means "the machine stands still". Engines whose firmware acknowledges on
        receipt instead report ``confirms_stop_by_status``.
        """
        return None

    @property
    def confirms_stop_by_status(self) -> bool:
        """After the last acknowledgement, wait for a status report saying Idle before calling it done."""
        return False

    @property
    def draining(self) -> bool:
        """True while ``cancel()``/``safe_shutdown()`` still owe bytes that later ``poll()`` calls write.

        The loop keeps pumping (for a bounded time) until this is False before it closes the port.
        """
        return False

    @property
    def host_lines(self) -> dict[str, int]:
        """Lines the engine wrote on its own (handshake, housekeeping), each with how often it was sent."""
        return {}

    def controller_report(self) -> dict:
        """What the machine said about itself at connect (firmware, capabilities, settings, buffers) and
        ``"warnings"``: what that means for the people using it, in words. Default: nothing known."""
        return {}

    @classmethod
    def for_machine(cls, facts: MachineFacts) -> ProtocolEngine:
        """An engine for a run on the machine described by ``facts``: one that refuses to stream if the
        controller contradicts the record in a way that matters. Default: nothing to check."""
        return cls()

    @classmethod
    def job_prelude(cls, *, home: bool, work_offsets: Mapping[str, Sequence[float]]) -> list[str]:
        """Lines to send before a job so that it runs in the frame it was validated in.

        ``home``: the machine must be homed first; ``work_offsets`` maps "G54".."G59" to the machine
        coordinates of each work origin, as the MES records them. Default: nothing to send.
        """
        return []

    # ------------------------------------------------------------------ controller maintenance, overrides
    def maintenance_command(self, kind: str, now: float = 0.0) -> bytes:
        """Bytes of the maintenance command ``kind`` (one of ``maintenance_commands``), sent while connected
        and no job streams; its answer is awaited like any line (``in_flight`` drops to 0). Raises
        :class:`UnsupportedCommand` for a kind this firmware lacks."""
        raise UnsupportedCommand(f"{self.firmware} has no {kind!r} maintenance command")

    def override(self, kind: str, change: int | str) -> bytes:
        """Real-time bytes changing the override ``kind`` (one of ``override_kinds``) during a job.

        ``change`` is a signed step in percent (+10, -10) or ``"reset"`` for feed and spindle, a target
        percent for rapid. Pure (no state changes), so the loop may write it between any two writes.
        Raises :class:`UnsupportedCommand` for a kind or value the firmware does not take."""
        raise UnsupportedCommand(f"{self.firmware} has no {kind!r} override")

    @classmethod
    def explain_fault(cls, text: str) -> str | None:
        """The meaning in words of a fault code the firmware reported, found in ``text`` (a failed job's
        reason, a machine's error), or None if ``text`` holds no code this firmware defines."""
        return None
