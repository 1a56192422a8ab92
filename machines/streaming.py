"""The streaming loop: one protocol engine, one serial port, control commands and reporting hooks.

This is the only I/O loop around the sans-I/O engines; the MES runner and the ``stream`` command both use it.
It knows nothing of Django: the caller passes hooks for control commands, progress and telemetry.

Threads: the loop runs in the caller's thread. A control thread polls ``hooks.poll_commands()`` every
``control_interval`` seconds; an E-STOP is written to the wire by that thread at once (under the write
lock, between two whole writes of the loop), so it never waits for the loop to come round.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from machines import transport
from machines.protocol import (
    EngineState,
    GrblEngine,
    Halted,
    MarlinEngine,
    ProtocolEngine,
    StatusReport,
    Temperatures,
)

log = logging.getLogger(__name__)

# What each firmware's emergency stop looks like on the wire (the engine is told afterwards).
ESTOP_BYTES = {GrblEngine: b"!\x18", MarlinEngine: b"M112\n"}
CANCEL_DRAIN_S = 15.0


@dataclass
class StreamHooks:
    """Callbacks of a streaming session; every one is optional."""

    poll_commands: Callable[[], list[str]] | None = None  # -> ["pause" | "resume" | "cancel" | "estop"]
    on_commands_applied: Callable[[], None] | None = None  # from the loop's thread, after acting on them
    on_progress: Callable[[int, int], None] | None = None  # (acknowledged, total), at most every second
    on_telemetry: Callable[[dict], None] | None = None  # latest state, at most every telemetry interval
    on_estop_sent: Callable[[float], None] | None = None  # monotonic time the E-STOP bytes were written


@dataclass
class StreamResult:
    outcome: str  # "complete" | "failed" | "cancelled" | "estop" | "lost"
    reason: str
    lines_total: int
    lines_sent: int
    lines_acknowledged: int
    resends: int
    errors: int
    seconds: float
    bytes_written: int
    bytes_read: int
    estop_sent_at: float | None = None

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Telemetry:
    state: str = ""
    position: list | None = None
    temperatures: dict | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "position": self.position,
            "temperatures": self.temperatures,
            "message": self.message,
        }


@dataclass
class StreamSession:
    """Stream ``lines`` through ``engine`` over an open ``port`` until done, failed or stopped."""

    engine: ProtocolEngine
    port: object
    lines: Sequence[tuple[int, str]]
    hooks: StreamHooks = field(default_factory=StreamHooks)
    progress_interval: float = 1.0
    telemetry_interval: float = 0.5
    control_interval: float = 0.01
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        # "Complete" means the machine stands still, not only that every line was acknowledged: Marlin's
        # M400 answers once its moves are done; GRBL is watched until it reports Idle (see _await_idle).
        if isinstance(self.engine, MarlinEngine) and (not self.lines or self.lines[-1][1] != "M400"):
            self.lines = [*self.lines, (0, "M400")]
        self._idle_reports = 0
        self._write_lock = threading.Lock()
        self._commands: list[str] = []
        self._commands_lock = threading.Lock()
        self._estop_at: float | None = None
        self._done = threading.Event()
        self._written = 0
        self._read = 0
        self._telemetry = _Telemetry()
        self._last_progress = -1.0
        self._last_telemetry = -1.0

    # -- wire -------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if not data:
            return
        with self._write_lock:
            if self._estop_at is not None and data != self._estop_bytes():
                return  # after an E-STOP nothing but the E-STOP itself goes out
            transport.write_all(self.port, data)
            self._written += len(data)

    def _estop_bytes(self) -> bytes:
        return ESTOP_BYTES.get(type(self.engine), b"")

    def _send_estop(self) -> None:
        with self._write_lock:
            if self._estop_at is not None:
                return
            transport.write_all(self.port, self._estop_bytes())
            self._estop_at = self.clock()
            self._written += len(self._estop_bytes())
        if self.hooks.on_estop_sent:
            self.hooks.on_estop_sent(self._estop_at)

    # -- control thread ---------------------------------------------------------------------------
    def _control_loop(self) -> None:
        while not self._done.wait(self.control_interval):
            try:
                commands = self.hooks.poll_commands() if self.hooks.poll_commands else []
            except Exception:  # a database hiccup must not kill the E-STOP path: say so, try again
                log.exception("polling the control channel failed; retrying")
                continue
            for command in commands:
                if command == "estop":
                    with contextlib.suppress(transport.TransportLost):  # the loop reports a lost port
                        self._send_estop()
                with self._commands_lock:
                    self._commands.append(command)

    def _take_commands(self) -> list[str]:
        with self._commands_lock:
            commands, self._commands = self._commands, []
        return commands

    # -- reporting --------------------------------------------------------------------------------
    def _observe(self, events, now: float) -> str | None:
        """Update telemetry from events; return a failure reason if the engine halted."""
        halted = None
        for event in events:
            if isinstance(event, StatusReport):
                self._telemetry.state = event.state
                if event.state == "Idle":
                    self._idle_reports += 1
                pos = event.work_pos or event.machine_pos
                self._telemetry.position = list(pos) if pos else None
            elif isinstance(event, Temperatures):
                self._telemetry.temperatures = {k: list(v) for k, v in event.readings.items()}
            elif isinstance(event, Halted):
                halted = event.reason
        self._report(now)
        return halted

    def _report(self, now: float, *, force: bool = False) -> None:
        if self.hooks.on_progress and (force or now - self._last_progress >= self.progress_interval):
            self._last_progress = now
            self.hooks.on_progress(self.engine.lines_acknowledged, len(self.lines))
        if self.hooks.on_telemetry and (force or now - self._last_telemetry >= self.telemetry_interval):
            self._last_telemetry = now
            self.hooks.on_telemetry(self._telemetry.as_dict())

    # -- the loop ---------------------------------------------------------------------------------
    def _apply(self, command: str) -> str | None:
        """Apply a control command to the engine; return an outcome if it ends the run."""
        engine = self.engine
        if command == "estop":
            engine.emergency_stop()  # bytes already on the wire
            self._write(engine.safe_shutdown() if isinstance(engine, MarlinEngine) else b"")
            return "estop"
        if command == "pause" and engine.state is EngineState.STREAMING:
            self._write(engine.pause())
        elif command == "resume" and engine.state is EngineState.PAUSED:
            self._write(engine.resume())
        elif command == "cancel" and engine.state not in (EngineState.FAILED, EngineState.STOPPED):
            self._write(engine.cancel())
            return "cancelled"
        return None

    def _pump(self) -> str | None:
        """One turn: send what is due, read what arrived. Return a failure reason if halted."""
        now = self.clock()
        self._write(self.engine.data_to_send(now) + self.engine.poll(now))
        data = transport.read_available(self.port)
        self._read += len(data)
        return self._observe(self.engine.receive_data(data, self.clock()), now)

    def _await_idle(self) -> str | None:
        """After GRBL acknowledged the last line, wait for a status report saying it stopped moving."""
        seen = self._idle_reports
        while self._idle_reports == seen:
            halted = self._pump()
            if halted is not None or self.engine.state is EngineState.FAILED:
                return halted or self.engine.failed or "failed"
        return None

    def _drain_cancel(self) -> None:
        """Let a GRBL cancel finish its feed hold and soft reset before the port closes."""
        deadline = self.clock() + CANCEL_DRAIN_S
        while getattr(self.engine, "pending_reset", False) and self.clock() < deadline:
            self._pump()

    def _shutdown_after_failure(self) -> None:
        try:
            self._write(self.engine.safe_shutdown())
            self._drain_cancel()
        except transport.TransportLost:
            pass  # nothing more can be said to a machine that is gone

    def run(self) -> StreamResult:
        """Run to the end and return what happened. Never raises for machine or wire trouble."""
        started = self.clock()
        control = threading.Thread(target=self._control_loop, name="mes-control", daemon=True)
        control.start()
        outcome, reason = "complete", ""
        try:
            self.engine.load(self.lines)
            self._write(self.engine.handshake(self.clock()))
            while True:
                commands = self._take_commands()
                for command in commands:
                    ended = self._apply(command)
                    if ended:
                        outcome = ended
                        reason = "emergency stop" if ended == "estop" else "cancelled"
                        break
                if commands and self.hooks.on_commands_applied:
                    self.hooks.on_commands_applied()
                if outcome != "complete":
                    if outcome == "cancelled":
                        self._drain_cancel()
                    break
                halted = self._pump()
                if halted is not None or self.engine.state is EngineState.FAILED:
                    outcome, reason = "failed", halted or self.engine.failed or "failed"
                    self._shutdown_after_failure()
                    break
                if self.engine.state is EngineState.COMPLETE:
                    halted = self._await_idle() if isinstance(self.engine, GrblEngine) else None
                    if halted is not None:
                        outcome, reason = "failed", halted
                    break
        except transport.TransportLost as exc:
            outcome, reason = "lost", str(exc)
        finally:
            self._done.set()
            control.join(timeout=1)
        self._report(self.clock(), force=True)
        return StreamResult(
            outcome=outcome,
            reason=reason,
            lines_total=len(self.lines),
            lines_sent=self.engine.lines_sent,
            lines_acknowledged=self.engine.lines_acknowledged,
            resends=self.engine.resends,
            errors=self.engine.errors,
            seconds=self.clock() - started,
            bytes_written=self._written,
            bytes_read=self._read,
            estop_sent_at=self._estop_at,
        )


def engine_for(firmware: str, **options) -> ProtocolEngine:
    """A fresh protocol engine for ``firmware`` ("grbl" or "marlin")."""
    if firmware == "grbl":
        return GrblEngine(**options)
    if firmware == "marlin":
        return MarlinEngine(**options)
    raise ValueError(f"unknown firmware {firmware!r}")
