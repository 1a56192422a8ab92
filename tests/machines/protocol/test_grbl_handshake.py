"""GRBL connect: ``$I``/``$$`` read before READY, buffer sizes learned, the settings check (fake clock)."""

from __future__ import annotations

import pytest

from machines.protocol import BuildInfo, ControllerSettings, EngineState, Halted, StreamComplete
from machines.protocol.grbl import GrblEngine
from machines.protocol.grbl.wire import FALLBACK_RX_BUFFER, parse_build_options, usable_rx_bytes
from tests.machines.protocol.grbl_transcripts import (
    GRBLHAL,
    NEITHER,
    SILENT_TO_QUERIES,
    STOCK_GRBL,
    STOCK_SETTINGS,
    TRANSCRIPTS,
    Link,
    ScriptedGrbl,
    Transcript,
    connect,
)


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda t: t.name)
def test_the_buffers_are_learned_from_what_the_controller_reports(transcript: Transcript):
    link = connect(transcript)
    engine = link.engine
    assert engine.state is EngineState.READY
    assert engine.rx_buffer_size == transcript.rx_buffer_size
    assert engine.planner_blocks == transcript.planner_blocks
    # One question at a time, after the reset; nothing else but status polls.
    assert link.controller.lines == ["$I", "$$"]
    assert link.written.replace(b"?", b"") == b"\x18$I\n$$\n"


def test_stock_grbl_build_info_and_settings_become_one_event_each():
    link = connect(STOCK_GRBL)
    assert of_type(link.events, BuildInfo) == [BuildInfo("1.1h.20190825", "V", 15, 128)]
    assert link.engine.build_info == BuildInfo("1.1h.20190825", "V", 15, 128)
    (listed,) = of_type(link.events, ControllerSettings)
    assert listed.settings == STOCK_SETTINGS
    assert dict(link.engine.settings) == STOCK_SETTINGS
    assert link.engine.settings["130"] == "200.000" and link.engine.settings["22"] == "1"


def test_grblhal_reports_its_1024_byte_buffer_and_the_extra_lines_stay_messages():
    link = connect(GRBLHAL)
    assert link.engine.build_info == BuildInfo("1.1f.20240110", "VNMSL", 35, 1024)
    assert link.engine.rx_buffer_size == 1023  # Bf:35,1023 at rest, the ring keeps one slot empty
    assert link.engine.settings["341"] == "0"


def test_grblhal_without_buffer_state_counts_against_opt_minus_one():
    without_bf = Transcript(
        "grblHAL $10=1",
        banner=GRBLHAL.banner,
        build_info=GRBLHAL.build_info,
        settings=GRBLHAL.settings,
        status=b"<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n",
        rx_buffer_size=1023,
        planner_blocks=35,
    )
    assert connect(without_bf).engine.rx_buffer_size == 1023


def test_an_explicit_buffer_size_is_never_overridden():
    assert connect(GRBLHAL, rx_buffer_size=256).engine.rx_buffer_size == 256


def test_before_connecting_the_fallback_is_assumed():
    engine = GrblEngine()
    assert engine.rx_buffer_size == FALLBACK_RX_BUFFER == 127
    assert engine.settings == {} and engine.build_info is None and engine.planner_blocks is None


@pytest.mark.parametrize(
    ("opt", "bf", "usable"),
    [(128, 128, 128), (1024, 1023, 1023), (None, 128, 128), (128, None, 127), (None, None, 127)],
)
def test_usable_bytes_rule(opt, bf, usable):
    assert usable_rx_bytes(opt, bf) == usable


def test_build_options_parsing_tolerates_forks():
    assert parse_build_options("V,15,128") == ("V", 15, 128)
    assert parse_build_options("VNMSL,35,1024,3,0") == ("VNMSL", 35, 1024)
    assert parse_build_options("PH") == ("PH", None, None)


def test_a_controller_that_ignores_the_questions_does_not_hang_the_handshake():
    seen = []
    link = connect(SILENT_TO_QUERIES, settings_check=lambda settings: seen.append(dict(settings)))
    engine = link.engine
    assert engine.state is EngineState.READY
    assert seen == [{}]  # the check decides what an unlisted table means
    assert engine.rx_buffer_size == FALLBACK_RX_BUFFER
    assert link.now < 2 * engine.query_timeout + 0.5  # each question waited at most its timeout
    assert of_type(link.events, ControllerSettings) == [ControllerSettings({})]
    # A late answer to the abandoned question is swallowed, not taken for a program line's ok.
    engine.load([(1, "G0 X1")])
    assert engine.receive_data(b"ok\r\n", link.now) == []
    assert engine.data_to_send(link.now) == b"G0X1\n"
    assert engine.receive_data(b"ok\r\n", link.now)[-1] == StreamComplete()


def test_an_error_to_the_questions_is_an_answer_too():
    erroring = Transcript(
        "errors",
        banner=STOCK_GRBL.banner,
        build_info=b"error:3\r\n",
        settings=b"error:3\r\n",
        status=STOCK_GRBL.status,
        rx_buffer_size=127,
        planner_blocks=None,
    )
    link = connect(erroring)
    assert link.engine.state is EngineState.READY
    assert link.now < 0.5  # no timeout was needed
    assert link.engine.settings == {}


def test_settings_check_sees_the_settings_once_and_passes():
    calls = []

    def check(settings):
        calls.append(dict(settings))
        return None

    link = connect(STOCK_GRBL, settings_check=check)
    assert link.engine.state is EngineState.READY
    assert calls == [STOCK_SETTINGS]


def test_a_refused_settings_check_fails_before_any_program_byte_is_written():
    def check(settings):
        return f"$130 is {settings['130']} mm, the record says 300 mm"

    engine = GrblEngine(settings_check=check)
    link = Link(engine, ScriptedGrbl(STOCK_GRBL))
    engine.load([(1, "G21"), (2, "G0 X10")])  # loaded before connecting, as the runner does
    link.write(engine.handshake(link.now))
    link.run_until(lambda: engine.state is not EngineState.HANDSHAKING)
    for _ in range(50):  # the loop would keep pumping until it sees the Halted
        link.turn()

    reason = "controller settings do not match the machine record: $130 is 200.000 mm, the record says 300 mm"
    assert engine.state is EngineState.FAILED and engine.failed == reason
    assert of_type(link.events, Halted) == [Halted(reason)]
    assert link.controller.lines == ["$I", "$$"]  # no program line reached the controller
    assert b"G" not in link.written and engine.lines_sent == 0


def test_a_grblhal_job_streams_against_the_learned_buffer():
    link = connect(GRBLHAL)
    engine = link.engine
    link.controller.answer_lines = False  # a busy planner: nothing is answered yet
    engine.load([(n, f"G1 X{n}.123 Y{n}.456 F1000") for n in range(1, 101)])
    link.turn()
    assert 900 < engine.bytes_in_flight <= 1023


def test_the_learned_size_checks_loaded_lines_that_can_never_fit():
    tiny = Transcript(
        "tiny",
        banner=STOCK_GRBL.banner,
        build_info=STOCK_GRBL.build_info,
        settings=STOCK_GRBL.settings,
        status=b"<Idle|MPos:0.000,0.000,0.000|Bf:15,8|FS:0,0>\r\n",
        rx_buffer_size=8,
        planner_blocks=15,
    )
    engine = GrblEngine()
    link = Link(engine, ScriptedGrbl(tiny))
    engine.load([(7, "G1 X100.5 Y3")])
    link.write(engine.handshake(0.0))
    link.run_until(lambda: engine.state is not EngineState.HANDSHAKING)
    assert engine.failed == "source line 7 is longer than the controller's 8-byte rx buffer"
    assert NEITHER.rx_buffer_size == FALLBACK_RX_BUFFER


def test_settings_that_contradict_the_machine_record_are_named_in_words():
    from machines.protocol import MachineFacts
    from machines.protocol.grbl.settings import settings_mismatch, settings_warnings

    facts = MachineFacts(envelope=((0, 200), (0, 200), (0, 100)), requires_homing=True)
    good = {"13": "0", "130": "200.000", "131": "250.000", "132": "100.000", "20": "1", "22": "1"}
    assert settings_mismatch(good, facts=facts) is None
    assert settings_mismatch({}, facts=facts) is None
    short = settings_mismatch({**good, "131": "150.000"}, facts=facts)
    assert "Y travel $131=150 mm is shorter than the 200 mm" in short
    assert "inches" in settings_mismatch({**good, "13": "1"}, facts=facts)
    assert len(settings_warnings({**good, "20": "0", "22": "0"}, facts=facts)) == 2


def test_an_engine_for_a_machine_refuses_a_controller_with_too_short_travel():
    from machines.protocol import MachineFacts
    from machines.protocol.grbl import GrblEngine

    engine = GrblEngine.for_machine(MachineFacts(envelope=((0, 500), (0, 200), (0, 100))))
    assert engine.settings_check is not None
    assert "X travel" in engine.settings_check({"130": "200.000"})
