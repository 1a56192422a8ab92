"""GRBL 1.1: the host-side engine (:mod:`.engine`), its error and alarm texts (:mod:`.codes`) and how it
reads G-code (:mod:`.gcode`)."""

from machines.protocol.firmware import Firmware
from machines.protocol.grbl.engine import GrblEngine, is_sync_command, parse_status_report
from machines.protocol.grbl.gcode import DIALECT

FIRMWARE = Firmware(engine=GrblEngine, dialect=DIALECT, label="GRBL 1.1")

__all__ = ["DIALECT", "FIRMWARE", "GrblEngine", "is_sync_command", "parse_status_report"]
