"""The GRBL engine against the GRBL simulator core, in one process on a fake clock (no port, no sleeps)."""

from __future__ import annotations

import pytest

from machines.protocol import ConnectionLost, EngineState, Halted
from machines.protocol.grbl import GrblEngine
from machines.protocol.grbl.wire import wire_text
from simulators.grbl import GrblCore


def zigzag(count: int) -> list[tuple[int, str]]:
    """Moves of a few mm inside a 200 mm cube, each about 25 bytes on the wire."""
    lines = [(1, "G21 G90 G94 F3000 (metric, absolute)")]
    for i in range(count - 1):
        lines.append((i + 2, f"G1 X{(i * 7) % 190 + 1}.{i % 10} Y{(i * 13) % 190 + 1}.5 Z{i % 50 + 1}"))
    return lines


class Bench:
    """Engine and core wired back to back; ``now`` advances by ``step`` per turn."""

    def __init__(self, core: GrblCore, engine: GrblEngine, step: float = 0.002):
        self.core, self.engine, self.step = core, engine, step
        self.now = 0.0
        self.events: list = []
        self.most_in_flight = 0
        core.boot(self.now)
        self._send(engine.handshake(self.now))

    def _send(self, data: bytes) -> None:
        self.core.receive(data, self.now)

    def turn(self) -> None:
        self.core.tick(self.now)
        self.events += self.engine.receive_data(self.core.take_output(), self.now)
        self._send(self.engine.data_to_send(self.now) + self.engine.poll(self.now))
        self.most_in_flight = max(self.most_in_flight, self.engine.bytes_in_flight)
        self.now = round(self.now + self.step, 6)

    def run(self, lines, limit: float = 60.0) -> None:
        self.engine.load(lines)
        while not self.engine.finished and self.now < limit:
            self.turn()
        while self.core.state != "Idle" and self.now < limit:  # the last moves still run
            self.turn()
        assert self.engine.state is EngineState.COMPLETE, self.engine.failed


def executed(core: GrblCore) -> list[str]:
    return [record.text for record in core.executed]


def test_a_1024_byte_grblhal_buffer_is_used_and_never_overrun():
    core = GrblCore(build="grblhal", time_scale=0.01)
    bench = Bench(core, GrblEngine())
    lines = zigzag(600)
    bench.run(lines)
    assert bench.engine.rx_buffer_size == 1023
    assert bench.engine.planner_blocks == 35
    assert bench.most_in_flight > 128  # far more than stock GRBL's buffer was kept in flight...
    assert core.rx_overruns == 0  # ...and never a byte more than it holds
    assert executed(core) == [wire_text(text) for _, text in lines]


def test_grblhal_without_buffer_state_reports_is_not_overrun_either():
    core = GrblCore(build="grblhal", report_buffer_state=False, time_scale=0.01)
    bench = Bench(core, GrblEngine())
    bench.run(zigzag(400))
    assert bench.engine.rx_buffer_size == 1023  # [OPT:..,1024,..] minus the slot its ring keeps empty
    assert bench.most_in_flight > 900
    assert core.rx_overruns == 0


@pytest.mark.parametrize("report_buffer_state", [True, False], ids=["Bf", "no-Bf"])
def test_stock_grbl_is_streamed_to_the_brim_without_overruns(report_buffer_state):
    core = GrblCore(report_buffer_state=report_buffer_state, time_scale=0.01)
    bench = Bench(core, GrblEngine())
    lines = zigzag(400)
    bench.run(lines)
    assert bench.engine.rx_buffer_size == (128 if report_buffer_state else 127)
    assert 100 < bench.most_in_flight <= bench.engine.rx_buffer_size
    assert core.rx_overruns == 0
    assert executed(core) == [wire_text(text) for _, text in lines]


def test_a_host_counting_against_too_big_a_buffer_overruns_the_simulator():
    """The overrun counter is real: the same stream with a made-up 1100-byte buffer loses bytes."""
    core = GrblCore(build="grblhal", time_scale=0.01)
    bench = Bench(core, GrblEngine(rx_buffer_size=1100))
    bench.engine.load(zigzag(400))
    while bench.now < 5.0 and not bench.engine.finished:
        bench.turn()
    assert core.rx_overruns > 0


def test_the_settings_follow_the_travel_and_reach_the_check():
    seen = {}

    def check(settings):
        seen.update(settings)
        return None if settings["130"] == "300.000" else f"X travel {settings['130']}"

    core = GrblCore(envelope=(300.0, 250.0, 80.0), settings={110: 4000.0}, time_scale=0)
    bench = Bench(core, GrblEngine(settings_check=check))
    bench.run(zigzag(5))
    assert (seen["130"], seen["131"], seen["132"]) == ("300.000", "250.000", "80.000")
    assert (seen["20"], seen["22"], seen["13"], seen["30"]) == ("1", "1", "0", "1000")
    assert seen["110"] == "4000.000"


def test_a_settings_mismatch_stops_the_job_before_the_simulator_reads_a_line():
    core = GrblCore(envelope=(200.0, 200.0, 200.0), time_scale=0)
    bench = Bench(core, GrblEngine(settings_check=lambda settings: "X travel is not 300 mm"))
    bench.engine.load(zigzag(5))
    while not bench.engine.finished and bench.now < 5.0:
        bench.turn()
    reason = "controller settings do not match the machine record: X travel is not 300 mm"
    assert bench.engine.failed == reason
    assert executed(core) == []
    assert core.stats.lines_received == 2  # $I and $$


def test_a_long_silent_homing_cycle_is_not_a_lost_link():
    """Stock GRBL holds its status report until homing ends (about 14 s here); the job goes on after."""
    core = GrblCore(status_during_homing=False, time_scale=1.0)
    bench = Bench(core, GrblEngine(), step=0.01)
    lines = [(0, "$H"), *zigzag(20)]
    bench.run(lines, limit=120.0)
    assert not [event for event in bench.events if isinstance(event, ConnectionLost | Halted)]
    assert executed(core)[0] == "$H" and len(executed(core)) == 21
    assert bench.now > 14.0


def test_a_disconnected_simulator_is_noticed_within_two_seconds():
    core = GrblCore(time_scale=0.01)
    bench = Bench(core, GrblEngine())
    bench.engine.load(zigzag(400))
    while bench.engine.lines_acknowledged < 50:
        bench.turn()
    pulled = bench.now
    core.take_output()
    core.receive = lambda data, now: None  # the cable is pulled: nothing in, nothing out
    core.take_output = lambda: b""
    while bench.engine.state is not EngineState.FAILED and bench.now < pulled + 5.0:
        bench.turn()
    assert bench.engine.failed.startswith("connection lost: ")
    assert bench.now - pulled <= 2.0 + 2 * bench.step
