"""GRBL core as a pure state machine: bytes and times in, bytes out."""

import pytest

from simulators.grbl import BANNER, GrblCore


def run(core: GrblCore, data: bytes | str, now: float = 0.0) -> list[str]:
    core.receive(data.encode() if isinstance(data, str) else data, now)
    core.tick(now)
    return core.take_output().decode().split("\r\n")[:-1]


@pytest.fixture
def core():
    grbl = GrblCore(time_scale=0)
    grbl.boot(0.0)
    assert grbl.take_output() == f"\r\n{BANNER}\r\n".encode()
    return grbl


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("G1 X10", 22),  # no feed rate ever set
        ("G99", 20),  # unsupported G-code
        ("Q5", 20),  # unsupported word
        ("X", 2),  # letter without a number
        ("G0 X1 X2", 25),  # repeated word
        ("G0 G1 X1", 21),  # two motion commands
        ("G4", 28),  # dwell without P
        ("G1 F-5 X1", 4),  # negative feed
        ("G10 L5 P1 X0", 20),  # unsupported L
        ("G92", 26),  # G92 needs axis words
        ("G53 G2 X1 I1 F10", 30),  # G53 only with G0/G1
        ("G80 X1", 31),  # axis words with no motion mode
        ("G0 X1 P2", 36),  # unused value word
        ("G2 X0 Y0 R5 F100", 33),  # R arc to the current point
        ("G1.5 X1", 23),  # non-integer command
        ("$Q", 3),  # unknown $ command
        ("G0 X1." + "0" * 80, 11),  # longer than GRBL's 79-character line buffer
    ],
)
def test_bad_lines_get_grbl_error_codes(core, line, code):
    assert run(core, line + "\n") == [f"error:{code}"]
    assert core.executed == []


def test_positions_follow_modal_state(core):
    program = [
        "G21 G90 G54",
        "G10 L2 P1 X10",  # G54 origin at machine X10
        "G0 X5 Y5",  # machine (15, 5)
        "G91 G1 X1 Y-1 F600",  # incremental
        "G90 G20 G0 Z0.5",  # inches
        "G21 G92 X0",  # current X becomes work 0
        "G53 G0 X0",  # machine coordinates
        "G2 X4 Y4 I10 J0 F600",  # half circle around work (-6, 4)
    ]
    for line in program:
        assert run(core, line + "\n") == ["ok"], line
    # G54 X10 + G92 X6 put work X0 at machine X16.
    assert core.position == pytest.approx((20.0, 4.0, 12.7))
    assert [r.text for r in core.executed] == [line.replace(" ", "") for line in program]


def test_planner_full_keeps_line_in_hand_and_bytes_in_rx():
    core = GrblCore(time_scale=1.0, planner_blocks=2)
    core.boot(0.0)
    core.take_output()
    # Each move is 1 mm at 60 mm/min: one second.
    out = run(core, "G1 X1 F60\nG1 X2\nG1 X3\nG1 X4\n", now=0.0)
    assert out == ["ok", "ok"]
    assert core.planner_free == 0
    assert core.rx_free == 128 - len("G1 X4\n")  # G1 X3 is in hand, G1 X4 still buffered
    assert run(core, b"", now=0.999) == []
    assert run(core, b"", now=1.0) == ["ok"]
    assert [r.text for r in core.executed] == ["G1X1F60"]


def test_status_report_refreshes_wco_every_tenth_idle_report(core):
    reports = [run(core, "?")[0] for _ in range(11)]
    with_wco = [i for i, r in enumerate(reports) if "|WCO:" in r]
    assert with_wco == [0, 10]
    run(core, "G92 X5\n")
    assert "|WCO:-5.000,0.000,0.000" in run(core, "?")[0]  # a change forces it out


def test_check_mode_parses_without_moving_and_leaves_with_a_reset(core):
    assert run(core, "$C\n") == ["[MSG:Enabled]", "ok"]
    assert run(core, "G0 X10\n") == ["ok"]
    assert core.position == (0.0, 0.0, 0.0)
    assert run(core, "$C\n") == ["[MSG:Disabled]", "ok", "", BANNER]
    assert core.executed == []


def test_homing_takes_scaled_time_and_unlocks():
    core = GrblCore(time_scale=0.01, homing_lock=True)
    core.boot(0.0)
    assert core.take_output().decode().endswith("[MSG:'$H'|'$X' to unlock]\r\n")
    assert run(core, "G0 X1\n") == ["error:9"]
    assert run(core, "$H\n$G\n") == []
    assert core.state == "Home"
    assert core.next_deadline() > 0.0
    # GRBL answers $G only after homing: the line waited in the rx buffer.
    out = run(core, b"", now=core.next_deadline())
    assert out[0] == "ok" and out[1].startswith("[GC:")
    assert core.state == "Idle"
    assert [r.text for r in core.executed] == ["$H"]


def test_feed_override_stretches_the_running_block():
    core = GrblCore(time_scale=1.0)
    core.boot(0.0)
    run(core, "G1 X10 F300\n")  # two seconds at 100 % (GRBL's $110 caps at 500)
    run(core, bytes([0x92] * 5), now=1.0)  # 50 % feed from half way
    assert core.next_deadline() == pytest.approx(3.0)
    assert "Ov:50,100,100" in run(core, "??", now=1.1)[1]


def test_jog_and_jog_cancel():
    core = GrblCore(time_scale=1.0)
    core.boot(0.0)
    core.take_output()
    assert run(core, "$J=G91 X10 F300\n") == ["ok"]
    assert core.state == "Jog"
    assert run(core, "G0 X1\n") == ["error:9"]  # g-code is locked out while jogging
    run(core, bytes([0x85]), now=1.0)
    assert core.state == "Idle"
    assert core.position == pytest.approx((5.0, 0.0, 0.0))
    assert run(core, "$J=G91 X500 F600\n") == ["error:15"]  # soft limits refuse jogs


def test_noise_corrupts_lines_reproducibly():
    outputs = []
    for _ in range(2):
        core = GrblCore(time_scale=0, noise_rate=1.0, seed=7)
        core.boot(0.0)
        core.take_output()
        outputs.append(run(core, "G0 X1\nG0 X2\nG0 X3\n"))
        assert core.stats.noise_corruptions == 3
    assert outputs[0] == outputs[1]


def test_pulled_cable_loses_the_rest_of_the_chunk():
    """Lines behind the one that trips the disconnect never reach the machine, even in one read."""
    grbl = GrblCore(time_scale=0, disconnect_after_lines=2)
    grbl.boot(0.0)
    run(grbl, "G0 X1\nG0 X2\nG0 X3\n")
    assert grbl.disconnect_requested
    assert [line.text for line in grbl.executed] == ["G0X1", "G0X2"]
