"""GRBL engine driven by scripted controller replies (no port, no clock)."""

from __future__ import annotations

import random

import pytest

from machines.protocol import (
    Acknowledged,
    Alarm,
    BuildInfo,
    ControllerSettings,
    EngineState,
    FirmwareError,
    Halted,
    Message,
    ParserState,
    ProbeResult,
    ProtocolStateError,
    ProtocolViolation,
    Started,
    StatusReport,
    StreamComplete,
    Unparsed,
)
from machines.protocol.grbl import GrblEngine, is_sync_command, parse_status_report
from tests.machines.protocol.grbl_transcripts import STOCK_GRBL

BANNER = b"Grbl 1.1h ['$' for help]\r\n"
INFO = STOCK_GRBL.build_info
SETTINGS = STOCK_GRBL.settings

IDLE = b"<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n"


def answer_queries(engine: GrblEngine, now: float) -> list:
    """Answer the handshake's ``$I`` and ``$$`` as stock GRBL 1.1h does; return the events."""
    assert engine.data_to_send(now) == b"$I\n"
    events = engine.receive_data(INFO, now)
    assert engine.data_to_send(now) == b"$$\n"
    return events + engine.receive_data(SETTINGS, now)


def connected(**options) -> GrblEngine:
    engine = GrblEngine(**options)
    assert engine.handshake(0.0) == b"\x18"
    events = engine.receive_data(BANNER, 0.0)
    assert events == [Started("Grbl", "1.1h")]
    # Not ready on the banner alone: a second banner (our reset after a DTR reboot) may follow.
    assert engine.state is EngineState.HANDSHAKING
    events = answer_queries(engine, 0.0)
    assert events[0] == BuildInfo("1.1h.20190825", "V", 15, 128)
    assert of_type(events, ControllerSettings)[0].settings["130"] == "200.000"
    assert engine.state is EngineState.HANDSHAKING  # a status report read at rest closes the handshake
    assert engine.poll(0.0) == b"?"
    engine.receive_data(IDLE, 0.0)
    assert engine.state is EngineState.READY
    return engine


def test_a_second_banner_during_the_handshake_is_not_an_unexpected_reset():
    engine = GrblEngine()
    engine.handshake(0.0)
    engine.load(program("G0 X1"))
    engine.receive_data(BANNER, 0.1)  # the controller rebooted when the port opened
    assert engine.data_to_send(0.1) == b"$I\n"
    engine.receive_data(BANNER, 0.2)  # ... and then our soft reset arrived, flushing the $I
    answer_queries(engine, 0.2)
    assert engine.poll(0.2) == b"?"
    engine.receive_data(IDLE, 0.3)
    assert engine.state is EngineState.STREAMING
    assert engine.data_to_send(0.3) == b"G0X1\n"


def program(*texts: str) -> list[tuple[int, str]]:
    return [(number, text) for number, text in enumerate(texts, start=1)]


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


# ---------------------------------------------------------------- handshake


def test_handshake_without_reset_waits_for_a_status_report():
    engine = GrblEngine(reset_on_connect=False)
    assert engine.handshake(0.0) == b"?"
    engine.receive_data(b"<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n", 0.1)
    assert engine.state is EngineState.HANDSHAKING  # identified; now the questions
    answer_queries(engine, 0.1)
    assert engine.poll(0.3) == b"?"
    engine.receive_data(IDLE, 0.3)
    assert engine.state is EngineState.READY


def test_handshake_times_out_without_a_banner():
    engine = GrblEngine(handshake_timeout=5.0)
    engine.handshake(0.0)
    assert engine.poll(4.9) == b""
    assert engine.receive_data(b"", 4.9) == []
    assert engine.next_deadline(4.9) == pytest.approx(5.0)
    events = engine.receive_data(b"", 5.0)
    assert engine.state is EngineState.FAILED
    assert events == [Halted("GRBL did not identify itself after connecting")]


def test_program_loaded_before_the_banner_starts_when_connected():
    engine = GrblEngine()
    engine.handshake(0.0)
    engine.load(program("G0 X1"))
    assert engine.data_to_send(0.0) == b""
    engine.receive_data(BANNER, 0.5)
    answer_queries(engine, 0.5)
    assert engine.poll(0.5) == b"?"
    engine.receive_data(IDLE, 0.5)
    assert engine.state is EngineState.STREAMING
    assert engine.data_to_send(0.5) == b"G0X1\n"


# ---------------------------------------------------------------- character counting


class FakeGrbl:
    """A controller with a real 128-byte receive buffer that fails loudly on overflow."""

    def __init__(self, rng: random.Random, rx_size: int = 128) -> None:
        self.rng = rng
        self.rx_size = rx_size
        self.rx = bytearray()
        self.executed: list[str] = []

    def receive(self, data: bytes) -> None:
        for byte in data:
            if byte in b"?!~\x18" or byte >= 0x80:
                continue  # real-time bytes never enter the buffer
            self.rx.append(byte)
            assert len(self.rx) <= self.rx_size, "host overflowed GRBL's receive buffer"

    def step(self) -> bytes:
        replies = b""
        for _ in range(self.rng.randint(0, 3)):
            if b"\n" not in self.rx:
                break
            line, _, rest = bytes(self.rx).partition(b"\n")
            self.rx = bytearray(rest)
            self.executed.append(line.decode())
            replies += b"ok\r\n"
        return replies


def random_line(rng: random.Random) -> str:
    return "G1 X" + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 70)))


@pytest.mark.parametrize("seed", range(5))
def test_character_counting_never_overflows_and_acks_every_line_in_order(seed):
    rng = random.Random(seed)
    texts = [random_line(rng) for _ in range(2000)]
    engine = connected()
    engine.load(program(*texts))
    firmware = FakeGrbl(rng)
    acked: list[int] = []
    now = 0.0
    for _ in range(100_000):
        if engine.finished:
            break
        firmware.receive(engine.data_to_send(now) + engine.poll(now))
        assert engine.bytes_in_flight <= 128
        assert len(firmware.rx) <= engine.bytes_in_flight  # host never under-counts
        events = engine.receive_data(firmware.step(), now)
        acked += [event.line_index for event in of_type(events, Acknowledged)]
        now += 0.01
    assert engine.state is EngineState.COMPLETE
    assert firmware.executed == [text.replace(" ", "") for text in texts]  # spaces never go on the wire
    assert acked == list(range(2000))
    assert engine.lines_acknowledged == engine.lines_sent == 2000


def test_lines_are_packed_until_the_buffer_is_full():
    engine = connected(rx_buffer_size=17)
    engine.load(program("G1 X1", "G1 X2", "G1 X3", "G1 X4"))  # 5 bytes each on the wire, with newline
    assert engine.data_to_send(0.0) == b"G1X1\nG1X2\nG1X3\n"
    assert engine.bytes_in_flight == 15
    engine.receive_data(b"ok\r\n", 0.1)
    assert engine.data_to_send(0.1) == b"G1X4\n"


def test_line_that_can_never_fit_is_rejected_at_load():
    engine = connected(rx_buffer_size=10)
    with pytest.raises(ValueError, match="longer than GRBL's rx buffer"):
        engine.load(program("G1 X1.000 Y2.000"))


@pytest.mark.parametrize(
    ("text", "sync"),
    [
        ("$10=1", True),
        ("$X", True),
        ("$H", True),
        ("$N0=G54", True),
        ("$I=shop", True),
        ("$RST=*", True),
        ("G10 L20 P1 X0 Y0", True),
        ("g10l2p1x0", True),
        ("G28.1", True),
        ("G30.1", True),
        ("G28", False),
        ("G30", False),
        ("G1 X10", False),
        ("G100", False),
        ("G0 X10.1 Y28.1", False),
    ],
)
def test_sync_command_detection(text, sync):
    assert is_sync_command(text) is sync


def test_settings_writes_are_sent_alone_and_block_what_follows():
    engine = connected()
    engine.load(program("G0 X1", "$10=1", "G0 X2", "G10 L20 P1 X0", "G1 X3 F100"))
    assert engine.data_to_send(0.0) == b"G0X1\n"  # the $ line waits for an empty buffer
    engine.receive_data(b"ok\r\n", 0.1)
    assert engine.data_to_send(0.1) == b"$10=1\n"
    assert engine.data_to_send(0.15) == b""  # nothing follows until it is answered
    engine.receive_data(b"ok\r\n", 0.2)
    assert engine.data_to_send(0.2) == b"G0X2\n"
    engine.receive_data(b"ok\r\n", 0.3)
    assert engine.data_to_send(0.3) == b"G10L20P1X0\n"
    assert engine.data_to_send(0.35) == b""
    engine.receive_data(b"ok\r\n", 0.4)
    assert engine.data_to_send(0.4) == b"G1X3F100\n"
    events = engine.receive_data(b"ok\r\n", 0.5)
    assert events[-1] == StreamComplete()


# ---------------------------------------------------------------- errors, alarms, resets


def test_error_mid_stream_fails_the_job_with_the_meaning_of_the_code():
    engine = connected()
    engine.load(program("G0 X1", "G1 X2", "G1 X3"))
    engine.data_to_send(0.0)
    events = engine.receive_data(b"ok\r\nerror:22\r\n", 0.1)
    assert events[0] == Acknowledged(0, 1)
    assert events[1] == FirmwareError(22, "Feed rate has not yet been set or is undefined.", 1, 2)
    assert isinstance(events[2], Halted) and "error:22" in events[2].reason
    assert engine.state is EngineState.FAILED
    assert engine.errors == 1
    assert engine.data_to_send(0.2) == b""


def test_error_can_be_tolerated():
    engine = connected(stop_on_error=False)
    engine.load(program("G0 X1", "G1 X2"))
    engine.data_to_send(0.0)
    events = engine.receive_data(b"error:20\r\nok\r\n", 0.1)
    assert of_type(events, FirmwareError)[0].code == 20
    assert events[-1] == StreamComplete()
    assert engine.lines_acknowledged == 1


def test_alarm_mid_stream_fails_the_job():
    engine = connected()
    engine.load(program("G0 X1", "G0 X2"))
    engine.data_to_send(0.0)
    events = engine.receive_data(b"ALARM:1\r\n[MSG:Reset to continue]\r\n", 0.1)
    assert events[0] == Alarm(1, events[0].message)
    assert events[0].message.startswith("Hard limit")
    assert isinstance(events[1], Halted) and events[1].reason.startswith("ALARM:1")
    assert events[2] == Message("Reset to continue")
    assert engine.state is EngineState.FAILED


def test_alarm_while_idle_is_reported_without_failing():
    engine = connected()
    events = engine.receive_data(b"ALARM:2\r\n", 0.1)
    assert events == [Alarm(2, events[0].message)]
    assert engine.state is EngineState.READY


def test_banner_mid_stream_means_the_controller_reset():
    engine = connected()
    engine.load(program("G0 X1", "G0 X2"))
    engine.data_to_send(0.0)
    events = engine.receive_data(b"Grbl 1.1f ['$' for help]\r\n", 0.1)
    assert events == [Started("Grbl", "1.1f"), Halted("controller reset unexpectedly")]
    assert engine.failed == "controller reset unexpectedly"


def test_unexpected_ok_is_a_protocol_violation():
    engine = connected()
    assert of_type(engine.receive_data(b"ok\r\n", 0.1), ProtocolViolation)


def test_partial_lines_are_buffered_across_reads():
    engine = connected()
    engine.load(program("G0 X1"))
    engine.data_to_send(0.0)
    assert engine.receive_data(b"o", 0.1) == []
    assert engine.receive_data(b"k\r", 0.1) == []
    assert engine.receive_data(b"\n", 0.1) == [Acknowledged(0, 1), StreamComplete()]


def test_push_messages_become_typed_events():
    engine = connected()
    events = engine.receive_data(
        b"[MSG:Caution: Unlocked]\r\n[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]\r\n"
        b"[PRB:1.000,2.000,-3.500:1]\r\n[VER:1.1h.20190830:]\r\n[OPT:V,15,128]\r\n"
        b"[echo:G1X1]\r\n[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $C $X $H ~ ! ? ctrl-x]\r\n"
        b"$110=500.000\r\nsomething odd\r\n",
        0.1,
    )
    assert events[:4] == [
        Message("Caution: Unlocked"),
        ParserState("G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0"),
        ProbeResult((1.0, 2.0, -3.5), True),
        Message("VER:1.1h.20190830:"),
    ]
    assert events[4] == Message("OPT:V,15,128")
    assert events[5] == Message("echo:G1X1")
    assert events[6].text.startswith("HLP:")
    assert events[7] == Message("$110=500.000")
    assert events[8] == Unparsed("something odd")


# ---------------------------------------------------------------- status reports


def test_status_report_with_machine_position_and_offset():
    report = parse_status_report(
        "<Run|MPos:10.000,5.000,-1.000|Bf:15,128|FS:500,8000|WCO:2.500,1.000,-3.000>"
    )
    assert report is not None
    assert report.state == "Run"
    assert report.machine_pos == (10.0, 5.0, -1.0)
    assert report.work_offset == (2.5, 1.0, -3.0)
    assert report.work_pos == (7.5, 4.0, 2.0)
    assert (report.feed, report.spindle) == (500.0, 8000.0)
    assert (report.planner_free, report.rx_free) == (15, 128)


def test_status_report_with_work_position_derives_machine_position():
    report = parse_status_report("<Idle|WPos:1.000,2.000,3.000|F:500>", (1.0, 1.0, 1.0))
    assert report.machine_pos == (2.0, 3.0, 4.0)
    assert report.work_pos == (1.0, 2.0, 3.0)
    assert report.feed == 500.0 and report.spindle is None


def test_status_report_substates_and_optional_fields():
    report = parse_status_report("<Hold:0|MPos:0.000,0.000,0.000|Bf:0,100|Ln:99|FS:0,0|Ov:120,50,90|Pn:XYZP>")
    assert report.state == "Hold:0"
    assert report.line == 99
    assert report.overrides == (120, 50, 90)
    assert report.pins == "XYZP"
    assert report.work_pos is None  # no offset known yet
    assert parse_status_report("<Door:1|MPos:0,0,0|FS:0,0>").state == "Door:1"
    assert parse_status_report("<Idle|MPos:1,x,0>") is None
    assert parse_status_report("Idle|MPos:0,0,0") is None


def test_engine_remembers_the_last_work_offset():
    engine = connected()
    first = engine.receive_data(b"<Idle|MPos:5.000,5.000,5.000|FS:0,0|WCO:1.000,2.000,3.000>\r\n", 0)
    later = engine.receive_data(b"<Idle|MPos:6.000,6.000,6.000|FS:0,0>\r\n", 0.2)
    assert isinstance(first[0], StatusReport)
    assert later[0].work_pos == (5.0, 4.0, 3.0)
    assert later[0].work_offset == (1.0, 2.0, 3.0)
    assert engine.last_status == later[0]
    assert engine.receive_data(b"<Idle|MPos:1,x>\r\n", 0.3) == [Unparsed("<Idle|MPos:1,x>")]


# ---------------------------------------------------------------- polling


def test_status_queries_are_limited_to_5_hz_and_one_outstanding():
    engine = connected()  # the handshake's query went out at 0.0 and was answered at once
    assert engine.next_deadline(0.0) == pytest.approx(0.2)
    assert engine.poll(0.1) == b""  # too soon
    assert engine.poll(0.2) == b"?"
    assert engine.poll(0.3) == b""  # outstanding and too soon
    engine.receive_data(b"<Idle|MPos:0,0,0|FS:0,0>\r\n", 0.35)
    assert engine.poll(0.39) == b""  # answered, but the interval has not elapsed
    assert engine.next_deadline(0.39) == pytest.approx(0.4)
    assert engine.poll(0.4) == b"?"
    assert engine.poll(1.1) == b""  # unanswered: wait for status_timeout
    assert engine.poll(1.4) == b"?"  # presumed lost, ask again


def test_status_query_rate_over_time_never_exceeds_5_hz():
    engine = connected()
    queries = 0
    for tick in range(1000):  # 10 s, polled every 10 ms, answered at once
        now = tick * 0.01
        if engine.poll(now) == b"?":
            queries += 1
            engine.receive_data(b"<Idle|MPos:0,0,0|FS:0,0>\r\n", now)
    assert 45 <= queries <= 51


# ---------------------------------------------------------------- real-time control


def test_pause_resume_and_real_time_bytes_are_not_counted():
    engine = connected()
    engine.load(program("G1 X1 F100", "G1 X2"))
    assert engine.data_to_send(0.0) == b"G1X1F100\nG1X2\n"
    in_flight = engine.bytes_in_flight
    assert engine.pause() == b"!"
    assert engine.state is EngineState.PAUSED
    assert engine.resume() == b"~"
    assert engine.feed_override(10) == b"\x91"
    assert engine.feed_override(-10) == b"\x92"
    assert engine.feed_override(1) == b"\x93"
    assert engine.feed_override(-1) == b"\x94"
    assert engine.feed_override("reset") == b"\x90"
    assert engine.feed_override(25) == b"\x91\x91" + b"\x93" * 5
    assert engine.spindle_override("reset") == b"\x99"
    assert engine.spindle_override(10) == b"\x9a"
    assert engine.spindle_override(-10) == b"\x9b"
    assert engine.spindle_override(1) == b"\x9c"
    assert engine.spindle_override(-1) == b"\x9d"
    assert [engine.rapid_override(p) for p in (100, 50, 25)] == [b"\x95", b"\x96", b"\x97"]
    assert engine.jog_cancel() == b"\x85"
    assert engine.bytes_in_flight == in_flight


def test_paused_engine_sends_no_program_lines():
    engine = connected(rx_buffer_size=10)
    engine.load(program("G1 X1", "G1 X2", "G1 X3"))
    assert engine.data_to_send(0.0) == b"G1X1\nG1X2\n"
    engine.pause()
    engine.receive_data(b"ok\r\n", 0.1)
    assert engine.data_to_send(0.1) == b""
    engine.resume()
    assert engine.data_to_send(0.2) == b"G1X3\n"


def test_illegal_transitions_raise():
    engine = connected()
    with pytest.raises(ProtocolStateError):
        engine.resume()
    with pytest.raises(ProtocolStateError):
        engine.pause()
    engine.load(program("G0 X1"))
    with pytest.raises(ProtocolStateError):
        engine.load(program("G0 X2"))


def test_emergency_stop_sends_hold_and_reset_then_nothing():
    engine = connected()
    engine.load(program("G0 X1", "G0 X2"))
    engine.data_to_send(0.0)
    assert engine.emergency_stop() == b"!\x18"
    assert engine.state is EngineState.STOPPED
    assert engine.stop_reason == "emergency stop"
    assert engine.data_to_send(0.1) == b""
    assert engine.poll(5.0) == b""
    assert engine.next_deadline(5.0) is None


def test_cancel_holds_then_resets_once_motion_has_stopped():
    engine = connected()
    engine.load(program("G1 X100 F100", "G1 X0"))
    engine.data_to_send(0.0)
    engine.poll(0.0)  # a query sent before the cancel...
    assert engine.cancel() == b"!"
    assert engine.state is EngineState.STOPPED and engine.stop_reason == "cancelled"
    engine.receive_data(b"<Hold:0|MPos:0,0,0|FS:0,0>\r\n", 0.05)  # ...answers before it: stale
    assert engine.poll(0.2) == b"?"
    engine.receive_data(b"<Hold:1|MPos:1,0,0|FS:50,0>\r\n", 0.25)
    assert engine.poll(0.4) == b"?"  # still decelerating: no reset yet
    engine.receive_data(b"<Hold:0|MPos:1.5,0,0|FS:0,0>\r\n", 0.45)
    assert engine.poll(0.7) == b"\x18?"
    assert engine.data_to_send(0.6) == b""
    assert engine.receive_data(BANNER, 0.8) == [Started("Grbl", "1.1h")]
    assert engine.state is EngineState.STOPPED


def test_cancel_resets_anyway_when_the_hold_never_completes():
    engine = connected(hold_timeout=3.0)
    engine.load(program("G1 X100 F100"))
    engine.data_to_send(0.0)
    engine.cancel()
    assert engine.poll(1.0) == b"?"
    assert b"\x18" not in engine.poll(3.9)
    assert engine.poll(4.0).startswith(b"\x18")


# ---------------------------------------------------------------- check mode


def test_dry_run_wraps_the_program_in_check_mode_and_expects_the_reset():
    engine = connected(dry_run=True)
    engine.load(program("G0 X1", "G1 X2 F100"))
    assert engine.data_to_send(0.0) == b"$C\n"
    assert engine.receive_data(b"[MSG:Enabled]\r\nok\r\n", 0.1) == [Message("Enabled")]
    assert engine.check_mode
    assert engine.data_to_send(0.1) == b"G0X1\nG1X2F100\n"
    engine.receive_data(b"ok\r\nok\r\n", 0.2)
    assert engine.data_to_send(0.2) == b"$C\n"
    events = engine.receive_data(b"[MSG:Disabled]\r\nok\r\n", 0.3)
    assert events[-1] == StreamComplete()
    assert engine.receive_data(BANNER, 0.4) == [Started("Grbl", "1.1h")]
    assert engine.state is EngineState.COMPLETE
    assert not engine.check_mode


def test_manual_check_mode_toggle_and_unlock():
    engine = connected()
    assert engine.check_mode_commands() == b"$C\n"
    with pytest.raises(ProtocolStateError):
        engine.unlock()  # previous command unanswered
    engine.receive_data(b"[MSG:Enabled]\r\nok\r\n", 0.1)
    assert engine.check_mode_commands() == b"$C\n"
    # the soft reset overtakes the ok: the banner answers the $C, the late ok is harmless
    assert engine.receive_data(BANNER + b"ok\r\n", 0.2) == [Started("Grbl", "1.1h")]
    assert engine.state is EngineState.READY
    assert engine.unlock() == b"$X\n"
    assert engine.receive_data(b"[MSG:Caution: Unlocked]\r\nok\r\n", 0.3) == [Message("Caution: Unlocked")]
    assert engine.home() == b"$H\n"
