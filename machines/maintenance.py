"""A maintenance session: one controller command (unlock, home) on a port no job holds.

After an alarm the controller refuses motion until it is unlocked or homed. No job runs then, so nothing
holds the port: the session opens it (:mod:`machines.transport`), identifies the controller through the
engine's handshake, sends the engine's ``maintenance_command(kind)``, waits for its answer (the line's
acknowledgement, an error or an alarm) within a bounded time, reads one more status report to say what
state the controller is left in, and closes the port.

Like :mod:`machines.streaming`, this module knows neither Django nor any firmware: the caller passes the
engine, the port and a hook that reads the control channel, so that an E-STOP pressed while the spindle
homes is written to the wire at once (the session is then the only one holding the port).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from machines import transport
from machines.protocol import Alarm, EngineState, FirmwareError, Halted, ProtocolEngine, StatusReport

log = logging.getLogger(__name__)

#: Bounded waits, in seconds: an unlock is answered at once; homing moves every axis to its switches at
#: the homing seek rate, which on a large mill takes minutes.
TIMEOUTS_S = {"unlock": 10.0, "home": 300.0}
#: After the answer: how long to wait for the status report that says what state the controller is in.
STATUS_AFTER_S = 2.0
#: The longest a session may hold the port (the slowest command, the status after it, connecting): a
#: command taken longer ago than this and still without an outcome belongs to a worker that died.
SESSION_LIMIT_S = max(TIMEOUTS_S.values()) + STATUS_AFTER_S + 30.0


@dataclass(frozen=True)
class MaintenanceResult:
    """How the command ended.

    ``answer``: "ok" (acknowledged), "error" (refused by the controller), "alarm" (the controller raised
    an alarm, e.g. homing could not find a switch), "timeout" (no answer in time: the controller was
    stopped), "estop" (an E-STOP ended it), "handshake" (the controller did not identify itself) or "lost"
    (the port could not be used). ``detail`` is the controller's words; ``state`` the controller state
    last reported ("" if none).
    """

    answer: str
    detail: str
    state: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.answer == "ok"


@dataclass
class MaintenanceSession:
    """Send ``kind`` through ``engine`` over an open ``port``; ``run()`` returns a :class:`MaintenanceResult`.

    ``poll_commands`` (optional) returns control commands ("estop" is the only one honoured here);
    ``on_estop_sent`` is called right after the stop's bytes are written. The caller closes the port.
    """

    engine: ProtocolEngine
    port: object
    kind: str
    timeout_s: float | None = None
    poll_commands: Callable[[], list[str]] | None = None
    on_estop_sent: Callable[[], None] | None = None
    control_interval: float = 0.005
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._state = ""
        self._status_reports = 0
        self._last_control = float("-inf")
        self._sent = False  # alarms before the command announce the state it is sent to clear

    def run(self) -> MaintenanceResult:
        """Never raises for machine or wire trouble; a kind the engine lacks raises UnsupportedCommand
        before a byte is written."""
        if self.kind not in self.engine.maintenance_commands:
            self.engine.maintenance_command(self.kind)  # raises UnsupportedCommand with the engine's words
        started = self.clock()
        try:
            answer, detail = self._run()
        except transport.TransportLost as exc:
            answer, detail = "lost", str(exc)
        return MaintenanceResult(answer, detail, self._state, self.clock() - started)

    # -- the steps --------------------------------------------------------------------------------
    def _run(self) -> tuple[str, str]:
        engine = self.engine
        transport.write_all(self.port, engine.handshake(self.clock()))
        while engine.state is EngineState.HANDSHAKING:
            outcome = self._turn()
            if outcome is not None:
                return outcome
        if engine.state is not EngineState.READY:
            return "handshake", engine.failed or "the controller did not identify itself"
        transport.write_all(self.port, engine.maintenance_command(self.kind, self.clock()))
        self._sent = True
        deadline = self.clock() + (self.timeout_s or TIMEOUTS_S.get(self.kind, 10.0))
        while engine.in_flight:
            outcome = self._turn()
            if outcome is not None:
                return outcome
            if self.clock() >= deadline:
                # Homing may still be moving the spindle: stop the controller before giving up on it.
                transport.write_all(self.port, engine.estop_bytes())
                waited = self.timeout_s or TIMEOUTS_S.get(self.kind, 10.0)
                return "timeout", f"no answer within {waited:g} s; the controller was stopped"
        self._await_status()
        return "ok", "ok"

    def _await_status(self) -> None:
        """Wait (briefly) for a status report after the answer, so ``state`` is the state it left."""
        seen, deadline = self._status_reports, self.clock() + STATUS_AFTER_S
        while self._status_reports == seen and self.clock() < deadline:
            if self._turn() is not None:
                return

    def _turn(self) -> tuple[str, str] | None:
        """Pump once (send what is due, read what arrived, look at the control channel); return
        ``(answer, detail)`` if the controller ended the command."""
        if self._estop_requested():
            transport.write_all(self.port, self.engine.estop_bytes())
            self.engine.emergency_stop()
            if self.on_estop_sent:
                self.on_estop_sent()
            return "estop", "emergency stop"
        now = self.clock()
        transport.write_all(self.port, self.engine.data_to_send(now) + self.engine.poll(now))
        data = transport.read_available(self.port)
        for event in self.engine.receive_data(data, self.clock()):
            if isinstance(event, StatusReport):
                self._state = event.state
                self._status_reports += 1
            elif isinstance(event, Alarm) and self._sent:
                return "alarm", f"ALARM:{event.code} {event.message}" if event.code else event.message
            elif isinstance(event, FirmwareError) and self._sent:
                return "error", f"error:{event.code} {event.message}" if event.code else event.message
            elif isinstance(event, Halted):
                return "handshake", event.reason
        return None

    def _estop_requested(self) -> bool:
        if self.poll_commands is None or self.clock() - self._last_control < self.control_interval:
            return False
        self._last_control = self.clock()
        try:
            return "estop" in self.poll_commands()
        except Exception:  # a database hiccup must not end the session: the next turn asks again
            log.exception("polling the control channel failed; retrying")
            return False
