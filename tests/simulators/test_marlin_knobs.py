"""Marlin simulator knobs, driven on the core with explicit times (no I/O, no sleeps)."""

import pytest

from simulators.marlin import PAUSED_FOR_USER, MarlinCore
from simulators.wire import Delay
from tests.simulators.hostside import checksummed


def booted(**options) -> MarlinCore:
    core = MarlinCore(**{"time_scale": 0, **options})
    core.boot(0.0)
    core.take_output()
    return core


def run(core: MarlinCore, data: bytes | str, now: float = 0.0) -> list[str]:
    core.receive(data.encode() if isinstance(data, str) else data, now)
    core.tick(now)
    return core.take_output().decode().split("\n")[:-1]


def bad_checksum(n: int, command: str) -> bytes:
    return checksummed(n, command).replace(b"*", b"*1")


# -- error dialects ------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("marlin", ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]),
        ("prusa", ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]),
        ("octoprint", ["Error: Checksum mismatch", "Resend:2", "ok"]),
        ("reprap", []),
    ],
)
def test_checksum_mismatch_per_dialect(dialect, expected):
    core = booted(line_errors=dialect)
    assert run(core, checksummed(1, "G90")) == ["ok"]
    assert run(core, bad_checksum(2, "G91")) == expected
    assert core.stats.checksum_errors == 1


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("marlin", ["Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok"]),
        ("octoprint", ["Error: expected line 2 got 3", "Resend:2", "ok"]),
        ("reprap", ["ok"]),  # RepRapFirmware does not check the sequence
    ],
)
def test_wrong_line_number_per_dialect(dialect, expected):
    core = booted(line_errors=dialect)
    run(core, checksummed(1, "G90"))
    assert run(core, checksummed(3, "G91")) == expected


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("marlin", ["ok"]),
        ("marlin1", ["Error:No Line Number with checksum, Last Line: 0"]),
        ("prusa", ["Error:No Line Number with checksum, Last Line: 0", "Resend: 1", "ok"]),
    ],
)
def test_checksum_without_line_number(dialect, expected):
    core = booted(line_errors=dialect)
    assert run(core, "G90*17\n") == expected


def test_octoprint_accepts_a_numbered_line_without_checksum():
    core = booted(line_errors="octoprint")
    assert run(core, "N1 G90\n") == ["ok"]
    assert [(r.line_number, r.text) for r in core.executed] == [(1, "G90")]


# -- resend variants -------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "tail"),
    [("stock", ["Resend: 1", "ok"]), ("no_ok", ["Resend: 1"]), ("ok_only", ["ok"]), ("error_only", [])],
)
def test_resend_styles(style, tail):
    core = booted(resend=style)
    assert run(core, bad_checksum(1, "G90")) == ["Error:checksum mismatch, Last Line: 0", *tail]


def test_delayed_resend_lets_other_output_come_between():
    core = booted(time_scale=1.0, resend_delay=0.5)
    run(core, "M155 S1\n", now=0.0)
    assert run(core, bad_checksum(1, "G90"), now=0.7) == ["Error:checksum mismatch, Last Line: 0"]
    assert core.next_deadline() == pytest.approx(1.0)  # the auto-report comes first
    assert run(core, b"", now=1.0) == [core._heater_states()]
    assert core.next_deadline() == pytest.approx(1.2)
    assert run(core, b"", now=1.2) == ["Resend: 1", "ok"]


# -- buffers and advanced ok -----------------------------------------------------


def test_bufsize_and_advanced_ok_count_the_acknowledged_command_as_queued():
    core = booted(time_scale=1.0, advanced_ok=True, bufsize=8, planner_blocks=31)
    out = run(core, checksummed(1, "G1 X10 F600") + checksummed(2, "G1 X20"))
    assert out == ["ok N1 P30 B7", "ok N2 P29 B7"]


def test_rx_overflow_is_counted_as_lost_bytes():
    core = booted(time_scale=1.0, rx_buffer_size=32)
    run(core, "G4 S10\n" + "M105\n" * 20)
    assert core.stats.rx_bytes_lost == core.stats.overruns > 0
    roomy = booted(time_scale=1.0, rx_buffer_size=1024)
    run(roomy, "G4 S10\n" + "M105\n" * 20)
    assert roomy.stats.rx_bytes_lost == 0


# -- capabilities ------------------------------------------------------------------


def test_m115_caps_follow_the_options():
    core = booted(
        emergency_parser=False, autoreport_temp=False, host_action_commands=True, prompt_support=True
    )
    lines = run(core, "M115\n")
    for cap in ("EMERGENCY_PARSER:0", "AUTOREPORT_TEMP:0", "HOST_ACTION_COMMANDS:1", "PROMPT_SUPPORT:1"):
        assert f"Cap:{cap}" in lines
    assert run(core, "M155 S2\n") == ['echo:Unknown command: "M155 S2"', "ok"]
    with pytest.raises(ValueError):
        MarlinCore(prompt_support=True)


def test_without_emergency_parser_m108_cannot_break_a_heating_wait():
    core = booted(time_scale=1.0, emergency_parser=False)
    run(core, "M109 S200\n", now=0.0)
    run(core, "M108\n", now=1.0)
    assert core.hotend.temp < 200 and core._op is not None  # still waiting
    with_parser = booted(time_scale=1.0)
    run(with_parser, "M109 S200\n", now=0.0)
    run(with_parser, "M108\n", now=1.0)
    assert "ok" in run(with_parser, b"", now=1.3) and with_parser._op is None


def test_without_emergency_parser_m112_waits_behind_a_blocking_command():
    core = booted(time_scale=1.0, emergency_parser=False)
    run(core, "G4 S10\nM112\n", now=0.0)
    assert not core.halted
    out = run(core, b"", now=10.0)
    assert core.halted and out[-1] == "Error:Printer halted. kill() called!"
    assert core.stats.estops == 1 and core.stats.estop_times == [10.0]


def test_without_emergency_parser_a_numbered_m112_runs_from_the_queue_head():
    core = booted(time_scale=1.0, emergency_parser=False, bufsize=4)
    run(core, checksummed(1, "G1 X100 F600") + checksummed(2, "G1 X0") + checksummed(3, "M112"), now=0.0)
    assert core.halted  # the moves are in the planner; M112 reached the head and killed
    assert [r.line_number for r in core.executed] == []  # the moves never finished


# -- keep-alives -----------------------------------------------------------------------


def test_m113_sets_the_busy_interval_and_s0_turns_it_off():
    core = booted(time_scale=1.0)
    assert run(core, "M113\n") == ["echo:M113 S2", "ok"]
    run(core, "M113 S1\n")
    run(core, "G4 S3\n", now=0.0)
    busy = [t for t in (0.5, 1.0, 1.5, 2.0, 2.5) if "echo:busy: processing" in run(core, b"", now=t)]
    assert busy == [1.0, 2.0]
    run(core, b"", now=3.0)
    run(core, "M113 S0\nG4 S3\n", now=3.0)
    assert all("busy" not in line for t in (4.0, 5.0, 6.0) for line in run(core, b"", now=t))


def test_autoreport_continues_during_a_blocking_command():
    core = booted(time_scale=1.0)
    run(core, "M155 S1\nG4 S5\n", now=0.0)
    reports = [t for t in (1.0, 2.0, 3.0) if any(x.startswith(" T:") for x in run(core, b"", now=t))]
    assert reports == [1.0, 2.0, 3.0]


# -- runout and host actions ---------------------------------------------------------------


def test_runout_pauses_with_host_actions_and_prompts_until_m876():
    core = booted(time_scale=1.0, host_action_commands=True, prompt_support=True, runout_sensor=True)
    run(core, "G1 X10 F600\n", now=0.0)  # one second of motion
    core.inject(runout=0)
    assert core.take_output().decode().split("\n")[:-1] == [
        "//action:prompt_end",
        "//action:prompt_begin FilamentRunout T0",
        "//action:prompt_show",
        "//action:paused filament_runout 0",
    ]
    out = run(core, "G1 X20\n", now=1.0)  # the planned move finished; M600 parks
    assert out == [
        "//action:paused",
        "//action:prompt_end",
        "//action:prompt_begin Pause",
        "//action:prompt_button Dismiss",
        "//action:prompt_show",
        "//action:prompt_end",
        "//action:prompt_begin Nozzle Parked",
        "//action:prompt_button Continue",
        "//action:prompt_show",
    ]
    assert core.paused and [r.text for r in core.executed] == ["G1 X10 F600"]
    assert run(core, b"", now=3.0) == [PAUSED_FOR_USER]
    out = run(core, "M876 S0\n", now=3.5)  # through the emergency parser
    assert out[:5] == [
        "//action:resumed",
        "//action:prompt_end",
        "//action:prompt_begin Resuming",
        "//action:prompt_button Dismiss",
        "//action:prompt_show",
    ]
    assert not core.paused and out[5:] == ["ok", "ok"]  # the queued G1 X20, then the M876 line itself


def test_runout_needs_a_sensor_and_menu_actions_only_tell_the_host():
    with pytest.raises(RuntimeError):
        booted().filament_runout()
    quiet = booted()
    quiet.menu_action("pause")
    assert quiet.take_output() == b""
    core = booted(host_action_commands=True)
    for action in ("pause", "resume", "cancel"):
        core.inject(host_action=action)
    assert core.take_output() == b"//action:pause\n//action:resume\n//action:cancel\n"


def test_press_continue_resumes_without_host_actions():
    core = booted(time_scale=1.0, runout_sensor=True)
    core.filament_runout()
    run(core, b"", now=0.1)
    assert core.paused and core.take_output() == b""
    core.press_continue()
    assert not core.paused


# -- noise at benchmark rates ---------------------------------------------------------------


def test_line_noise_at_one_in_200_every_line_runs_once_in_order():
    """A resend-honouring host with one line in flight streams 3000 lines through 1/200 noise."""
    program = [f"G1 X{i % 200} Y{(7 * i) % 200} F6000" for i in range(3000)]
    core = booted(noise_rate=1 / 200, seed=11)
    next_n, now = 1, 0.0
    while next_n <= len(program):
        now += 0.001
        out = run(core, checksummed(next_n, program[next_n - 1]), now)
        resend = [int(line.split()[1]) for line in out if line.startswith("Resend: ")]
        next_n = resend[0] if resend else next_n + 1
    numbered = [r.text for r in core.executed if r.line_number is not None]
    assert numbered == program
    assert [r.line_number for r in core.executed if r.line_number is not None] == list(range(1, 3001))
    assert core.stats.noise_corruptions > 5


def test_delay_line_holds_bytes_back():
    delay = Delay(0.002)
    delay.push(b"ab", 1.0)
    assert delay.release(1.001) == b""
    assert delay.next_due() == pytest.approx(1.002)
    assert delay.release(1.002) == b"ab"
