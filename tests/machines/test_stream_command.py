"""``manage.py stream`` as a script would run it, against a simulator on a real pty."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.serve import SimulatedMachine

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "demo" / "programs" / "bracket-80x30x4-pla.gcode"

pytestmark = pytest.mark.slow


def stream(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "stream", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_streams_a_real_slicer_program_and_prints_a_json_summary():
    with SimulatedMachine("marlin", transport="pty", baud=None, time_scale=0) as sim:
        done = stream("--port", sim.url, "--firmware", "marlin", "--json", str(SAMPLE))
        executed = len([r for r in sim.executed if r.line_number is not None])
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["outcome"] == "complete"
    assert summary["lines_acknowledged"] == summary["lines"] > 8000
    assert executed >= summary["lines"]
    assert set(summary) >= {"lines_sent", "resends", "errors", "seconds", "bytes_per_second"}


def test_a_program_outside_the_envelope_is_refused_before_the_port_opens(tmp_path):
    program = tmp_path / "far.gcode"
    program.write_text("G21\nG90\nG1 X10 Y10 F1000\nG1 X400 Y10\n")
    with SimulatedMachine("grbl", transport="pty", baud=None, time_scale=0) as sim:
        done = stream("--port", sim.url, "--firmware", "grbl", "--envelope", "0,300,0,200,0,80", str(program))
        assert sim.stats.connections == 0
    assert done.returncode == 2
    assert "line 4" in done.stderr and "outside" in done.stderr


def test_forbidden_commands_are_refused_before_the_port_opens(tmp_path):
    program = tmp_path / "eeprom.gcode"
    program.write_text("G28\nM500\n")
    with SimulatedMachine("marlin", transport="pty", baud=None, time_scale=0) as sim:
        done = stream("--port", sim.url, "--firmware", "marlin", str(program))
        assert sim.stats.connections == 0
    assert done.returncode == 2 and "line 2" in done.stderr and "M500" in done.stderr
