"""Firmware simulators for GRBL 1.1 and Marlin 2.1 — test and demo equipment only.

Never import this package from product code.  It is an independent model of
the *firmware* side of the serial protocols so that host-side code can be
tested against a peer that behaves like the real thing:

* :mod:`.grbl` / :mod:`.marlin` — pure firmware cores (bytes + time in,
  bytes + executed-line records out).
* :mod:`.wire` — wire-rate pacing (10 bits per byte).
* :mod:`.serve` — :class:`SimulatedMachine`, which serves a core on a pty or
  a TCP port from a background thread.

Typical use::

    with SimulatedMachine(firmware="grbl", transport="pty", time_scale=0) as sim:
        port = serial.serial_for_url(sim.url, timeout=2)
        ...
        assert [r.text for r in sim.executed] == [...]
"""

from machines.simulators.core import ExecutedLine, Faults, FirmwareCore, Stats
from machines.simulators.grbl import GrblCore
from machines.simulators.marlin import MarlinCore
from machines.simulators.serve import SimulatedMachine, make_core
from machines.simulators.wire import Wire

__all__ = [
    "ExecutedLine",
    "Faults",
    "FirmwareCore",
    "GrblCore",
    "MarlinCore",
    "SimulatedMachine",
    "Stats",
    "Wire",
    "make_core",
]
