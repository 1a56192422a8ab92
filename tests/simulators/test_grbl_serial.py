"""GRBL simulator as a serial peer: plain pyserial over real ptys and TCP."""

import re
import time

import pytest
import serial

from simulators import SimulatedMachine
from tests.simulators.hostside import Host

STATUS = re.compile(
    r"^<(Idle|Run|Hold:[01]|Jog|Alarm|Check|Home|Sleep)"
    r"\|MPos:-?\d+\.\d{3},-?\d+\.\d{3},-?\d+\.\d{3}"
    r"\|Bf:\d+,\d+"
    r"\|FS:\d+,\d+"
    r"(\|WCO:-?\d+\.\d{3},-?\d+\.\d{3},-?\d+\.\d{3})?"
    r"(\|Ov:\d+,\d+,\d+)?(\|A:[SCFM]+)?>$"
)


def connect(sim: SimulatedMachine) -> Host:
    host = Host(sim.url)
    host.wait_banner("grbl")
    return host


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_banner_on_connect(transport):
    with SimulatedMachine("grbl", transport, time_scale=0) as sim:
        host = Host(sim.url)
        assert host.wait_banner("grbl")[-2:] == ["", "Grbl 1.1h ['$' for help]"]
        host.close()


def test_short_program_runs_in_order():
    program = ["G21 G90", "G0 X5 Y5", "G1 X10 F300", "G2 X20 Y5 I5 J0", "G4 P0.1", "M2"]
    with SimulatedMachine("grbl", "pty", time_scale=0.01) as sim:
        host = connect(sim)
        for line in program:
            host.send(line + "\n")
            assert host.lines_until("ok")[-1] == "ok"  # M2 also says [MSG:Pgm End]
        assert sim.wait_for(lambda core: len(core.executed) == len(program), timeout=5)
        records = sim.executed
        assert [r.text for r in records] == [line.replace(" ", "") for line in program]
        assert [r.index for r in records] == list(range(len(program)))
        assert [r.time for r in records] == sorted(r.time for r in records)
        host.send("?")
        assert host.readline().startswith("<Idle|MPos:20.000,5.000,0.000|Bf:15,128|")
        host.close()


def test_rx_buffer_overrun_when_host_blasts_without_waiting():
    with SimulatedMachine("grbl", "pty", time_scale=1.0, planner_blocks=4) as sim:
        host = connect(sim)
        # 9 mm at F100 takes 5.4 s, so nothing finishes while the blast lands, even on a loaded machine.
        blast = b"".join(b"G1 X%d F100\n" % (9 * (i % 2)) for i in range(1, 29))[:300]
        assert len(blast) == 300
        host.send(blast)
        assert sim.wait_for(lambda core: core.stats.bytes_received == 300, timeout=5)
        # 4 lines in the planner, the 5th in hand, 128 bytes buffered: the rest is lost.
        assert sim.stats.overruns == 300 - 5 * 11 - 128
        host.send("?")
        status = host.lines_until("<")[-1]
        assert "|Bf:0,0|" in status
        host.send(b"\x18")  # reset while moving
        assert host.lines_until("Grbl")[-3:] == ["ALARM:3", "", "Grbl 1.1h ['$' for help]"]
        assert host.readline() == "[MSG:'$H'|'$X' to unlock]"
        host.close()


def test_planner_full_withholds_ok_until_a_block_finishes():
    with SimulatedMachine("grbl", "tcp", time_scale=1.0, planner_blocks=2) as sim:
        host = connect(sim)
        started = time.monotonic()
        # Each move: 10 mm at 1000 mm/min capped by $110=500 -> 1.2 s, a wide margin for the report.
        host.send("G1 X10 F1000\nG1 X0\nG1 X10\nG1 X0\n?")
        before_report = host.lines_until("<")
        assert before_report[:-1] == ["ok", "ok"]
        assert before_report[-1].startswith("<Run|") and "|Bf:0," in before_report[-1]
        assert host.readline(timeout=10) == "ok"
        assert time.monotonic() - started >= 1.15  # only after the first move finished
        assert host.readline(timeout=10) == "ok"
        host.send(b"\x18")
        host.close()


def test_soft_limit_alarm_locks_until_reset_and_unlock():
    with SimulatedMachine("grbl", "pty", time_scale=0, envelope=(100, 100, 50)) as sim:
        host = connect(sim)
        host.send("G0 X150\n")
        assert host.lines_until("[MSG:Reset") == ["ALARM:2", "[MSG:Reset to continue]"]
        host.send("G0 X1\n?")  # ignored (critical event) except the status report
        assert host.readline().startswith("<Alarm|")
        host.send(b"\x18")
        assert host.lines_until("[MSG:")[-1] == "[MSG:'$H'|'$X' to unlock]"
        host.send("G0 X1\n")
        assert host.readline() == "error:9"
        host.send("$X\nG0 X1\n")
        assert host.lines_until("ok") == ["[MSG:Caution: Unlocked]", "ok"]
        assert host.readline() == "ok"
        assert sim.stats.alarms == [2]
        assert [r.text for r in sim.executed] == ["G0X1"]
        host.close()


def test_status_report_format():
    with SimulatedMachine("grbl", "tcp", time_scale=0) as sim:
        host = connect(sim)
        host.send("G10 L2 P1 X1.5\nM3 S1000\n")
        assert host.lines_until("ok", timeout=2) == ["ok"]
        assert host.readline() == "ok"
        host.send(b"?" + bytes([0x91]) + b"??")
        first, second, third = (host.readline() for _ in range(3))
        for report in (first, second, third):
            assert STATUS.match(report), report
        assert first == "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,1000|WCO:1.500,0.000,0.000>"
        assert "|Ov:110,100,100|A:S>" in second  # overrides changed: reported next time
        assert "WCO" not in third and "Ov" not in third
        host.close()


def test_feed_hold_resume_and_reset_during_motion():
    with SimulatedMachine("grbl", "pty", time_scale=1.0) as sim:
        host = connect(sim)
        host.send("G1 X10 F300\n")  # 2 s: the hold lands mid-move even on a loaded machine
        assert host.readline() == "ok"
        host.send("!?")
        assert host.readline().startswith("<Hold:0|")
        assert sim.executed == []
        host.send("~?")
        assert host.readline().startswith("<Run|")
        assert sim.wait_for(lambda core: len(core.executed) == 1, timeout=10)
        host.send("G1 X0\n")
        assert host.readline() == "ok"
        host.send(b"\x18")
        assert host.lines_until("Grbl")[0] == "ALARM:3"
        assert sim.stats.estops == 1
        host.close()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_disconnect_injection_closes_the_link(transport):
    with SimulatedMachine("grbl", transport, time_scale=0, disconnect_after_lines=2) as sim:
        host = connect(sim)
        host.send("G0 X1\nG0 X2\nG0 X3\n")
        with pytest.raises(serial.SerialException):
            for _ in range(10):
                host.readline(timeout=2)
        assert len(sim.executed) == 2
        host.close()


def test_alarm_injection_is_a_hard_limit():
    with SimulatedMachine("grbl", "tcp", time_scale=0, alarm_after_lines=1) as sim:
        host = connect(sim)
        host.send("G0 X1\n")
        assert host.lines_until("[MSG:") == ["ok", "ALARM:1", "[MSG:Reset to continue]"]
        host.close()


def test_wire_pacing_at_9600_baud():
    """960 bytes in and the $$ dump out each take about their wire time."""
    with SimulatedMachine("grbl", "pty", baud=9600, time_scale=0) as sim:
        host = connect(sim)
        lines = b"(comment)\n" * 96  # GRBL acks comment lines: 96 oks
        started = time.monotonic()
        host.send(lines)
        for _ in range(96):
            assert host.readline() == "ok"
        inbound = time.monotonic() - started
        # 960 bytes at 960 bytes/s. The lower bound is the pacing; a loaded machine only adds time.
        assert 0.9 <= inbound <= 3.0, inbound

        started = time.monotonic()
        host.send("$$\n")
        dump = host.lines_until("ok")
        outbound = time.monotonic() - started
        wire_time = (3 + sum(len(line) + 2 for line in dump)) / 960
        assert wire_time * 0.9 <= outbound <= wire_time * 3 + 0.5, (outbound, wire_time)
        host.close()
