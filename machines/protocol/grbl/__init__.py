"""GRBL 1.1: the host-side engine (:mod:`.engine`), its wire format (:mod:`.wire`), its error and alarm
texts (:mod:`.codes`), its settings checked against the machine record (:mod:`.settings`) and how it
reads G-code (:mod:`.gcode`)."""

from machines.protocol.firmware import Firmware
from machines.protocol.grbl.engine import GrblEngine
from machines.protocol.grbl.gcode import DIALECT
from machines.protocol.grbl.wire import is_sync_command, parse_status_report

FIRMWARE = Firmware(engine=GrblEngine, dialect=DIALECT, label="GRBL 1.1")

__all__ = ["DIALECT", "FIRMWARE", "GrblEngine", "is_sync_command", "parse_status_report"]
