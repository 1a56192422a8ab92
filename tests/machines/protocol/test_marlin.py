"""Marlin engine driven by scripted printer replies and a small firmware model."""

from __future__ import annotations

import random

import pytest

from machines.protocol import (
    Acknowledged,
    Busy,
    Capabilities,
    EngineState,
    FirmwareError,
    Halted,
    HostAction,
    Message,
    ProtocolStateError,
    ProtocolViolation,
    Resending,
    Started,
    StreamComplete,
    Temperatures,
)
from machines.protocol.marlin import (
    MarlinEngine,
    checksum,
    command_timeout,
    frame_line,
    parse_temperatures,
)

M115_REPLY = (
    b"FIRMWARE_NAME:Marlin 2.1.2.1 (Jan 1 2024) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
    b"PROTOCOL_VERSION:1.0 MACHINE_TYPE:Colony EXTRUDER_COUNT:1 UUID:cede2a2f\n"
)
TEMPS = b"T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0"


def caps(**flags: int) -> bytes:
    return b"".join(f"Cap:{name}:{value}\n".encode() for name, value in flags.items())


def connected(caps_reply: bytes = caps(AUTOREPORT_TEMP=0), **options) -> MarlinEngine:
    """Handshake done: M110 alone, then M115 once M110 was answered."""
    engine = MarlinEngine(**options)
    assert engine.handshake(0.0) == b"N0 M110 N0*125\n"
    assert engine.receive_data(b"ok\n", 0.0) == []
    assert engine.data_to_send(0.0) == b"N1 M115*39\n"
    events = engine.receive_data(M115_REPLY + caps_reply + b"ok\n", 0.0)
    assert isinstance(events[-1], Capabilities)
    assert engine.state is EngineState.READY
    return engine


def chatter(engine: MarlinEngine, start: float, end: float) -> bytes:
    """An auto-reporting printer's temperatures every second from ``start`` to ``end``; returns what
    ``poll()`` wrote meanwhile (the link stays alive, so only the response timeout can act)."""
    out, now = b"", start
    while now <= end + 1e-9:
        engine.receive_data(b" T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0\n", now)
        out += engine.poll(now)
        now += 1.0
    return out


def program(*texts: str) -> list[tuple[int, str]]:
    return [(number, text) for number, text in enumerate(texts, start=1)]


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


def streaming(*texts: str, **options) -> MarlinEngine:
    """Connected with auto-report (so no M105 polls interleave) and a program loaded."""
    engine = connected(caps(AUTOREPORT_TEMP=1), **options)
    assert engine.data_to_send(0.0) == frame_line(2, "M155 S1")
    engine.receive_data(b"ok\n", 0.0)
    assert engine.data_to_send(0.0) == frame_line(3, "M113 S1")  # keep-alives every second
    engine.receive_data(b"ok\n", 0.0)
    engine.load(program(*texts))
    return engine


# ---------------------------------------------------------------- framing


def test_checksum_and_framing():
    assert checksum("N0 M110 N0") == 125
    assert frame_line(0, "M110 N0") == b"N0 M110 N0*125\n"
    payload = "N7 G1 X10 Y20"
    expected = 0
    for char in payload:
        expected ^= ord(char)
    assert frame_line(7, "G1 X10 Y20") == f"{payload}*{expected}\n".encode()


def test_capabilities_event_and_line_numbering_after_m110():
    engine = MarlinEngine()
    engine.handshake(0.0)
    engine.receive_data(b"ok\n", 0.1)
    engine.data_to_send(0.1)
    events = engine.receive_data(M115_REPLY + caps(AUTOREPORT_TEMP=1, ADVANCED_OK=1, EEPROM=0) + b"ok\n", 0.1)
    assert events == [
        Capabilities(
            "Marlin 2.1.2.1 (Jan 1 2024)",
            {"AUTOREPORT_TEMP": True, "ADVANCED_OK": True, "EEPROM": False},
        )
    ]
    engine.load(program("G28", "G1 X1"))
    assert engine.data_to_send(0.1) == frame_line(2, "M155 S1")  # engine command first
    engine.receive_data(b"ok\n", 0.2)
    assert engine.data_to_send(0.2) == frame_line(3, "M113 S1")
    engine.receive_data(b"ok\n", 0.2)
    assert engine.data_to_send(0.2) == frame_line(4, "G28")
    assert engine.receive_data(b"ok\n", 0.3) == [Acknowledged(0, 1)]
    assert engine.data_to_send(0.3) == frame_line(5, "G1 X1")
    assert engine.receive_data(b"ok\n", 0.4) == [Acknowledged(1, 2), StreamComplete()]
    assert engine.state is EngineState.COMPLETE


def test_start_during_handshake_repeats_it():
    engine = MarlinEngine()
    engine.handshake(0.0)
    assert engine.receive_data(b"start\necho:Marlin 2.1.2\n", 1.0)[0] == Started("Marlin", "")
    assert engine.data_to_send(1.0) == b"N0 M110 N0*125\n"  # window of one from now on
    engine.receive_data(b"ok\n", 1.1)
    assert engine.data_to_send(1.1) == b"N1 M115*39\n"


def test_handshake_retries_then_fails():
    engine = MarlinEngine(handshake_timeout=5.0, handshake_attempts=2)
    engine.handshake(0.0)
    assert engine.poll(5.0) == b"N0 M110 N0*125\n"
    engine.poll(10.0)
    assert engine.state is EngineState.FAILED
    assert of_type(engine.receive_data(b"", 10.0), Halted)


# ---------------------------------------------------------------- temperatures


def test_autoreport_capability_selects_m155_and_no_polling():
    engine = connected(caps(AUTOREPORT_TEMP=1))
    assert engine.autoreporting
    assert engine.data_to_send(0.0) == frame_line(2, "M155 S1")
    engine.receive_data(b"ok\n", 0.1)
    assert engine.data_to_send(0.1) == frame_line(3, "M113 S1")
    engine.receive_data(b"ok\n", 0.1)
    assert engine.poll(1.0) == b""
    events = engine.receive_data(b" T:200.00 /200.00 B:60.00 /60.00 @:0 B@:0\n", 1.0)
    assert events == [Temperatures({"T0": (200.0, 200.0), "B": (60.0, 60.0)}, events[0].raw)]


def test_without_autoreport_m105_is_polled_every_second():
    engine = connected(caps(AUTOREPORT_TEMP=0))
    assert not engine.autoreporting
    assert engine.poll(0.0) == frame_line(2, "M113 S1")
    engine.receive_data(b"ok\n", 0.0)
    assert engine.poll(0.0) == frame_line(3, "M105")
    assert engine.poll(0.4) == b""  # one query at a time
    events = engine.receive_data(b"ok " + TEMPS + b"\n", 0.5)
    assert of_type(events, Temperatures)[0].readings["T0"] == (200.0, 200.0)
    assert engine.poll(0.9) == b""
    assert engine.poll(1.0) == frame_line(4, "M105")


def test_poll_due_while_streaming_takes_the_next_free_slot():
    engine = connected(caps(AUTOREPORT_TEMP=0))
    engine.poll(0.0)
    engine.receive_data(b"ok\n", 0.0)  # M113
    engine.poll(0.0)
    engine.receive_data(b"ok " + TEMPS + b"\n", 0.1)
    engine.load(program("G1 X1", "G1 X2"))
    assert engine.data_to_send(0.1) == frame_line(4, "G1 X1")
    engine.receive_data(b"ok\n", 1.5)
    assert engine.data_to_send(1.5) == frame_line(5, "M105")  # due, so it goes first
    engine.receive_data(b"ok " + TEMPS + b"\n", 1.6)
    assert engine.data_to_send(1.6) == frame_line(6, "G1 X2")


@pytest.mark.parametrize(
    ("line", "readings"),
    [
        ("T:200.1 /200.0 B:60.0 /60.0 @:127 B@:0", {"T0": (200.1, 200.0), "B": (60.0, 60.0)}),
        (
            "T:200.0 /200.0 B:60.0 /60.0 T0:200.0 /200.0 T1:180.5 /185.0 @:0 B@:0 @0:0 @1:0",
            {"B": (60.0, 60.0), "T0": (200.0, 200.0), "T1": (180.5, 185.0)},
        ),
        ("ok T:21.5 /0.0 B:20.9 /0.0 C:25.0 /0.0 @:0 B@:0", None),
        ("T:190.5 E:0 W:?", {"T0": (190.5, None)}),
        ("echo:nothing here", None),
    ],
)
def test_temperature_parsing(line, readings):
    if line.startswith("ok"):
        assert parse_temperatures(line[3:]) == {
            "T0": (21.5, 0.0),
            "B": (20.9, 0.0),
            "C": (25.0, 0.0),
        }
    else:
        assert parse_temperatures(line) == readings


# ---------------------------------------------------------------- resends


def test_resend_then_ok_resends_once_and_acknowledges_once():
    engine = streaming("G1 X1", "G1 X2")
    line = engine.data_to_send(0.0)
    assert line == frame_line(4, "G1 X1")
    events = engine.receive_data(b"Error:checksum mismatch, Last Line: 3\nResend: 4\nok\n", 0.1)
    assert events == [Resending(4)]
    assert engine.data_to_send(0.1) == line
    assert engine.resends == 1
    assert engine.receive_data(b"ok\n", 0.2) == [Acknowledged(0, 1)]
    assert engine.data_to_send(0.2) == frame_line(5, "G1 X2")
    assert engine.receive_data(b"ok\n", 0.3) == [Acknowledged(1, 2), StreamComplete()]
    assert engine.lines_acknowledged == 2


def test_resend_without_ok_still_resends():
    engine = streaming("G1 X1", "G1 X2", ok_follows_resend=False)
    engine.data_to_send(0.0)
    assert engine.receive_data(b"rs 4\n", 0.1) == [Resending(4)]
    assert engine.data_to_send(0.1) == frame_line(4, "G1 X1")
    assert engine.receive_data(b"ok\n", 0.2) == [Acknowledged(0, 1)]


def test_resend_without_ok_recovers_through_the_tickle_when_an_ok_was_expected():
    engine = streaming("G1 X1", "G1 X2")
    engine.data_to_send(0.0)
    assert engine.receive_data(b"Resend: 4\n", 0.1) == [Resending(4)]
    assert engine.data_to_send(0.1) == frame_line(4, "G1 X1")
    assert engine.receive_data(b"ok\n", 0.2) == []  # taken for the Resend's ok
    assert chatter(engine, 0.2, 5.2) == frame_line(5, "M105")  # unanswered too long: probe
    events = engine.receive_data(b"ok " + TEMPS + b"\n", 5.3)
    assert Acknowledged(0, 1) in events  # the M105 reply proves N4 was accepted
    assert engine.data_to_send(5.3) == frame_line(6, "G1 X2")


def test_repeated_resend_requests_from_a_window_are_absorbed():
    engine = connected(caps(AUTOREPORT_TEMP=1, ADVANCED_OK=1), max_in_flight=4)
    engine.data_to_send(0.0)  # M155
    engine.receive_data(b"ok N2 P15 B4\n", 0.0)
    engine.data_to_send(0.0)  # M113
    engine.receive_data(b"ok N3 P15 B4\n", 0.1)
    engine.load(program(*[f"G1 X{i}" for i in range(6)]))
    sent = engine.data_to_send(0.1)
    assert sent == b"".join(frame_line(n, f"G1 X{n - 4}") for n in (4, 5, 6, 7))
    rejection = b"Error:checksum mismatch, Last Line: 3\nResend: 4\nok\n"
    assert engine.receive_data(rejection, 0.2) == [Resending(4)]
    # Rewound: N4..N7 again, once; the old N5..N7 (39 bytes) still count against the receive buffer.
    assert engine.data_to_send(0.2) == sent
    assert engine.bytes_in_flight == len(sent) + sum(len(frame_line(n, f"G1 X{n - 4}")) for n in (5, 6, 7))
    duplicate = b"Error:Line Number is not Last Line Number+1, Last Line: 3\nResend: 4\nok\n"
    assert engine.receive_data(duplicate * 3, 0.3) == []  # caused by the old N5..N7
    assert engine.resends == 4
    assert engine.data_to_send(0.3) == b""
    # Once the old transmissions are accounted for, the same request is genuine again.
    assert engine.receive_data(rejection, 0.35) == [Resending(4)]
    assert engine.data_to_send(0.35) == sent
    events = engine.receive_data(b"ok N4 P15 B3\n" * 4, 0.4)
    assert [e.line_index for e in of_type(events, Acknowledged)] == [0, 1, 2, 3]
    assert engine.bytes_in_flight == 0  # the first genuine ok: the rejected lines are gone


def test_same_line_resent_too_often_halts():
    engine = streaming("G1 X1", max_resends=2)
    engine.data_to_send(0.0)
    for attempt in range(2):
        assert engine.receive_data(b"Resend: 4\nok\n", attempt) == [Resending(4)]
        engine.data_to_send(attempt)
    events = engine.receive_data(b"Resend: 4\nok\n", 3.0)
    assert events == [Halted("N4 requested 3 times; giving up")]
    assert engine.state is EngineState.FAILED
    assert engine.safe_shutdown() == b"M104 S0\nM140 S0\nM107\n"


def test_resend_of_a_line_no_longer_in_history_halts():
    texts = [f"G1 X{i}" for i in range(80)]
    engine = streaming(*texts, history_size=64)
    for tick in range(70):
        engine.data_to_send(tick)
        engine.receive_data(b"ok\n", tick)
    events = engine.receive_data(b"Resend: 6\nok\n", 71.0)
    assert len(events) == 1 and isinstance(events[0], Halted)
    assert "history" in events[0].reason
    assert engine.data_to_send(72.0) == b""


def test_resend_of_an_acknowledged_line_believes_the_printers_line_counter():
    # Noise hit the N of line 3: Marlin ran it as an unnumbered (garbage) line and said ok, then at
    # line 4 asked for 3 again. The printer's counter is the authority: 3 is sent again, its ok taken back.
    engine = streaming("G1 X1", "G1 X2")
    first = engine.data_to_send(0.0)
    engine.receive_data(b"ok\n", 0.1)
    assert engine.lines_acknowledged == 1
    engine.data_to_send(0.1)
    events = engine.receive_data(b"Resend: 4\nok\n", 0.2)
    assert any(isinstance(e, Resending) and e.from_line_number == 4 for e in events)
    assert engine.lines_acknowledged == 0
    assert engine.data_to_send(0.3) == first


# ---------------------------------------------------------------- other replies


def test_wait_is_not_an_acknowledgement():
    engine = streaming("G1 X1")
    engine.data_to_send(0.0)
    assert engine.receive_data(b"wait\nwait\n", 0.5) == []
    assert engine.in_flight == 1 and engine.lines_acknowledged == 0


def test_unexpected_ok_is_a_protocol_violation():
    engine = streaming("G1 X1")
    assert of_type(engine.receive_data(b"ok\n", 0.1), ProtocolViolation)


def test_busy_extends_the_timeout_and_a_line_unanswered_too_long_is_probed():
    engine = streaming("G1 X1", timeout=5.0)
    engine.data_to_send(0.0)
    assert chatter(engine, 1.0, 3.0) == b""
    assert engine.receive_data(b"echo:busy: processing\n", 4.0) == [Busy("processing")]
    assert chatter(engine, 4.5, 8.5) == b""  # 5 s from the keep-alive, not from the line
    assert engine.poll(9.0) == frame_line(5, "M105")
    assert engine.receive_data(b"busy: paused for user\n", 9.5) == [Busy("paused for user")]


@pytest.mark.parametrize(
    ("command", "allowance"),
    [
        ("G1 X10", 5.0),
        ("G4 P3000", 8.0),
        ("G4 S2", 7.0),
        ("M109 S210", 1800.0),
        ("M190 S60", 1800.0),
        ("M191 S40", 1800.0),
        ("G28", 300.0),
        ("G029", 300.0),
        ("M400", 300.0),
        ("M600", 1800.0),
    ],
)
def test_blocking_commands_get_longer_timeouts(command, allowance):
    engine = streaming(command, "G1 X1")
    engine.data_to_send(0.0)
    assert chatter(engine, 1.0, allowance - 1.0) == b""
    engine.receive_data(TEMPS + b"\n", allowance - 0.01)
    assert engine.poll(allowance - 0.01) == b""
    assert engine.poll(allowance) == frame_line(5, "M105")
    assert command_timeout(command, 5.0, engine.blocking_timeouts) == pytest.approx(allowance)


def test_lost_line_is_recovered_through_the_firmwares_resend():
    engine = streaming("G1 X1", "G1 X2")
    engine.data_to_send(0.0)  # N4 vanishes on the wire
    assert chatter(engine, 1.0, 5.0) == frame_line(5, "M105")
    events = engine.receive_data(
        b"Error:Line Number is not Last Line Number+1, Last Line: 3\nResend: 4\nok\n", 5.1
    )
    assert events == [Resending(4)]
    assert engine.data_to_send(5.1) == frame_line(4, "G1 X1")
    assert engine.receive_data(b"ok\n", 5.2) == [Acknowledged(0, 1)]
    assert engine.data_to_send(5.2) == frame_line(5, "M105")
    engine.receive_data(b"ok " + TEMPS + b"\n", 5.3)
    assert engine.data_to_send(5.3) == frame_line(6, "G1 X2")


def test_lost_ok_is_resynchronised_by_the_tickle_reply():
    engine = streaming("G1 X1", "G1 X2")
    engine.data_to_send(0.0)  # N4 is executed but its ok vanishes
    assert chatter(engine, 1.0, 5.0) == frame_line(5, "M105")
    events = engine.receive_data(b"ok " + TEMPS + b"\n", 5.1)
    assert events[1:] == [Acknowledged(0, 1)]
    assert engine.in_flight == 0
    assert engine.data_to_send(5.1) == frame_line(6, "G1 X2")


def test_unanswered_probes_fail_the_job():
    engine = streaming("G1 X1", max_tickles=2)
    engine.data_to_send(0.0)
    assert chatter(engine, 1.0, 5.0) != b""
    assert chatter(engine, 6.0, 10.0) != b""
    assert chatter(engine, 11.0, 15.0) == b""
    assert engine.state is EngineState.FAILED
    assert "did not answer" in engine.failed


@pytest.mark.parametrize(
    "line",
    [
        b"Error:Thermal Runaway, system stopped! Heater_ID: 0",
        b"Error:MINTEMP triggered, system stopped! Heater_ID: bed",
        b"Error:MAXTEMP triggered, system stopped! Heater_ID: 0",
        b"Error:Heating failed, system stopped! Heater_ID: 0",
        b"Error:Printer halted. kill() called!",
        b"!! Printer halted",
    ],
)
def test_fatal_errors_halt(line):
    engine = streaming("G1 X1")
    engine.data_to_send(0.0)
    events = engine.receive_data(line + b"\n", 0.1)
    assert len(events) == 1 and isinstance(events[0], Halted)
    assert engine.state is EngineState.FAILED
    assert engine.poll(1.0) == b"" and engine.data_to_send(1.0) == b""


def test_an_error_that_is_neither_about_a_line_nor_a_halt_is_reported_and_the_job_goes_on():
    engine = streaming("G29", "G1 X1")
    engine.data_to_send(0.0)
    events = engine.receive_data(b"Error:Probing Failed\n", 0.1)
    assert events == [FirmwareError(None, "Probing Failed", 0, 1)]
    assert engine.state is EngineState.STREAMING and engine.errors == 1
    strict = streaming("G29", stop_on_error=True)
    strict.data_to_send(0.0)
    assert isinstance(strict.receive_data(b"Error:Probing Failed\n", 0.1)[-1], Halted)


def test_start_mid_stream_fails_the_job():
    engine = streaming("G1 X1")
    engine.data_to_send(0.0)
    events = engine.receive_data(b"start\n", 0.1)
    assert events[0] == Started("Marlin", "")
    assert isinstance(events[1], Halted) and "reset" in events[1].reason


def test_echo_and_host_actions():
    engine = connected()
    events = engine.receive_data(
        b'echo:Unknown command: "G999"\n//action:pause\n//action:notification Hello\n', 0.1
    )
    assert events == [
        Message('Unknown command: "G999"'),
        HostAction("pause"),
        HostAction("notification", "Hello"),
    ]


# ---------------------------------------------------------------- control


def test_pause_stops_feeding_and_resume_continues():
    engine = streaming("G1 X1", "G1 X2")
    engine.data_to_send(0.0)
    assert engine.pause() == b""
    engine.receive_data(b"ok\n", 0.1)
    assert engine.data_to_send(0.1) == b""
    assert engine.resume() == b""
    assert engine.data_to_send(0.2) == frame_line(5, "G1 X2")


def test_cancel_returns_shutdown_lines_and_stops():
    engine = streaming("G1 X1", "G1 X2")
    engine.data_to_send(0.0)
    assert engine.cancel() == b"M104 S0\nM140 S0\nM107\n"
    assert engine.state is EngineState.STOPPED and engine.stop_reason == "cancelled"
    assert engine.receive_data(b"ok\n", 0.1) == []
    assert engine.data_to_send(0.1) == b""
    with pytest.raises(ProtocolStateError):
        engine.resume()


def test_emergency_stop_is_unnumbered_m112():
    engine = streaming("G1 X1")
    engine.data_to_send(0.0)
    assert engine.emergency_stop() == b"M112\n"
    assert engine.state is EngineState.STOPPED
    assert engine.data_to_send(1.0) == b"" and engine.poll(100.0) == b""


def test_advanced_ok_teaches_bufsize_and_bytes_are_counted_against_the_receive_buffer():
    texts = [f"G1 X{i}.123 Y{i}.456 E{i}.78901" for i in range(40)]  # 30-odd bytes framed
    engine = connected(caps(AUTOREPORT_TEMP=1, ADVANCED_OK=1), rx_buffer_size=128)
    engine.load(program(*texts))
    assert engine.data_to_send(0.0) == frame_line(2, "M155 S1")  # one line until B is known
    engine.receive_data(b"ok N2 P15 B3\n", 0.1)
    assert engine.current_window == 3
    sent = engine.data_to_send(0.1)
    # Three lines in the command queue, then as many as fit 127 bytes of the receive buffer.
    lines = sent.splitlines(keepends=True)
    waiting = lines[3:]
    assert sum(map(len, waiting)) <= 127 < sum(map(len, waiting)) + len(frame_line(99, texts[0]))
    assert engine.in_flight == len(lines) > 4
    engine.receive_data(b"ok N3 P15 B7\n", 0.2)
    assert engine.current_window == 7  # the largest B seen

    plain = connected(caps(AUTOREPORT_TEMP=1, ADVANCED_OK=0))
    plain.load(program(*texts))
    plain.data_to_send(0.0)
    plain.receive_data(b"ok N2 P15 B3\n", 0.1)
    assert plain.current_window == 1
    assert plain.data_to_send(0.1).count(b"\n") == 1


# ---------------------------------------------------------------- a whole print


class FakeMarlin:
    """Just enough Marlin: numbered/checksummed input, a 4-command queue, resends."""

    def __init__(self, rng: random.Random, *, advanced_ok: bool, drain_on_error: bool) -> None:
        self.rng = rng
        self.advanced_ok = advanced_ok
        self.drain_on_error = drain_on_error
        self.rx = bytearray()
        self.queue: list[str] = []
        self.last_n = 0
        self.accepted: list[str] = []
        self.out = bytearray()

    def receive(self, data: bytes) -> None:
        self.rx += data

    def step(self) -> bytes:
        self._read_lines()
        for _ in range(self.rng.randint(0, 2)):
            if self.queue:
                self._execute(self.queue.pop(0))
        out, self.out = bytes(self.out), bytearray()
        return out

    def _read_lines(self) -> None:
        while len(self.queue) < 4 and b"\n" in self.rx:
            raw, _, rest = bytes(self.rx).partition(b"\n")
            self.rx = bytearray(rest)
            command = self._check(raw.decode("latin-1").strip())
            if command is not None:
                self.queue.append(command)

    def _check(self, line: str) -> str | None:
        if not line.startswith("N"):
            if "*" in line:
                return self._line_error("No Line Number with checksum")
            return line
        payload, star, given = line.rpartition("*")
        number_text = line[1:].split(" ", 1)[0]
        is_m110 = "M110" in line
        number = int(number_text) if number_text.isdigit() else -1
        if is_m110:
            number = 0
        if number != self.last_n + 1 and not is_m110:
            return self._line_error("Line Number is not Last Line Number+1")
        if not star:
            return self._line_error("No Checksum with line number")
        if not given.isdigit() or int(given) != checksum_of(payload):
            return self._line_error("checksum mismatch")
        self.last_n = number
        return payload.split(" ", 1)[1]

    def _line_error(self, message: str) -> None:
        self.out += f"Error:{message}, Last Line: {self.last_n}\n".encode()
        if self.drain_on_error:
            self.rx.clear()
        self.out += f"Resend: {self.last_n + 1}\nok\n".encode()
        return None

    def _execute(self, command: str) -> None:
        if command == "M105":
            self.out += b"ok T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0\n"
            return
        if command == "M115":
            self.out += M115_REPLY + caps(AUTOREPORT_TEMP=0, ADVANCED_OK=int(self.advanced_ok))
        elif not command.startswith(("M110", "M113")):
            self.accepted.append(command)
        if self.advanced_ok:
            self.out += f"ok N{self.last_n} P15 B{4 - len(self.queue)}\n".encode()
        else:
            self.out += b"ok\n"


def checksum_of(payload: str) -> int:
    value = 0
    for char in payload:
        value ^= ord(char)
    return value


def corrupt(data: bytes, rng: random.Random, rate: float) -> tuple[bytes, int]:
    """Flip one byte (never the newline) in about ``rate`` of the lines."""
    lines = data.split(b"\n")
    damaged = 0
    for index, line in enumerate(lines[:-1]):
        if line and rng.random() < rate:
            position = rng.randrange(len(line))
            flipped = bytearray(line)
            flipped[position] = flipped[position] ^ rng.choice((0x01, 0x02, 0x04, 0x10, 0x20))
            if flipped[position] in b"\r\n":
                flipped[position] = ord("#")
            lines[index] = bytes(flipped)
            damaged += 1
    return b"\n".join(lines), damaged


@pytest.mark.parametrize(
    ("seed", "advanced_ok", "drain_on_error"),
    [(1, False, True), (2, True, True), (3, True, False)],
)
def test_two_thousand_lines_with_one_percent_corruption_arrive_once_in_order(
    seed, advanced_ok, drain_on_error
):
    rng = random.Random(seed)
    texts = [f"G1 X{rng.randint(0, 200)}.{rng.randint(0, 999):03d} E{i}" for i in range(2000)]
    firmware = FakeMarlin(rng, advanced_ok=advanced_ok, drain_on_error=drain_on_error)
    engine = MarlinEngine()
    firmware.receive(engine.handshake(0.0))
    engine.load(program(*texts))
    acknowledged: list[int] = []
    corrupted = 0
    now = 0.0
    for _ in range(200_000):
        if engine.finished:
            break
        outgoing = engine.data_to_send(now) + engine.poll(now)
        if engine.state is not EngineState.HANDSHAKING:
            outgoing, damaged = corrupt(outgoing, rng, 0.01)
            corrupted += damaged
        firmware.receive(outgoing)
        events = engine.receive_data(firmware.step(), now)
        assert not of_type(events, Halted), events
        acknowledged += [event.line_index for event in of_type(events, Acknowledged)]
        now += 0.01
    assert engine.state is EngineState.COMPLETE
    assert firmware.accepted == texts  # every line accepted exactly once, in order
    assert acknowledged == list(range(2000))
    assert corrupted > 5 and engine.resends > 0
    if advanced_ok:
        assert engine.current_window > 1
