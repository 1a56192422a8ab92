"""Simulated shop equipment: GRBL 1.1 and Marlin 2.1 firmware, and a camera station.

Test and demo equipment only; never import this package from product code. Django-free. Each simulator
is an independent model of the *equipment's* side, so that host-side code can be tested against a peer
that behaves like the real thing:

* :mod:`.grbl` / :mod:`.marlin` — pure firmware cores (bytes + time in,
  bytes + executed-line records out), one module named after each firmware the host
  speaks, exposing ``CORE``; :mod:`.core` is what they share and :mod:`.grbl_gcode`
  the G-code interpreter of the GRBL core.
* :mod:`.wire` — wire-rate pacing (10 bits per byte).
* :mod:`.serve` — :class:`SimulatedMachine`, which serves a core on a pty or
  a TCP port from a background thread.
* :mod:`.camera` — a camera over the inspection stage that renders ChArUco
  boards and parts (with their ground truth) from first principles. It needs
  numpy and OpenCV, so it is not imported here: ``from simulators import camera``.

Typical use::

    with SimulatedMachine(firmware="grbl", transport="pty", time_scale=0) as sim:
        port = serial.serial_for_url(sim.url, timeout=2)
        ...
        assert [r.text for r in sim.executed] == [...]
"""

from simulators.core import ExecutedLine, Faults, FirmwareCore, Stats
from simulators.serve import SimulatedMachine, core_class, make_core
from simulators.wire import Wire

__all__ = [
    "ExecutedLine",
    "Faults",
    "FirmwareCore",
    "SimulatedMachine",
    "Stats",
    "Wire",
    "core_class",
    "make_core",
]
