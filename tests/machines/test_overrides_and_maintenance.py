"""Controller commands below the MES: the engines' generic override/maintenance API, overrides written by
the streaming loop mid-job (and reported back through ``Ov:``), and maintenance sessions ($X, $H) against
the GRBL simulator over a real pty."""

import threading

import pytest

from machines import maintenance, streaming, transport
from machines.protocol import UnsupportedCommand, engine_class, engine_for
from simulators.serve import SimulatedMachine
from tests.machines.test_streaming import Commands, grbl_program, stream

# --- the engines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "change", "wire"),
    [
        ("feed", 10, b"\x91"),
        ("feed", -10, b"\x92"),
        ("feed", "reset", b"\x90"),
        ("spindle", 10, b"\x9a"),
        ("spindle", -10, b"\x9b"),
        ("spindle", "reset", b"\x99"),
        ("rapid", 100, b"\x95"),
        ("rapid", 50, b"\x96"),
        ("rapid", 25, b"\x97"),
    ],
)
def test_grbl_overrides_are_its_real_time_bytes(kind, change, wire):
    assert engine_for("grbl").override(kind, change) == wire


@pytest.mark.parametrize(
    ("kind", "change"), [("rapid", 33), ("rapid", "reset"), ("coolant", 10), ("feed", "x")]
)
def test_an_override_grbl_does_not_take_is_refused_by_name(kind, change):
    with pytest.raises(UnsupportedCommand):
        engine_for("grbl").override(kind, change)


def test_an_engine_without_overrides_or_maintenance_says_so():
    engine = engine_for("marlin")
    assert engine_class("marlin").override_kinds == frozenset()
    assert engine_class("marlin").maintenance_commands == frozenset()
    with pytest.raises(UnsupportedCommand, match="override"):
        engine.override("feed", 10)
    with pytest.raises(UnsupportedCommand, match="unlock"):
        engine.maintenance_command("unlock")
    assert engine_class("marlin").explain_fault("ALARM:1") is None


def test_grbl_offers_unlock_and_home_and_explains_its_alarms():
    grbl = engine_class("grbl")
    assert grbl.maintenance_commands == {"unlock", "home"}
    assert grbl.override_kinds == {"feed", "spindle", "rapid"}
    assert grbl.explain_fault("ALARM:1 on line 4").startswith("Alarm 1: Hard limit triggered")
    assert grbl.explain_fault("emergency stop pressed by ann") is None


# --- overrides during a stream ----------------------------------------------------------------------


@pytest.mark.slow
def test_overrides_pressed_mid_job_reach_the_controller_and_come_back_in_telemetry():
    commands = Commands()
    snapshots: list[dict] = []
    hooks = streaming.StreamHooks(poll_commands=commands.poll, on_telemetry=snapshots.append)
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0.02) as sim:

        def press_once_cutting():
            if sim.wait_for(lambda core: len(core.executed) >= 3, timeout=30):
                for command in ("feed:+10", "feed:+10", "rapid:50", "spindle:-10"):
                    commands.push(command)

        presser = threading.Thread(target=press_once_cutting)
        presser.start()
        result = stream(sim, "grbl", grbl_program(120), hooks=hooks)
        presser.join()
        with sim.lock:
            core = sim.core
            applied = (core.feed_override, core.rapid_override, core.spindle_override)
    assert result.outcome == "complete", result.reason
    assert applied == (120, 50, 90)
    assert snapshots[-1]["overrides"] == {"feed": 120, "rapid": 50, "spindle": 90}


# --- maintenance sessions ---------------------------------------------------------------------------


def run_session(sim, kind, **options):
    port = transport.open_port(sim.url, 115200)
    try:
        return maintenance.MaintenanceSession(
            engine=engine_for("grbl"), port=port, kind=kind, **options
        ).run()
    finally:
        transport.close_quietly(port)


@pytest.mark.slow
def test_unlock_leaves_an_alarmed_controller_unlocked():
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, homing_lock=True) as sim:
        assert sim.wait_for(lambda core: core.alarm, timeout=1)  # powered up locked, as with homing enabled
        result = run_session(sim, "unlock")
        assert sim.wait_for(lambda core: not core.alarm and core.state == "Idle", timeout=1)
    assert result.succeeded and result.answer == "ok"
    assert result.state == "Idle"


@pytest.mark.slow
def test_home_runs_the_homing_cycle_and_leaves_the_controller_homed():
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, homing_lock=True) as sim:
        result = run_session(sim, "home")
        assert sim.wait_for(lambda core: not core.alarm and core.position == (0.0, 0.0, 0.0), timeout=1)
        assert [record.text for record in sim.executed] == ["$H"]
    assert result.succeeded and result.state == "Idle"


@pytest.mark.slow
def test_homing_refused_by_the_controller_is_a_failure_in_its_words():
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, settings={22: 0}) as sim:
        result = run_session(sim, "home")
    assert not result.succeeded and result.answer == "error"
    assert "Homing cycle is not enabled" in result.detail


@pytest.mark.slow
def test_an_estop_during_homing_is_written_at_once():
    commands = Commands()
    sent = []
    # Homing from far away at 1x time takes about a minute: only the E-STOP can end it in this test.
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=1.0, homing_lock=True) as sim:

        def press_when_homing():
            if sim.wait_for(lambda core: core.homing_until is not None, timeout=30):
                commands.push("estop")

        presser = threading.Thread(target=press_when_homing)
        presser.start()
        with sim.lock:
            sim.core._pos = (150.0, 150.0, 60.0)  # far from the switches
        result = run_session(sim, "home", poll_commands=commands.poll, on_estop_sent=lambda: sent.append(1))
        presser.join()
        assert sim.wait_for(lambda core: core.homing_until is None, timeout=5)
    assert result.answer == "estop" and sent == [1]
