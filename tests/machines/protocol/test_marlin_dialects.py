"""The Marlin engine against what the wider family really says: recorded transcripts of each variant.

Texts: Marlin 2.x (``queue.cpp``), Prusa firmware, OctoPrint's virtual printer and RepRapFirmware in
Marlin mode. Each rejection must cost exactly one retransmission and never fail the job; only halts do.
"""

from __future__ import annotations

import pytest

from machines.protocol import (
    Acknowledged,
    ConnectionLost,
    EngineState,
    Halted,
    HostAction,
    StreamComplete,
)
from machines.protocol.marlin import MarlinEngine, frame_line
from tests.machines.protocol.test_marlin import M115_REPLY, TEMPS, caps, connected, of_type, program

AUTOREPORT = b" T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0\n"

LINE_ERRORS = [
    b"Error:checksum mismatch, Last Line: 3",
    b"Error:Line Number is not Last Line Number+1, Last Line: 3",
    b"Error:No Checksum with line number, Last Line: 3",
    b"Error:No Line Number with checksum, Last Line: 3",
    b"Error: Missing checksum",
    b"Error: Checksum mismatch",
    b"Error: expected line 4 got 5",
    b"Error: Line Number is not Last Line Number+1, Last Line: 3",
]

# How the rest of a rejection arrives after the error line, per firmware and timing.
SEQUENCES = {
    "resend then ok (Marlin)": [b"Resend: 4\nok\n"],
    "late resend (temperature first)": [AUTOREPORT, b"Resend: 4\n", b"ok\n"],
    "ok without resend": [b"ok\n"],
    "ok, then a late resend and its ok": [b"ok\n", AUTOREPORT, b"Resend: 4\nok\n"],
    "rs form": [b"rs N4\nok\n"],
}


def ready(**options) -> MarlinEngine:
    """Connected, auto-reporting, housekeeping answered: the next numbered line is N4."""
    engine = connected(caps(AUTOREPORT_TEMP=1, EMERGENCY_PARSER=1), **options)
    for _ in range(2):  # M155 S1, M113 S1
        engine.data_to_send(0.0)
        engine.receive_data(b"ok\n", 0.0)
    return engine


@pytest.mark.parametrize("error", LINE_ERRORS, ids=lambda e: e.decode())
@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_every_line_error_is_a_request_to_resend_once(error, sequence):
    engine = ready()
    engine.load(program("G1 X1", "G1 X2"))
    first = engine.data_to_send(0.0)
    assert first == frame_line(4, "G1 X1")
    events = engine.receive_data(error + b"\n", 0.1)
    for chunk in sequence:
        events += engine.receive_data(chunk, 0.2)
    assert not of_type(events, Halted) and engine.state is EngineState.STREAMING
    assert engine.lines_acknowledged == 0  # the rejected line's ok acknowledged nothing
    assert engine.data_to_send(0.3) == first  # sent again, once
    assert engine.receive_data(b"ok\n", 0.4) == [Acknowledged(0, 1)]
    assert engine.data_to_send(0.4) == frame_line(5, "G1 X2")
    assert engine.receive_data(b"ok\n", 0.5) == [Acknowledged(1, 2), StreamComplete()]
    assert engine.resends == 1 and engine.errors == 0


@pytest.mark.parametrize(
    "line",
    [
        b"Error:Printer halted. kill() called!",
        b"Error:Thermal Runaway, system stopped! Heater_ID: 0",
        b"!! Printer halted",
        b"Error: MAXTEMP triggered, system stopped! Heater_ID: bed",
    ],
)
def test_only_halts_end_the_job(line):
    engine = ready()
    engine.load(program("G1 X1"))
    engine.data_to_send(0.0)
    assert isinstance(engine.receive_data(line + b"\n", 0.1)[-1], Halted)
    assert engine.state is EngineState.FAILED


def test_a_late_ok_from_a_retried_handshake_never_shifts_the_count():
    engine = MarlinEngine(handshake_timeout=5.0)
    assert engine.handshake(0.0) == frame_line(0, "M110 N0")
    assert engine.poll(5.0) == frame_line(0, "M110 N0")  # retried: the first one went unanswered
    assert engine.receive_data(b"ok\n", 5.1) == []  # the first M110's ok, late
    assert engine.data_to_send(5.1) == frame_line(1, "M115")
    assert engine.receive_data(b"ok\n", 5.2) == []  # the second M110's: not M115's answer
    assert engine.state is EngineState.HANDSHAKING
    engine.receive_data(M115_REPLY + caps(AUTOREPORT_TEMP=1) + b"ok\n", 5.3)
    assert engine.state is EngineState.READY
    engine.load(program("G1 X1"))
    assert engine.data_to_send(5.3) == frame_line(2, "M155 S1")
    engine.receive_data(b"ok\n", 5.4)
    assert engine.data_to_send(5.4) == frame_line(3, "M113 S1")
    engine.receive_data(b"ok\n", 5.5)
    assert engine.data_to_send(5.5) == frame_line(4, "G1 X1")
    assert engine.receive_data(b"ok\n", 5.6) == [Acknowledged(0, 1), StreamComplete()]


def test_the_handshake_never_has_two_lines_in_flight():
    engine = MarlinEngine()
    assert engine.handshake(0.0).count(b"\n") == 1
    assert engine.data_to_send(0.0) == b"" and engine.in_flight == 1


def test_cancel_during_a_heat_up_breaks_it_with_m108_when_the_emergency_parser_reads_it():
    engine = ready()
    engine.load(program("M109 S210", "G1 X1"))
    engine.data_to_send(0.0)
    assert engine.cancel() == b"M108\nM104 S0\nM140 S0\nM107\n"

    no_parser = connected(caps(AUTOREPORT_TEMP=1, EMERGENCY_PARSER=0))
    no_parser.load(program("M109 S210"))
    no_parser.data_to_send(0.0)
    assert not no_parser.cancel().startswith(b"M108")  # it would only queue behind the wait


def test_a_missing_emergency_parser_is_reported_in_words():
    assert connected(caps(EMERGENCY_PARSER=1)).controller_report()["warnings"] == []
    warnings = connected(caps(EMERGENCY_PARSER=0)).controller_report()["warnings"]
    assert len(warnings) == 1 and "EMERGENCY_PARSER" in warnings[0]


def test_filament_runout_pauses_feeding_and_reaches_the_host():
    engine = ready()
    engine.load(program("G1 X1", "G1 X2", "G1 X3"))
    engine.data_to_send(0.0)
    events = engine.receive_data(b"//action:out_of_filament T0\nok\n", 0.1)
    assert HostAction("out_of_filament", "T0") in events
    assert engine.state is EngineState.PAUSED
    assert engine.data_to_send(0.2) == b""  # nothing more is fed
    engine.receive_data(b"//action:resumed\n", 5.0)
    assert engine.state is EngineState.STREAMING
    assert engine.data_to_send(5.0) == frame_line(5, "G1 X2")


def test_a_host_prompt_arrives_as_one_question_with_its_choices():
    engine = ready()
    events = engine.receive_data(
        b"//action:prompt_begin FilamentRunout T0\n//action:prompt_choice Purge More\n"
        b"//action:prompt_button Continue\n//action:prompt_show\n",
        0.1,
    )
    assert events == [HostAction("prompt", "FilamentRunout T0 (choices: Purge More / Continue)")]


@pytest.mark.parametrize("action", ["pause", "paused"])
def test_the_printer_asking_to_pause_stops_the_feed(action):
    engine = ready()
    engine.load(program("G1 X1", "G1 X2"))
    engine.data_to_send(0.0)
    assert HostAction(action) in engine.receive_data(f"//action:{action}\n".encode(), 0.1)
    assert engine.state is EngineState.PAUSED


@pytest.mark.parametrize(
    "situation",
    ["idle", "printing", "paused", "heating"],
)
def test_a_silent_printer_is_noticed_within_two_seconds_in_every_state(situation):
    engine = ready()
    if situation != "idle":
        engine.load(program("M109 S210" if situation == "heating" else "G1 X1", "G1 X2"))
        engine.data_to_send(9.0)
    if situation == "paused":
        engine.pause()
    engine.receive_data(AUTOREPORT, 10.0)  # the last word before the cable is pulled
    assert engine.poll(11.9) == b"" and engine.state is not EngineState.FAILED
    engine.poll(12.0)
    events = engine.receive_data(b"", 12.0)
    lost = of_type(events, ConnectionLost)
    assert lost and lost[0].silent_for == pytest.approx(2.0)
    assert engine.failed.startswith("connection lost")
    assert engine.next_deadline(12.0) is None


def test_without_auto_reports_an_idle_printer_is_still_polled_so_silence_shows():
    engine = connected(caps(AUTOREPORT_TEMP=0))
    engine.poll(0.0)
    engine.receive_data(b"ok\n", 0.0)  # M113
    engine.poll(0.0)
    engine.receive_data(b"ok " + TEMPS + b"\n", 0.1)  # then nothing more
    assert engine.poll(1.1) == frame_line(4, "M105")
    engine.poll(2.1)
    assert of_type(engine.receive_data(b"", 2.1), ConnectionLost)


def test_the_host_says_which_lines_it_added():
    engine = ready()
    engine.load(program("G1 X1"))
    engine.data_to_send(0.0)
    engine.receive_data(b"ok\n", 0.1)
    assert engine.host_lines == {"M110 N0": 1, "M115": 1, "M155 S1": 1, "M113 S1": 1}
