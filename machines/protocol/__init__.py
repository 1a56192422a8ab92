"""Sans-I/O host-side protocol engines for GRBL 1.1 and Marlin serial dialects.

Bytes in, events out; commands in, bytes out.  No serial port, no clock, no
threads: the runner passes ``now`` (monotonic seconds) into every call.
"""

from machines.protocol.base import EngineState, ProtocolEngine, ProtocolStateError
from machines.protocol.events import (
    Acknowledged,
    Alarm,
    Busy,
    Capabilities,
    Event,
    FirmwareError,
    Halted,
    HostAction,
    Message,
    ParserState,
    ProbeResult,
    ProtocolViolation,
    Resending,
    Started,
    StatusReport,
    StreamComplete,
    Temperatures,
    Unparsed,
)
from machines.protocol.grbl import GrblEngine
from machines.protocol.marlin import MarlinEngine
from machines.protocol.registry import ENGINES, engine_class, engine_for

__all__ = [
    "ENGINES",
    "Acknowledged",
    "Alarm",
    "Busy",
    "Capabilities",
    "EngineState",
    "Event",
    "FirmwareError",
    "GrblEngine",
    "Halted",
    "HostAction",
    "MarlinEngine",
    "Message",
    "ParserState",
    "ProbeResult",
    "ProtocolEngine",
    "ProtocolStateError",
    "ProtocolViolation",
    "Resending",
    "Started",
    "StatusReport",
    "StreamComplete",
    "Temperatures",
    "Unparsed",
    "engine_class",
    "engine_for",
]
