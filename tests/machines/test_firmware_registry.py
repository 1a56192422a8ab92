"""Adding a firmware is one new package under ``machines/protocol`` plus ``simulators/<name>.py``.

The registry finds firmware packages by themselves; every consumer (engines, G-code profiles and rules,
model choices, simulators, the demo's travel options) asks the registry, and no module outside a
firmware's own package and simulator names a firmware.
"""

import ast
import dataclasses
import textwrap
from pathlib import Path

import pytest

from demo.shop import simulator_options
from machines import gcode, protocol
from machines.protocol import registry
from machines.protocol.firmware import Firmware
from machines.protocol.grbl import DIALECT as GRBL_DIALECT
from machines.protocol.grbl import GrblEngine
from mes.catalog.models import Program
from mes.production.models import Machine
from simulators import serve

ROOT = Path(__file__).resolve().parents[2]

TOY_PACKAGE = """
import dataclasses

from machines.protocol.firmware import Firmware
from machines.protocol.grbl import DIALECT, GrblEngine


class ToyEngine(GrblEngine):
    firmware = "toy"


FIRMWARE = Firmware(
    engine=ToyEngine,
    dialect=dataclasses.replace(DIALECT, firmware="toy", display_name="Toy", max_line_length=20),
    label="Toy 1.0",
)
"""


@pytest.fixture
def toy_firmware(tmp_path, monkeypatch):
    """A firmware written as one new package (in a temporary directory), found and registered."""
    package = tmp_path / "toyshop"
    (package / "toy").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "toy" / "__init__.py").write_text(textwrap.dedent(TOY_PACKAGE))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = registry.discover(package, "toyshop")
    monkeypatch.setattr(registry, "firmwares", lambda: {**registry.discover_defaults(), **found})
    return found["toy"]


def test_the_registry_finds_each_firmware_package():
    assert list(protocol.firmwares()) == ["grbl", "marlin"]
    assert protocol.firmware_named("grbl").engine is GrblEngine
    assert protocol.dialect_for("grbl") is GRBL_DIALECT
    assert all(name == fw.engine.firmware == fw.dialect.firmware for name, fw in protocol.firmwares().items())
    with pytest.raises(ValueError, match="unknown firmware 'toy'; expected one of"):
        protocol.engine_for("toy")


def test_a_new_package_is_a_new_firmware_everywhere_the_host_asks(toy_firmware):
    envelope = gcode.Envelope(0, 100, 0, 100, -50, 0)
    profile = protocol.profile_for("toy", envelope)
    _, report = gcode.check_program("G21\nG0 X10.0000 Y10.0000 Z-1.0000\n", profile)

    assert isinstance(protocol.engine_for("toy"), toy_firmware.engine)
    assert profile.dialect is toy_firmware.dialect and profile.home_position == (100, 100, 0)
    assert [issue.reason for issue in report.errors] == [
        "line is 29 characters long; the machine accepts at most 20"
    ]
    assert ("toy", "Toy 1.0") in Program._meta.get_field("firmware").choices
    assert ("toy", "Toy 1.0") in Machine._meta.get_field("firmware").choices


def test_a_firmware_s_engine_and_dialect_must_agree():
    with pytest.raises(ValueError, match="engine speaks 'grbl' but the dialect is 'toy'"):
        Firmware(engine=GrblEngine, dialect=dataclasses.replace(GRBL_DIALECT, firmware="toy"), label="Toy")


def test_every_firmware_has_a_simulator_named_after_it():
    for name in protocol.firmwares():
        assert serve.core_class(name).firmware == name
    assert serve.simulated_firmwares() == list(protocol.firmwares())
    with pytest.raises(ValueError, match="unknown firmware 'toy'"):
        serve.make_core("toy")


class _Machine:
    x_min, x_max, y_min, y_max, z_min, z_max = 0, 300, 0, 200, -80, 0

    def __init__(self, firmware):
        self.firmware = firmware


def test_simulators_take_the_machine_travel_under_their_own_keyword():
    assert simulator_options(_Machine("grbl")) == {"envelope": (300, 200, 80)}
    assert simulator_options(_Machine("marlin")) == {"bed_size": (300, 200, 80)}
    core = serve.make_core("marlin", **serve.travel_options("marlin", (10.0, 20.0, 30.0)))
    assert core.firmware == "marlin"
    with pytest.raises(ValueError, match="unknown firmware"):
        serve.travel_options("toy", (1.0, 1.0, 1.0))


# Product code that may name a firmware: the firmware's own package and simulator. Demo seed data and
# benchmarks name the machines they set up, which is data, not knowledge.
PRODUCT_PACKAGES = ("machines", "mes", "vision", "drawing", "simulators")


def _own_files(name: str) -> set[Path]:
    own = set((ROOT / "machines" / "protocol" / name).rglob("*.py"))
    own |= set((ROOT / "simulators").glob(f"{name}*.py"))
    return own


def _mentions(path: Path, names: set[str]) -> list[str]:
    """Places where ``path`` names a firmware: a string equal to its name, or an identifier containing it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in names:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
        elif isinstance(node, ast.Name | ast.Attribute | ast.alias):
            identifier = getattr(node, "id", None) or getattr(node, "attr", None) or node.name
            if any(name in identifier.lower() for name in names):
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)} {identifier}")
    return found


def test_no_product_module_outside_a_firmware_s_package_names_it():
    names = set(protocol.firmwares())
    own = set().union(*(_own_files(name) for name in names))
    offenders = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in own or "migrations" in path.parts:
                continue
            offenders += _mentions(path, names)
    assert offenders == []
