"""Sans-I/O host-side protocol engines, one package per firmware (:mod:`.grbl`, :mod:`.marlin`).

Each firmware package holds its engine, its G-code dialect and its codes, and defines ``FIRMWARE``;
:mod:`.registry` finds them (``firmwares()``, ``engine_for(name)``), so nothing here names a firmware.

Bytes in, events out; commands in, bytes out.  No serial port, no clock, no
threads: the runner passes ``now`` (monotonic seconds) into every call.
"""

from machines.protocol.base import (
    EngineState,
    MachineFacts,
    ProtocolEngine,
    ProtocolStateError,
    UnsupportedCommand,
)
from machines.protocol.events import (
    Acknowledged,
    Alarm,
    BuildInfo,
    Busy,
    Capabilities,
    ConnectionLost,
    ControllerSettings,
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
from machines.protocol.registry import (
    dialect_for,
    engine_class,
    engine_for,
    firmware_choices,
    firmware_named,
    firmwares,
    profile_for,
)

__all__ = [
    "Acknowledged",
    "Alarm",
    "BuildInfo",
    "Busy",
    "Capabilities",
    "ConnectionLost",
    "ControllerSettings",
    "EngineState",
    "Event",
    "FirmwareError",
    "Halted",
    "HostAction",
    "MachineFacts",
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
    "UnsupportedCommand",
    "dialect_for",
    "engine_class",
    "engine_for",
    "firmware_choices",
    "firmware_named",
    "firmwares",
    "profile_for",
]
