"""Which firmwares the host speaks: the one place that finds them.

Every subpackage of :mod:`machines.protocol` that defines ``FIRMWARE`` (a
:class:`~machines.protocol.firmware.Firmware`) is a firmware; nothing lists them by hand, so adding a
firmware is writing its package (engine, dialect) and its simulator (``simulators/<name>.py``). The
streaming loop, the runner, the validator's profiles, the catalogue's choices and the management
commands all find it here.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from machines.gcode.dialects import Dialect
from machines.gcode.profiles import Envelope, MachineProfile, default_profile
from machines.protocol.base import ProtocolEngine
from machines.protocol.firmware import Firmware

# The package whose subpackages are the firmwares (this module's own).
_PACKAGE = __name__.rpartition(".")[0]


def discover(directory: Path, package: str) -> dict[str, Firmware]:
    """The firmwares defined (as ``FIRMWARE``) by the subpackages of ``package``, which lives in
    ``directory``, sorted by name. ValueError if two packages claim the same name."""
    found: dict[str, Firmware] = {}
    for info in pkgutil.iter_modules([str(directory)], prefix=f"{package}."):
        if not info.ispkg:
            continue
        firmware = getattr(importlib.import_module(info.name), "FIRMWARE", None)
        if not isinstance(firmware, Firmware):
            continue
        if firmware.name in found:
            raise ValueError(f"two packages define firmware {firmware.name!r}")
        found[firmware.name] = firmware
    return dict(sorted(found.items()))


@functools.cache
def discover_defaults() -> dict[str, Firmware]:
    """The firmware packages beside this module, found once, on first use."""
    return discover(Path(__file__).parent, _PACKAGE)


def firmwares() -> dict[str, Firmware]:
    """Every firmware the host speaks, by name, sorted by name."""
    return discover_defaults()


def firmware_named(name: str) -> Firmware:
    """The firmware called ``name``; ValueError naming the known ones if there is none."""
    try:
        return firmwares()[name]
    except KeyError:
        raise ValueError(f"unknown firmware {name!r}; expected one of {sorted(firmwares())}") from None


def firmware_choices() -> list[tuple[str, str]]:
    """``(name, label)`` pairs for model and form choices."""
    return [(name, firmware.label) for name, firmware in firmwares().items()]


def engine_class(firmware: str) -> type[ProtocolEngine]:
    """The engine class for ``firmware``; ValueError if no engine speaks it."""
    return firmware_named(firmware).engine


def engine_for(firmware: str, **options) -> ProtocolEngine:
    """A fresh protocol engine for ``firmware``, built with the engine's own keyword ``options``."""
    return engine_class(firmware)(**options)


def dialect_for(firmware: str) -> Dialect:
    """How ``firmware`` reads G-code; ValueError if it is unknown."""
    return firmware_named(firmware).dialect


def profile_for(firmware: str, envelope: Envelope, **overrides: object) -> MachineProfile:
    """The default profile of a ``firmware`` machine; any MachineProfile field can be overridden."""
    return default_profile(dialect_for(firmware), envelope, **overrides)
