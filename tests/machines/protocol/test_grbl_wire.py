"""What the GRBL engine puts on the wire: no spaces, no comments, upper case; empty lines answered locally."""

from __future__ import annotations

import pytest

from machines.protocol import Acknowledged, EngineState, StreamComplete
from machines.protocol.grbl.wire import wire_text
from tests.machines.protocol.grbl_transcripts import STOCK_GRBL, connect


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("G1 X10 Y20 F300", "G1X10Y20F300"),
        ("g1 x1.5 (move right) y2", "G1X1.5Y2"),
        ("G0 Z5 ; lift", "G0Z5"),
        ("M3 S1000 (spindle on", "M3S1000"),  # an unclosed comment runs to the end of the line
        ("\tG4 P0.5 \x7f", "G4P0.5"),
        ("$J=G91 X10 F100", "$J=G91X10F100"),
        ("(only a comment)", ""),
        ("; only a comment", ""),
        ("   ", ""),
    ],
)
def test_wire_text(text, wire):
    assert wire_text(text) == wire


def test_program_lines_go_out_stripped_and_are_counted_at_their_stripped_size():
    link = connect(STOCK_GRBL)
    engine = link.engine
    link.controller.answer_lines = False
    engine.load([(1, "G21 G90 (metric, absolute)"), (2, "g1 x10 y20 f300 ; first cut"), (3, "G0 Z5")])
    start = len(link.written)
    link.turn()
    sent = bytes(link.written[start:]).replace(b"?", b"")
    assert sent == b"G21G90\nG1X10Y20F300\nG0Z5\n"
    assert engine.bytes_in_flight == len(sent)
    assert link.controller.lines[-3:] == ["G21G90", "G1X10Y20F300", "G0Z5"]


def test_the_prelude_goes_out_stripped_too():
    link = connect(STOCK_GRBL)
    prelude = link.engine.job_prelude(home=True, work_offsets={"G54": (10.0, 20.0, -5.0)})
    link.engine.load([(0, text) for text in prelude] + [(1, "G0 X1")])
    link.run_until(lambda: link.engine.state is EngineState.COMPLETE)
    assert link.controller.lines[-3:] == ["$H", "G10L2P1X10.000Y20.000Z-5.000", "G0X1"]
    assert b" " not in link.written


def test_a_line_that_strips_to_nothing_is_acknowledged_in_its_turn_without_being_sent():
    link = connect(STOCK_GRBL)
    engine = link.engine
    link.controller.answer_lines = False
    engine.load([(1, "G0 X1"), (2, "(change tool now)"), (3, "G0 X2"), (4, "; end")])
    link.turn()
    assert link.controller.lines[-2:] == ["G0X1", "G0X2"]
    assert of_type(link.events, Acknowledged) == []  # line 2 waits for line 1's ok

    events = engine.receive_data(b"ok\r\n", link.now)
    assert events == [Acknowledged(0, 1), Acknowledged(1, 2)]
    events = engine.receive_data(b"ok\r\n", link.now)
    assert events == [Acknowledged(2, 3), Acknowledged(3, 4), StreamComplete()]
    assert engine.lines_acknowledged == engine.lines_sent == 4
    assert engine.bytes_in_flight == 0


def test_a_program_of_comments_completes_without_a_byte():
    link = connect(STOCK_GRBL)
    link.engine.load([(1, "(nothing)"), (2, "; to do")])
    written = len(link.written)
    events = link.turn()
    assert of_type(events, StreamComplete) == [StreamComplete()]
    assert link.engine.state is EngineState.COMPLETE
    assert link.written[written:].replace(b"?", b"") == b""


def test_manual_commands_are_stripped():
    link = connect(STOCK_GRBL)
    assert link.engine.command("$J=G91 X10 F100 (nudge)") == b"$J=G91X10F100\n"
    link.engine.receive_data(b"ok\r\n", link.now)
    with pytest.raises(ValueError, match="nothing to send"):
        link.engine.command("(nothing)")
