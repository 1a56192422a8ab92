"""The streaming loop holds no firmware knowledge: a third, made-up firmware streams through it unchanged.

The fake engine below speaks "Toy" firmware: one line at a time, ``ok`` answers, its own E-STOP bytes, a
settle command, an Idle confirmation and a cancel that owes the wire one more write. If the loop still
special-cased GRBL or Marlin anywhere, one of these tests would see the wrong bytes on the wire.
"""

import ast
import inspect
import threading
from collections.abc import Sequence

import pytest

from machines import protocol, runner, streaming, transport
from machines.protocol import EngineState, ProtocolEngine
from machines.protocol.events import Acknowledged, Event, StatusReport
from machines.protocol.grbl import GrblEngine
from machines.protocol.marlin import MarlinEngine

TOY_ESTOP = b"\x00TOY-HALT\n"
TOY_SHUTDOWN = b"TOY-COOL\n"
TOY_CANCEL = b"TOY-HOLD\n"
TOY_RESET = b"TOY-RESET\n"


def idle_report() -> StatusReport:
    return StatusReport("Idle", (0.0, 0.0, 0.0), None, None, None, None, None, None, None, None, None, "idle")


class ToyEngine(ProtocolEngine):
    """Ping-pong engine for a firmware the loop has never heard of."""

    firmware = "toy"

    def __init__(self, *, settle: str | None = None, status_confirms: bool = False) -> None:
        super().__init__()
        self._settle = settle
        self._status_confirms = status_confirms
        self._cursor = 0
        self._waiting = False
        self._reset_owed = False

    @property
    def in_flight(self) -> int:
        return int(self._waiting)

    @property
    def draining(self) -> bool:
        return self._reset_owed

    @property
    def confirms_stop_by_status(self) -> bool:
        return self._status_confirms

    def estop_bytes(self) -> bytes:
        return TOY_ESTOP

    def settle_command(self) -> str | None:
        return self._settle

    def _reset_program_cursor(self) -> None:
        self._cursor = 0

    def _note_received(self, now: float) -> None:
        pass

    def _handle_line(self, text: str, now: float) -> list[Event]:
        if text == "idle":
            return [idle_report()]
        if text != "ok" or not self._waiting:
            return []
        self._waiting = False
        self._lines_acknowledged += 1
        self._lines_answered += 1
        line = self._program[self._cursor - 1]
        return [Acknowledged(line.index, line.source_line), *self._complete_if_done()]

    def handshake(self, now: float) -> bytes:
        self._transition(EngineState.HANDSHAKING)
        self._transition(EngineState.READY)
        self._start_loaded_program()
        return b"TOY-HELLO\n"

    def load(self, lines: Sequence[tuple[int, str]]) -> None:
        self._store_program(lines)

    def data_to_send(self, now: float) -> bytes:
        if self._state is not EngineState.STREAMING or self._waiting or self._cursor >= len(self._program):
            return b""
        self._waiting = True
        self._lines_sent += 1
        self._cursor += 1
        return self._program[self._cursor - 1].text.encode() + b"\n"

    def poll(self, now: float) -> bytes:
        if self._reset_owed:
            self._reset_owed = False  # the drain's last write: the loop must pump until it is out
            return TOY_RESET
        if self._status_confirms and self._state is EngineState.COMPLETE:
            return b"?\n"  # only a loop that waits for Idle pumps after COMPLETE
        return b""

    def next_deadline(self, now: float) -> float | None:
        return None

    def pause(self) -> bytes:
        self._transition(EngineState.PAUSED)
        return b""

    def resume(self) -> bytes:
        self._transition(EngineState.STREAMING)
        return b""

    def cancel(self) -> bytes:
        self._stop("cancelled")
        self._reset_owed = True
        return TOY_CANCEL

    def emergency_stop(self) -> bytes:
        self._stop("emergency stop")
        return TOY_ESTOP

    def safe_shutdown(self) -> bytes:
        return TOY_SHUTDOWN


class ToyFirmware:
    """An in-memory port with a firmware behind it: answers ``ok`` to each line, ``idle`` to ``?``.

    ``answer_limit`` lines are answered, later ones are left pending (a machine that is busy). Reads wait
    on a condition like a real port's read timeout, so the loop does not spin.
    """

    def __init__(self, *, answer_limit: int | None = None) -> None:
        self.wire = bytearray()  # everything the host wrote
        self.lines: list[str] = []
        self._answered = 0
        self._answers = bytearray()
        self._answer_limit = answer_limit
        self._changed = threading.Condition()

    def write(self, data: bytes) -> int:
        with self._changed:
            self.wire.extend(data)
            for raw in bytes(data).split(b"\n")[:-1]:
                self._answer(raw.decode())
            self._changed.notify_all()
        return len(data)

    def _answer(self, text: str) -> None:
        self.lines.append(text)
        if text == "?":
            self._answers.extend(b"idle\n")
        elif text.startswith("TOY-") or "\x00" in text:
            return  # control bytes, not lines the firmware acknowledges
        elif self._answer_limit is None or self._answered < self._answer_limit:
            self._answered += 1
            self._answers.extend(b"ok\n")

    @property
    def in_waiting(self) -> int:
        return len(self._answers)

    def read(self, size: int = 1) -> bytes:
        with self._changed:
            self._changed.wait_for(lambda: self._answers, timeout=0.005)
            data, self._answers = bytes(self._answers[:size]), self._answers[size:]
        return data


def program(count: int) -> list[tuple[int, str]]:
    return [(n + 1, f"MOVE {n}") for n in range(count)]


def session(engine, port, lines, **hooks) -> streaming.StreamSession:
    return streaming.StreamSession(
        engine=engine, port=port, lines=lines, hooks=streaming.StreamHooks(**hooks), control_interval=0.001
    )


def test_a_third_firmware_streams_to_completion_and_gets_its_settle_command():
    port = ToyFirmware()
    result = session(ToyEngine(settle="SETTLE"), port, program(5)).run()

    assert result.outcome == "complete", result.reason
    assert result.lines_total == 6
    assert result.lines_acknowledged == 6
    assert port.lines == ["TOY-HELLO", *(f"MOVE {n}" for n in range(5)), "SETTLE"]


def test_no_settle_command_is_added_when_the_engine_has_none_or_the_program_ends_with_it():
    bare = session(ToyEngine(), ToyFirmware(), program(3))
    ending = session(ToyEngine(settle="MOVE 2"), ToyFirmware(), program(3))

    assert bare.lines == program(3)
    assert ending.lines == program(3)


@pytest.mark.parametrize("confirms", [True, False])
def test_the_loop_waits_for_an_idle_report_only_when_the_engine_says_so(confirms):
    port = ToyFirmware()
    telemetry = []
    result = session(
        ToyEngine(status_confirms=confirms), port, program(4), on_telemetry=telemetry.append
    ).run()

    assert result.outcome == "complete", result.reason
    assert ("?" in port.lines) is confirms  # the engine asks only while the loop waits after COMPLETE
    assert (telemetry[-1]["state"] == "Idle") is confirms


def test_an_estop_writes_the_engines_own_bytes_once_and_nothing_after_them():
    port = ToyFirmware(answer_limit=3)  # then the machine stays busy: only the E-STOP can end the run
    sent_at = []
    requested = threading.Event()

    def poll_commands():
        if requested.is_set():
            return []
        if port.lines.count("MOVE 3") == 1:  # the fourth line is out and will never be answered
            requested.set()
            return ["estop"]
        return []

    engine = ToyEngine()
    result = session(
        engine, port, program(50), poll_commands=poll_commands, on_estop_sent=sent_at.append
    ).run()

    assert result.outcome == "estop"
    assert result.reason == "emergency stop"
    assert sent_at == [result.estop_sent_at]
    assert bytes(port.wire).count(TOY_ESTOP) == 1
    assert bytes(port.wire).endswith(TOY_ESTOP)  # the shutdown lines after it are held back
    assert b"M112" not in port.wire and b"!\x18" not in port.wire
    assert engine.stop_reason == "emergency stop"


def test_a_cancel_drains_what_the_engine_still_owes_before_returning():
    port = ToyFirmware(answer_limit=2)
    done = threading.Event()

    def poll_commands():
        if not done.is_set() and "MOVE 2" in port.lines:
            done.set()
            return ["cancel"]
        return []

    engine = ToyEngine()
    result = session(engine, port, program(20), poll_commands=poll_commands).run()

    assert result.outcome == "cancelled"
    assert port.lines[-2:] == ["TOY-HOLD", "TOY-RESET"]
    assert not engine.draining


def test_the_streaming_module_names_no_engine_class_and_sniffs_no_features():
    tree = ast.parse(inspect.getsource(streaming))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }

    assert not {"GrblEngine", "MarlinEngine"} & names
    assert "getattr" not in calls and "hasattr" not in calls
    for node in ast.walk(tree):  # isinstance only for events, never for the engine
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            assert "engine" not in ast.unparse(node.args[0])


@pytest.mark.parametrize("engine", [GrblEngine(), MarlinEngine()], ids=["grbl", "marlin"])
def test_estop_bytes_are_what_emergency_stop_writes_and_asking_changes_nothing(engine):
    before = engine.state
    wire = engine.estop_bytes()

    assert engine.state is before
    assert engine.emergency_stop() == wire
    assert engine.state is EngineState.STOPPED


def test_the_real_engines_declare_their_wire_facts():
    assert GrblEngine().estop_bytes() == b"!\x18"
    assert MarlinEngine().estop_bytes() == b"M112\n"
    assert (GrblEngine().settle_command(), MarlinEngine().settle_command()) == (None, "M400")
    assert (GrblEngine().confirms_stop_by_status, MarlinEngine().confirms_stop_by_status) == (True, False)
    assert (GrblEngine.supports_dry_run, MarlinEngine.supports_dry_run) == (True, False)


def test_a_grbl_cancel_is_drained_until_its_reset_is_due():
    engine = GrblEngine()
    engine.handshake(0.0)
    engine.receive_data(b"\r\nGrbl 1.1h ['$' for help]\r\n<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n", 0.1)
    engine.load([(1, "G1 X1 F100")])

    engine.cancel()

    assert engine.draining
    assert not MarlinEngine().draining


def test_the_registry_builds_an_engine_for_each_firmware_by_name():
    assert {name: fw.engine for name, fw in protocol.firmwares().items()} == {
        "grbl": GrblEngine,
        "marlin": MarlinEngine,
    }
    assert isinstance(streaming.engine_for("grbl", dry_run=True), GrblEngine)
    assert isinstance(protocol.engine_for("marlin"), MarlinEngine)
    with pytest.raises(ValueError, match="unknown firmware 'toy'"):
        protocol.engine_for("toy")


class _Machine:
    def __init__(self, firmware, requires_homing, work_offsets):
        self.firmware = firmware
        self.requires_homing = requires_homing
        self.work_offsets = work_offsets


def test_the_runner_prelude_comes_from_the_engine():
    offsets = {"G55": (1, 2, 3), "G54": (10.5, 0, -1), "G92": (9, 9, 9)}

    assert runner.prelude_lines(_Machine("grbl", True, offsets)) == [
        (0, "$H"),
        (0, "G10 L2 P1 X10.500 Y0.000 Z-1.000"),
        (0, "G10 L2 P2 X1.000 Y2.000 Z3.000"),
    ]
    assert runner.prelude_lines(_Machine("grbl", False, None)) == []
    assert runner.prelude_lines(_Machine("marlin", True, offsets)) == []


def test_the_transport_helpers_accept_the_toy_port():
    port = ToyFirmware()
    transport.write_all(port, b"MOVE 0\n")

    assert transport.read_available(port) == b"ok\n"
