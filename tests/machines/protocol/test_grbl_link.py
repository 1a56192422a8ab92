"""A silent GRBL controller is noticed within ``link_timeout`` in every connected state (fake clock)."""

from __future__ import annotations

import pytest

from machines.protocol import ConnectionLost, EngineState, Halted
from machines.protocol.grbl import GrblEngine
from tests.machines.protocol.grbl_transcripts import (
    GRBLHAL,
    SILENT_TO_QUERIES,
    STOCK_GRBL,
    Link,
    ScriptedGrbl,
    connect,
    crlf,
)

STEP = 0.01
RUN = crlf("<Run|MPos:1.000,0.000,0.000|FS:500,0>")
HOLDING = crlf("<Hold:1|MPos:1.000,0.000,0.000|FS:100,0>")  # decelerating, never done
HOMING = crlf("<Home|MPos:5.000,5.000,5.000|FS:0,0>")
PROGRAM = [(n, f"G1 X{n} F500") for n in range(1, 30)]


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


def connecting() -> Link:
    """Banner received, ``$I`` unanswered (this controller ignores it)."""
    link = Link(GrblEngine(), ScriptedGrbl(SILENT_TO_QUERIES))
    link.write(link.engine.handshake(0.0))
    link.turn()
    assert link.engine.state is EngineState.HANDSHAKING and link.controller.lines == ["$I"]
    return link


def ready() -> Link:
    return connect(STOCK_GRBL)


def streaming() -> Link:
    link = connect(STOCK_GRBL)
    link.controller.answer_lines = False  # the planner is full: no ok for a while
    link.controller.status = RUN
    link.engine.load(PROGRAM)
    for _ in range(30):
        link.turn(STEP)
    assert link.engine.state is EngineState.STREAMING and link.engine.in_flight
    assert link.engine.last_status.state == "Run"
    return link


def paused() -> Link:
    link = streaming()
    link.write(link.engine.pause())
    link.controller.status = crlf("<Hold:0|MPos:1.000,0.000,0.000|FS:0,0>")
    return link


def homing() -> Link:
    """A controller that answers ``?`` while homing (grblHAL, FluidNC)."""
    link = connect(GRBLHAL)
    link.controller.answer_lines = False  # homing takes a while
    link.controller.status = HOMING
    link.engine.load([(0, "$H"), *PROGRAM])
    for _ in range(50):
        link.turn(STEP)
    assert link.engine.state is EngineState.STREAMING and link.controller.lines[-1] == "$H"
    return link


def finishing() -> Link:
    """Every line acknowledged, the machine still moving: the loop waits for Idle."""
    link = connect(STOCK_GRBL)
    link.controller.status = RUN
    link.engine.load(PROGRAM[:3])
    link.turn()
    assert link.engine.state is EngineState.COMPLETE
    return link


def cancelling() -> Link:
    link = streaming()
    link.controller.status = HOLDING
    link.write(link.engine.cancel())
    for _ in range(30):
        link.turn(STEP)
    assert link.engine.state is EngineState.STOPPED and link.engine.draining
    return link


STATES = {
    "connecting": connecting,
    "ready": ready,
    "streaming": streaming,
    "paused": paused,
    "homing": homing,
    "finishing": finishing,
    "cancelling": cancelling,
}


def pump_until_lost(link: Link, limit: float) -> ConnectionLost | None:
    end = link.now + limit
    while link.now < end:
        lost = of_type(link.turn(STEP), ConnectionLost)
        if lost:
            return lost[0]
    return None


@pytest.mark.parametrize("state", STATES)
def test_silence_is_noticed_within_two_seconds(state):
    link = STATES[state]()
    link.controller.silent = True  # the cable is pulled
    pulled = link.now
    assert link.engine.next_deadline(link.now) <= pulled + 2.0  # a loop sleeping on it wakes in time

    lost = pump_until_lost(link, 5.0)

    assert lost is not None
    assert link.now - pulled <= 2.0 + 2 * STEP
    assert 2.0 - 1e-9 <= lost.silent_for <= 2.0 + 2 * STEP
    halted = of_type(link.events, Halted)
    if state == "cancelling":
        # Already STOPPED by the host, so nothing can FAIL; the drain ends at once instead of waiting.
        assert halted == [] and not link.engine.draining
        assert link.engine.state is EngineState.STOPPED
    else:
        assert link.events[-2:] == [lost, Halted(f"connection lost: {lost.detail}")]
        assert link.engine.state is EngineState.FAILED
        assert link.engine.failed.startswith("connection lost: no answer from the controller for 2.0")
    if state == "homing":
        assert lost.detail.endswith("while homing")


@pytest.mark.parametrize("state", STATES)
def test_a_live_controller_is_never_taken_for_a_lost_one(state):
    link = STATES[state]()
    assert pump_until_lost(link, 9.0) is None
    assert link.engine.failed is None


def test_stock_grbl_may_stay_silent_while_homing_but_not_forever():
    """GRBL 1.1 answers no ``?`` until its homing cycle ends; ``homing_timeout`` bounds that silence."""
    link = connect(STOCK_GRBL, homing_timeout=30.0)
    link.controller.answer_lines = False
    link.engine.load([(0, "$H"), *PROGRAM])
    link.turn()
    assert link.controller.lines[-1] == "$H"
    link.controller.silent = True  # homing: GRBL prints nothing, not even status reports
    started = link.now

    assert pump_until_lost(link, 20.0) is None
    lost = pump_until_lost(link, 15.0)

    assert lost is not None and lost.detail.endswith("while homing")
    assert 30.0 - 1e-9 <= lost.silent_for <= 30.0 + 2 * STEP
    assert link.now - started <= 30.0 + 2 * STEP


def test_after_a_silent_homing_the_two_second_rule_applies_again():
    link = connect(STOCK_GRBL)
    link.controller.answer_lines = False
    link.engine.load([(0, "$H"), *PROGRAM])
    link.turn()
    link.controller.silent = True
    assert pump_until_lost(link, 12.0) is None
    # Homing done: the held status report and the $H's ok come out, then the cable is pulled.
    link.events += link.engine.receive_data(crlf("<Idle|MPos:0.000,0.000,0.000|FS:0,0>", "ok"), link.now)
    resumed = link.now
    assert pump_until_lost(link, 3.0) is not None
    assert link.now - resumed <= 2.0 + 2 * STEP


def test_a_host_that_stopped_asking_does_not_blame_the_controller():
    link = connect(STOCK_GRBL)
    link.now += 5.0  # the host stalled: no poll, no read
    link.controller.silent = True  # the answer to the next "?" has not arrived yet
    assert of_type(link.turn(STEP), ConnectionLost) == []
    assert pump_until_lost(link, 3.0) is not None  # but real silence after asking is still noticed


def test_after_a_lost_link_safe_shutdown_resets_at_once():
    link = streaming()
    link.controller.silent = True
    pump_until_lost(link, 3.0)
    assert link.engine.safe_shutdown() == b"!\x18"
    assert not link.engine.draining


def test_the_old_response_timeout_is_gone():
    with pytest.raises(TypeError):
        GrblEngine(response_timeout=10.0)
