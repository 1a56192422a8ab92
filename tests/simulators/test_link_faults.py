"""Shell link faults: adapter latency and a silent link (real pty/TCP, synchronised on the simulator)."""

import time

import pytest

from simulators import SimulatedMachine
from tests.simulators.hostside import Host


def test_latency_delays_each_direction():
    with SimulatedMachine("marlin", "tcp", baud=None, time_scale=0, boot_delay=0.05, latency_s=0.05) as sim:
        host = Host(sim.url)
        host.wait_banner("marlin")
        started = time.monotonic()
        host.send("M105\n")
        assert host.readline().startswith("ok T:")
        assert time.monotonic() - started >= 0.1  # 50 ms there and 50 ms back, never less
        host.close()


def test_silent_link_stays_open_and_loses_everything_until_resumed():
    with SimulatedMachine("marlin", "tcp", time_scale=0, boot_delay=0.05) as sim:
        host = Host(sim.url)
        host.wait_banner("marlin")
        sim.go_silent()
        host.send("M105\n")
        assert sim.wait_for(lambda core: core.stats.silenced_bytes >= 5, timeout=5)
        with pytest.raises(TimeoutError):
            host.readline(timeout=0.3)  # nothing comes back, and the connection is still open
        assert sim.connected and sim.stats.lines_received == 0
        sim.resume_link()
        host.send("M105\n")
        assert host.readline().startswith("ok T:")
        host.close()
