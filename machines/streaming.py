"""The streaming loop: one protocol engine, one serial port, control commands and reporting hooks.

This is the only I/O loop around the sans-I/O engines; the MES runner and the ``stream`` command both use it.
It knows nothing of Django: the caller passes hooks for control commands, progress and telemetry. Nor does it
know any firmware: what an E-STOP looks like on the wire, how "finished" is confirmed and whether a cancel
needs draining are all asked of the engine (see ``ProtocolEngine``).

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
    ConnectionLost,
    EngineState,
    Halted,
    HostAction,
    ProtocolEngine,
    StatusReport,
    Temperatures,
    UnsupportedCommand,
    engine_for,
)

log = logging.getLogger(__name__)

__all__ = ["StreamHooks", "StreamResult", "StreamSession", "engine_for"]

#: Host actions worth showing the machinist, in words (the telemetry's message).
HOST_ACTION_MESSAGES = {
    "prompt": "The machine asks: {detail}",
    "out_of_filament": "Filament ran out {detail}",
    "notification": "{detail}",
    "paused": "Paused at the machine",
    "pause": "The machine asked to pause",
}

# How long a cancel may keep the port open for the engine's last bytes (e.g. GRBL's reset after its hold).
CANCEL_DRAIN_S = 15.0


@dataclass
class StreamHooks:
    """Callbacks of a streaming session; every one is optional."""

    # -> ["pause" | "resume" | "cancel" | "estop" | "<override kind>:<change>", e.g. "feed:+10"]
    poll_commands: Callable[[], list[str]] | None = None
    on_commands_applied: Callable[[], None] | None = None  # from the loop's thread, after acting on them
    on_progress: Callable[[int, int], None] | None = None  # (acknowledged, total), at most every second
    on_telemetry: Callable[[dict], None] | None = None  # latest state, at most every telemetry interval
    on_estop_sent: Callable[[float], None] | None = None  # monotonic time the E-STOP bytes were written
    on_host_action: Callable[[str, str], None] | None = None  # (action, detail) the firmware sent
    on_controller_report: Callable[[dict], None] | None = None  # once connected: what the machine said


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
    #: Lines the host added to the program's (handshake, housekeeping, settle command), with counts.
    host_lines: dict = field(default_factory=dict)
    #: Seconds from the start to the end of the handshake, and bytes written from then on (None if the
    #: machine never finished connecting): the link while streaming, apart from the connection's cost.
    connect_seconds: float | None = None
    bytes_after_connect: int | None = None

    @property
    def streaming_bytes_per_second(self) -> float | None:
        """Bytes written per second once connected (None if the run never got there)."""
        if self.connect_seconds is None or self.bytes_after_connect is None:
            return None
        streaming_seconds = self.seconds - self.connect_seconds
        return self.bytes_after_connect / streaming_seconds if streaming_seconds > 0 else None

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Telemetry:
    state: str = ""
    position: list | None = None
    temperatures: dict | None = None
    message: str = ""
    # {"feed": %, "rapid": %, "spindle": %} as last reported; kept between reports that leave it out
    overrides: dict | None = None

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "position": self.position,
            "temperatures": self.temperatures,
            "message": self.message,
            "overrides": self.overrides,
        }


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


@dataclass
class StreamSession:
    """Stream ``lines`` through ``engine`` over an open ``port`` until done, failed or stopped."""

    engine: ProtocolEngine
    port: object
    lines: Sequence[tuple[int, str]]
    hooks: StreamHooks = field(default_factory=StreamHooks)
    progress_interval: float = 1.0
    telemetry_interval: float = 0.5
    control_interval: float = 0.005
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        lines = self.lines
        self.lines = self._with_settle_command(lines)
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
        self._settle_added = self.lines is not lines
        self._lost: str | None = None  # why the link is gone, once the engine said so
        self._cancelled_by_machine = False
        self._reported_controller = False
        self._connected_at: float | None = None
        self._written_at_connect = 0

    def _with_settle_command(self, lines: Sequence[tuple[int, str]]) -> Sequence[tuple[int, str]]:
        """``lines`` ending with the engine's settle command, if it has one.

        "Complete" means the machine stands still, not only that every line was acknowledged: an engine
        whose firmware answers a settle command only after its moves are done gets it appended; the
        others are watched until they report Idle (see ``_await_idle``).
        """
        settle = self.engine.settle_command()
        if settle is None or (lines and lines[-1][1] == settle):
            return lines
        return [*lines, (0, settle)]

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
        return self.engine.estop_bytes()  # pure, so safe from the control thread

    def _send_estop(self) -> bool:
        """Write the E-STOP bytes (once); return whether this call wrote them. From the moment they are
        on the wire the run is over: ``_estop_at`` tells the loop so before anything else can."""
        with self._write_lock:
            if self._estop_at is not None:
                return False
            transport.write_all(self.port, self._estop_bytes())
            self._estop_at = self.clock()
            self._written += len(self._estop_bytes())
        return True

    def _record_estop_sent(self) -> None:
        if not self.hooks.on_estop_sent:
            return
        try:
            self.hooks.on_estop_sent(self._estop_at)
        except Exception:  # the stop is on the wire; a failed record must not end the control thread
            log.exception("recording the E-STOP's delivery failed")

    # -- control thread ---------------------------------------------------------------------------
    def _control_loop(self) -> None:
        while not self._done.wait(self.control_interval):
            try:
                commands = self.hooks.poll_commands() if self.hooks.poll_commands else []
            except Exception:  # a database hiccup must not kill the E-STOP path: say so, try again
                log.exception("polling the control channel failed; retrying")
                continue
            for command in commands:
                sent = False
                if command == "estop":
                    with contextlib.suppress(transport.TransportLost):  # the loop reports a lost port
                        sent = self._send_estop()
                with self._commands_lock:
                    self._commands.append(command)
                if sent:  # after the loop can see the command: recording it may wait on the database
                    self._record_estop_sent()

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
                if event.overrides and len(event.overrides) == 3:
                    # GRBL sends Ov: only now and then (and after a change), so the last values stand.
                    self._telemetry.overrides = dict(
                        zip(("feed", "rapid", "spindle"), event.overrides, strict=True)
                    )
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
            self._end_by_estop()
            return "estop"
        if command == "pause" and engine.state is EngineState.STREAMING:
            self._write(engine.pause())
        elif command == "resume" and engine.state is EngineState.PAUSED:
            self._write(engine.resume())
        elif command == "cancel" and engine.state not in (EngineState.FAILED, EngineState.STOPPED):
            self._write(engine.cancel())
            return "cancelled"
        elif ":" in command and engine.state not in (EngineState.FAILED, EngineState.STOPPED):
            self._apply_override(command)
        return None

    def _apply_override(self, command: str) -> None:
        """Write the override bytes of ``"<kind>:<change>"`` ("feed:+10", "spindle:reset", "rapid:50").

        An override the engine refuses is logged and dropped: a wrong button must never end a run."""
        kind, _, change = command.partition(":")
        value: int | str = change if change == "reset" else _int_or_text(change)
        try:
            data = self.engine.override(kind, value)
        except UnsupportedCommand as exc:
            log.warning("override %r ignored: %s", command, exc)
            return
        self._write(data)

    def _end_by_estop(self) -> None:
        """The E-STOP's bytes are on the wire (written by the control thread): stop the engine and say
        whatever it still wants said after a stop. Whatever the controller answers to being stopped
        (GRBL's reset banner...) is the stop's doing, not a failure."""
        engine = self.engine
        engine.emergency_stop()
        self._write(engine.safe_shutdown())

    def _stopped_by_estop(self) -> tuple[str, str] | None:
        """``("estop", ...)`` once the control thread has written an E-STOP, whatever the loop was doing."""
        if self._estop_at is None:
            return None
        self._end_by_estop()
        return "estop", "emergency stop"

    def _pump(self) -> str | None:
        """One turn: send what is due, read what arrived. Return a failure reason if halted."""
        now = self.clock()
        self._write(self.engine.data_to_send(now) + self.engine.poll(now))
        data = transport.read_available(self.port)
        self._read += len(data)
        events = self.engine.receive_data(data, self.clock())
        self._react(events)
        return self._observe(events, now)

    def _react(self, events) -> None:
        """What the machine said that the job must hear of: a lost link, host actions, its report."""
        for event in events:
            if isinstance(event, ConnectionLost):
                self._lost = event.detail
            elif isinstance(event, HostAction):
                self._on_host_action(event)
        if not self._reported_controller and self.engine.state in (EngineState.READY, EngineState.STREAMING):
            self._reported_controller = True
            self._connected_at, self._written_at_connect = self.clock(), self._written
            if self.hooks.on_controller_report:
                self.hooks.on_controller_report(self.engine.controller_report())

    def _on_host_action(self, event: HostAction) -> None:
        """The engine already stopped or restarted its feed for pause/resume; a cancel ends the run here."""
        if event.action == "cancel" and self.engine.state in (EngineState.STREAMING, EngineState.PAUSED):
            self._write(self.engine.cancel())
            self._cancelled_by_machine = True
        said = HOST_ACTION_MESSAGES.get(event.action)
        if said is not None:
            self._telemetry.message = said.format(detail=event.detail).strip()
        if self.hooks.on_host_action:
            self.hooks.on_host_action(event.action, event.detail)

    def _await_idle(self) -> tuple[str, str]:
        """After the last acknowledgement, wait for a status report saying the machine stopped moving.

        The machine is still moving its last buffered moves, so control commands still count: an E-STOP or
        a cancel ends the wait (the control thread has already written an E-STOP's bytes; without this the
        loop would wait forever for an Idle that a stopped, alarmed controller never reports).
        Return ``(outcome, reason)``: complete, failed (the engine halted), estop or cancelled.
        """
        seen = self._idle_reports
        while self._idle_reports == seen:
            ended = self._apply_pending_commands()
            if ended is not None:
                return ended
            halted = self._pump()
            stopped = self._stopped_by_estop()
            if stopped is not None:
                return stopped
            if self._lost is not None:
                return "lost", f"connection lost: {self._lost}"
            if halted is not None or self.engine.state is EngineState.FAILED:
                return "failed", halted or self.engine.failed or "failed"
        return "complete", ""

    def _drain_cancel(self) -> None:
        """Let a cancel write what the engine still owes (a reset after a hold...) before the port closes."""
        deadline = self.clock() + CANCEL_DRAIN_S
        while self.engine.draining and self.clock() < deadline:
            self._pump()

    def _shutdown_after_failure(self) -> None:
        try:
            self._write(self.engine.safe_shutdown())
            self._drain_cancel()
        except transport.TransportLost:
            pass  # nothing more can be said to a machine that is gone

    def _apply_pending_commands(self) -> tuple[str, str] | None:
        """Act on the control commands that arrived; return ``(outcome, reason)`` if one ended the run."""
        commands = self._take_commands()
        ended = None
        for command in commands:
            outcome = self._apply(command)
            if outcome:
                ended = (outcome, "emergency stop" if outcome == "estop" else "cancelled")
                break
        if commands and self.hooks.on_commands_applied:
            self.hooks.on_commands_applied()
        if ended is not None and ended[0] == "cancelled":
            self._drain_cancel()
        return ended

    def _stream_turn(self) -> tuple[str, str] | None:
        """Pump once; return ``(outcome, reason)`` once the job failed or completed, else None."""
        halted = self._pump()
        stopped = self._stopped_by_estop()
        if stopped is not None:  # the controller may already be answering the stop: not a failure
            return stopped
        if self._lost is not None:
            return "lost", f"connection lost: {self._lost}"
        if halted is not None or self.engine.state is EngineState.FAILED:
            reason = halted or self.engine.failed or "failed"
            self._shutdown_after_failure()
            return "failed", reason
        if self._cancelled_by_machine:
            self._drain_cancel()
            return "failed", "the machine asked to cancel the job (its own panel or firmware)"
        if self.engine.state is EngineState.COMPLETE:
            return self._await_idle() if self.engine.confirms_stop_by_status else ("complete", "")
        return None

    def _stream_until_done(self) -> tuple[str, str]:
        """Connect, then alternate control commands and pumping; return ``(outcome, reason)`` at the end.

        Raises TransportLost if the port goes away (``run`` turns that into the "lost" outcome).
        """
        self.engine.load(self.lines)
        self._write(self.engine.handshake(self.clock()))
        while True:
            ended = self._apply_pending_commands() or self._stream_turn()
            if ended is not None:
                return ended

    def run(self) -> StreamResult:
        """Run to the end and return what happened. Never raises for machine or wire trouble."""
        started = self.clock()
        control = threading.Thread(target=self._control_loop, name="mes-control", daemon=True)
        control.start()
        try:
            outcome, reason = self._stream_until_done()
        except transport.TransportLost as exc:
            outcome, reason = "lost", str(exc)
        finally:
            self._done.set()
            control.join(timeout=1)
        self._report(self.clock(), force=True)
        connected_at = self._connected_at
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
            host_lines=self._host_lines(),
            connect_seconds=None if connected_at is None else connected_at - started,
            bytes_after_connect=None if connected_at is None else self._written - self._written_at_connect,
        )

    def _host_lines(self) -> dict:
        lines = dict(self.engine.host_lines)
        if self._settle_added:
            settle = self.lines[-1][1]
            lines[settle] = lines.get(settle, 0) + 1
        return lines
