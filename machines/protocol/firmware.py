"""What the host knows about one firmware: how to talk to it and how it reads G-code.

Each firmware is a package under :mod:`machines.protocol` whose ``__init__`` defines ``FIRMWARE``, a
:class:`Firmware`; :mod:`machines.protocol.registry` finds every such package, so adding a firmware
adds one package (its engine, its G-code dialect, its codes) and its simulator, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from machines.gcode.dialects import Dialect
from machines.protocol.base import ProtocolEngine


@dataclass(frozen=True)
class Firmware:
    """One firmware: the protocol engine that speaks it, the dialect it reads, the name people see."""

    engine: type[ProtocolEngine]
    dialect: Dialect
    #: How forms and pages name the firmware, with its version ("GRBL 1.1").
    label: str

    def __post_init__(self) -> None:
        if self.engine.firmware != self.dialect.firmware:
            raise ValueError(
                f"engine speaks {self.engine.firmware!r} but the dialect is {self.dialect.firmware!r}"
            )

    @property
    def name(self) -> str:
        """The name machines record (``"grbl"``), the key of the registry."""
        return self.dialect.firmware
