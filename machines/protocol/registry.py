"""Which engine speaks which firmware: the only list of firmwares on the host side.

Adding a firmware means writing its engine module and naming its class in ``ENGINES`` below;
the streaming loop, the runner and the management commands find it here.
"""

from __future__ import annotations

from machines.protocol.base import ProtocolEngine
from machines.protocol.grbl import GrblEngine
from machines.protocol.marlin import MarlinEngine

#: Engine class by firmware name (``ProtocolEngine.firmware``), in the order commands list them.
ENGINES: dict[str, type[ProtocolEngine]] = {engine.firmware: engine for engine in (GrblEngine, MarlinEngine)}


def engine_class(firmware: str) -> type[ProtocolEngine]:
    """The engine class for ``firmware``; ValueError if no engine speaks it."""
    try:
        return ENGINES[firmware]
    except KeyError:
        raise ValueError(f"unknown firmware {firmware!r}") from None


def engine_for(firmware: str, **options) -> ProtocolEngine:
    """A fresh protocol engine for ``firmware``, built with the engine's own keyword ``options``."""
    return engine_class(firmware)(**options)
