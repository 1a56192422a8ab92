"""Marlin simulator: line protocol, heaters, emergency parser, faults."""

import time

import pytest
import serial

from simulators import SimulatedMachine
from simulators.marlin import KILLED, MarlinCore
from tests.simulators.hostside import Host, checksummed


def connect(sim: SimulatedMachine) -> Host:
    host = Host(sim.url)
    host.wait_banner("marlin")
    return host


def run(core: MarlinCore, data: bytes | str, now: float = 0.0) -> list[str]:
    core.receive(data.encode() if isinstance(data, str) else data, now)
    core.tick(now)
    return core.take_output().decode().split("\n")[:-1]


@pytest.fixture
def core():
    marlin = MarlinCore(time_scale=0)
    marlin.boot(0.0)
    assert run(marlin, b"")[0] == "start"
    return marlin


def test_checksum_error_requests_resend(core):
    assert run(core, checksummed(1, "G28")) == ["ok"]
    bad = checksummed(2, "G1 X10 F3000").replace(b"X10", b"X11")
    assert run(core, bad) == ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]
    assert run(core, checksummed(2, "G1 X10 F3000")) == ["ok"]
    assert [(r.line_number, r.text) for r in core.executed] == [(1, "G28"), (2, "G1 X10 F3000")]
    assert core.stats.checksum_errors == 1
    assert core.stats.resends_requested == 1


def test_wrong_line_number_and_missing_checksum(core):
    assert run(core, checksummed(5, "M105")) == [
        "Error:Line Number is not Last Line Number+1, Last Line: 0",
        "Resend: 1",
        "ok",
    ]
    assert run(core, "N1 M105\n") == [
        "Error:No Checksum with line number, Last Line: 0",
        "Resend: 1",
        "ok",
    ]
    assert core.stats.line_number_errors == 1


def test_m110_resets_numbering_and_plain_lines_are_accepted(core):
    assert run(core, checksummed(1, "G90")) == ["ok"]
    assert run(core, checksummed(0, "M110 N100")) == ["ok"]
    assert run(core, checksummed(101, "G91")) == ["ok"]
    assert run(core, checksummed(2, "G90"))[0].startswith("Error:Line Number")
    assert run(core, "G1 X1 ; no number, no checksum\n") == ["ok"]
    assert run(core, "M110 N7\n") == ["ok"]
    assert run(core, checksummed(8, "G90")) == ["ok"]


def test_advanced_ok_reports_planner_and_buffer():
    core = MarlinCore(time_scale=1.0, advanced_ok=True)
    core.boot(0.0)
    core.take_output()
    assert run(core, checksummed(1, "G1 X10 F600")) == ["ok N1 P14 B3"]
    assert run(core, "G1 X20\n") == ["ok P13 B3"]


def test_m115_reports_capabilities(core):
    lines = run(core, "M115\n")
    assert lines[0].startswith("FIRMWARE_NAME:Marlin 2.1.2 ")
    for cap in ("AUTOREPORT_TEMP:1", "EMERGENCY_PARSER:1", "ADVANCED_OK:0", "THERMAL_PROTECTION:1"):
        assert f"Cap:{cap}" in lines
    assert lines[-1] == "ok"


def test_queue_full_stops_reading_and_unknown_commands_echo():
    core = MarlinCore(time_scale=1.0, bufsize=2, rx_buffer_size=16)
    core.boot(0.0)
    core.take_output()
    out = run(core, "G4 S10\nM105\nM105\nFOO\nM105\nM105\nM105\n")
    assert out == []  # G4 blocks; M105 waits in the queue; the rest fills the RX buffer
    assert core.stats.overruns > 0
    out = [line for line in run(core, b"", now=10.0) if line != "echo:busy: processing"]
    assert out[0] == "ok" and out[1].startswith("ok T:")


def test_soft_endstops_clamp_with_a_warning(core):
    assert run(core, "G1 X500 Y-5 F3000\n") == ["ok"]
    assert run(core, "M114\n")[0].startswith("X:220.00 Y:0.00 Z:0.00 E:0.00 Count X:17600")
    assert len(core.stats.warnings) == 2


def test_m109_waits_with_busy_and_temperature_lines():
    # A residency of 10 s machine time (0.2 s here) spans several host reads even on a loaded machine.
    with SimulatedMachine("marlin", "pty", time_scale=0.02, residency=10.0) as sim:
        host = connect(sim)
        started = time.monotonic()
        host.send("M109 S200\n")
        lines = host.lines_until("ok", timeout=10)
        elapsed = time.monotonic() - started
        # 175 °C at 3 °C/s plus 10 s residency = 68 s of machine time, scaled: 1.4 s. Only the lower
        # bound is exact (a loaded machine reads late, never early); the upper one catches a stuck wait.
        assert 1.0 <= elapsed <= 8.0, elapsed
        assert "echo:busy: processing" in lines
        temps = [float(line.split()[0][2:]) for line in lines if line.startswith(" T:")]
        assert len(temps) > 10 and temps == sorted(temps) and temps[0] < 100
        # The residency countdown is reported (which second of it depends on the report period).
        assert " W:?" in lines[0] and any(line.rsplit(" W:", 1)[-1].isdigit() for line in lines)
        host.send("M105\n")
        assert host.readline() == "ok T:200.00 /200.00 B:25.00 /0.00 @:74 B@:0"
        host.send("M155 S1\n")
        assert host.readline() == "ok"
        assert host.readline().startswith(" T:200.00 /200.00")  # auto-report
        host.close()


def test_m112_works_with_a_full_buffer():
    with SimulatedMachine("marlin", "tcp", time_scale=1.0, boot_delay=0.05) as sim:
        host = connect(sim)
        host.send("M104 S210\nG4 S100\n" + "M105\n" * 60)  # queue and RX buffer full
        assert sim.wait_for(lambda core: core.stats.overruns > 0, timeout=5)
        sent_at = time.monotonic()
        host.send("M112\n")
        # The dwell ahead of it lasts 100 s: a kill well within that jumped the full queue and RX buffer.
        lines = host.lines_until(KILLED, timeout=10)
        assert lines[-1] == KILLED
        stats = sim.stats
        assert stats.estops == 1
        assert stats.estop_times[0] >= sent_at  # this M112, not something earlier
        assert sim.core.hotend.target == 0
        emitted = stats.bytes_emitted
        host.send("M105\n")  # halted: no answer to anything but a reset
        assert sim.wait_for(lambda core: core.stats.bytes_received == stats.bytes_received + 5, 2)
        assert sim.stats.bytes_emitted == emitted
        sim.reset()
        assert host.wait_banner("marlin")[0] == "start"
        host.close()


def test_thermal_runaway_injection():
    with SimulatedMachine("marlin", "pty", time_scale=0, thermal_runaway_after_lines=2) as sim:
        host = connect(sim)
        host.send("M104 S200\nM105\nM105\n")
        lines = host.lines_until(KILLED)
        assert lines[-2:] == ["Error:Thermal Runaway, system stopped! Heater_ID: 0", KILLED]
        host.close()


def test_dropped_oks_and_idle_wait():
    core = MarlinCore(time_scale=0, drop_ok_rate=1.0, wait_interval=1.0)
    core.boot(0.0)
    core.take_output()
    assert run(core, "G90\n") == []
    assert core.stats.oks_dropped == 1
    assert run(core, b"", now=0.5) == []
    assert core.next_deadline() == pytest.approx(1.0)
    assert run(core, b"", now=1.0) == ["wait"]


def test_noisy_line_is_resent_and_every_line_runs_exactly_once():
    """A tiny resend-honouring host streams through 30 % line noise."""
    commands = [f"G1 X{i} F6000" for i in range(1, 41)]
    with SimulatedMachine("marlin", "pty", time_scale=0, noise_rate=0.3, seed=3) as sim:
        host = connect(sim)
        next_n = 1
        while next_n <= len(commands):
            host.send(checksummed(next_n, commands[next_n - 1]))
            resend = None
            for line in host.lines_until("ok"):
                if line.startswith("Resend: "):
                    resend = int(line.split()[1])
            next_n = resend if resend is not None else next_n + 1
        assert sim.wait_for(lambda core: len(core.executed) >= len(commands), timeout=5)
        numbered = [(r.line_number, r.text) for r in sim.executed if r.line_number is not None]
        assert numbered == list(enumerate(commands, start=1))
        assert sim.stats.noise_corruptions > 5
        assert sim.stats.resends_requested >= sim.stats.noise_corruptions - 2
        host.close()


def test_tcp_disconnect_then_reconnect_reboots():
    with SimulatedMachine("marlin", "tcp", time_scale=0, boot_delay=0.05) as sim:
        host = connect(sim)
        sim.disconnect()
        with pytest.raises(serial.SerialException):
            host.readline(timeout=2)
        host.close()
        again = connect(sim)  # the machine stayed on; DTR-style reboot on connect
        again.send("M105\n")
        assert again.readline().startswith("ok T:")
        assert sim.stats.connections == 2
        again.close()
