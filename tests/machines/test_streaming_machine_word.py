"""The streaming loop hears the machine: a silent link, host actions, what the controller reported.

A scripted Marlin on a fake port (no pty, no simulator): each numbered line is answered at once, and a
test decides what else the printer says after a given program line, or when it falls silent. The clock
is a counter, so "2 s of silence" takes no time.
"""

import itertools

import pytest

from machines import streaming
from machines.protocol import EngineState
from machines.protocol.marlin import MarlinEngine

CAPS = b"Cap:AUTOREPORT_TEMP:1\nCap:EMERGENCY_PARSER:0\n"
M115 = b"FIRMWARE_NAME:Marlin 2.1.2 (scripted) EXTRUDER_COUNT:1\n"


class ScriptedMarlin:
    """A fake serial port: answers every line Marlin-style; ``after`` maps a program text to extra output."""

    def __init__(self, *, after: dict[str, bytes] | None = None, silent_after: str | None = None):
        self.after = after or {}
        self.silent_after = silent_after
        self.silent = False
        self.out = bytearray()
        self.written = bytearray()
        self.executed: list[str] = []
        self.reads = 0

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int) -> bytes:
        self.reads += 1
        if not self.silent and not self.out and self.reads % 50 == 0:
            self.out += b" T:200.0 /200.0 B:60.0 /60.0\n"  # auto-reports: about every 0.5 s of its clock
        data, self.out = bytes(self.out[:size]), self.out[size:]
        return data

    def write(self, data: bytes) -> int:
        self.written += data
        for raw in data.decode().splitlines():
            self._answer(raw)
        return len(data)

    def _answer(self, raw: str) -> None:
        if self.silent:
            return
        text = raw.split(" ", 1)[1].rsplit("*", 1)[0] if raw.startswith("N") else raw
        if text == "M115":
            self.out += M115 + CAPS
        elif raw.startswith("N") and not text.startswith(("M110", "M155", "M113", "M105", "M400")):
            self.executed.append(text)
        self.out += b"ok\n"
        self.out += self.after.get(text, b"")
        if text == self.silent_after:
            self.silent = True


def run(port, lines, hooks=None):
    ticks = itertools.count()
    session = streaming.StreamSession(
        engine=MarlinEngine(),
        port=port,
        lines=[(n, text) for n, text in enumerate(lines, start=1)],
        hooks=hooks or streaming.StreamHooks(),
        clock=lambda: next(ticks) * 0.01,  # every call: 10 ms later
    )
    return session.run()


def test_a_printer_that_falls_silent_mid_print_ends_the_run_as_a_lost_connection():
    port = ScriptedMarlin(silent_after="G1 X2")
    result = run(port, ["G1 X1", "G1 X2", "G1 X3"])
    assert result.outcome == "lost"
    assert result.reason.startswith("connection lost: no word from the printer for 2.0 s")


def test_a_filament_runout_pauses_the_feed_and_tells_the_host():
    said = []
    port = ScriptedMarlin(after={"G1 X2": b"//action:out_of_filament T0\n"})
    hooks = streaming.StreamHooks(
        on_host_action=lambda action, detail: said.append((action, detail)),
        poll_commands=lambda: ["resume"] if said else [],
    )
    telemetry = []
    hooks.on_telemetry = telemetry.append
    result = run(port, ["G1 X1", "G1 X2", "G1 X3"], hooks)
    assert said == [("out_of_filament", "T0")]
    assert result.outcome == "complete" and port.executed == ["G1 X1", "G1 X2", "G1 X3"]
    assert any(t["message"] == "Filament ran out T0" for t in telemetry)


def test_the_printer_asking_to_cancel_ends_the_run_and_turns_the_heaters_off():
    port = ScriptedMarlin(after={"G1 X1": b"//action:cancel\n"})
    result = run(port, ["G1 X1", "G1 X2", "G1 X3"])
    assert result.outcome == "failed" and "asked to cancel" in result.reason
    assert b"M104 S0\n" in port.written and "G1 X3" not in port.executed


def test_the_controller_report_is_handed_over_once_connected():
    reports = []
    run(ScriptedMarlin(), ["G1 X1"], streaming.StreamHooks(on_controller_report=reports.append))
    assert len(reports) == 1
    assert reports[0]["firmware_name"].startswith("Marlin 2.1.2")
    assert "EMERGENCY_PARSER" in reports[0]["warnings"][0]


def test_the_run_says_which_lines_the_host_added():
    result = run(ScriptedMarlin(), ["G1 X1", "G1 X2"])
    assert result.outcome == "complete"
    assert result.host_lines == {"M110 N0": 1, "M115": 1, "M155 S1": 1, "M113 S1": 1, "M400": 1}
    assert result.lines_total == 3  # the program's two lines and the settle command
    # The connection's cost is told apart from the streaming's.
    assert 0 < result.connect_seconds < result.seconds
    assert 0 < result.bytes_after_connect < result.bytes_written
    assert result.streaming_bytes_per_second > 0


@pytest.mark.parametrize("state", [EngineState.PAUSED])
def test_a_paused_print_whose_printer_falls_silent_is_lost_too(state):
    port = ScriptedMarlin(silent_after="G1 X1")
    hooks = streaming.StreamHooks(poll_commands=iter([["pause"]] + [[]] * 10_000).__next__)
    result = run(port, ["G1 X1", "G1 X2"], hooks)
    assert result.outcome == "lost"
