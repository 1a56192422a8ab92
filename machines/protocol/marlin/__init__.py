"""Marlin 2: the host-side engine (:mod:`.engine`) and how it reads G-code (:mod:`.gcode`)."""

from machines.protocol.firmware import Firmware
from machines.protocol.marlin.engine import (
    MarlinEngine,
    checksum,
    command_timeout,
    frame_line,
    parse_temperatures,
)
from machines.protocol.marlin.gcode import DIALECT

FIRMWARE = Firmware(engine=MarlinEngine, dialect=DIALECT, label="Marlin 2")

__all__ = [
    "DIALECT",
    "FIRMWARE",
    "MarlinEngine",
    "checksum",
    "command_timeout",
    "frame_line",
    "parse_temperatures",
]
