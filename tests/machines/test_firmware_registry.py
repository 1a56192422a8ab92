"""Every per-firmware table names the same firmwares: adding one is an entry in each, never a branch."""

import pytest

from demo.shop import simulator_options
from machines import gcode, protocol
from machines.gcode import profiles, rules
from machines.gcode.dialects import DIALECTS
from simulators import serve


@pytest.mark.parametrize(
    "table",
    [
        protocol.ENGINES,
        DIALECTS,
        profiles.PROFILE_MAKERS,
        profiles.PARAMETER_LETTERS,
        rules.FORBIDDEN_RULES,
        rules.WARNED,
        serve.FIRMWARES,
    ],
    ids=["engines", "dialects", "profiles", "letters", "forbidden", "warned", "simulators"],
)
def test_each_firmware_table_lists_every_firmware(table):
    assert set(table) == profiles.FIRMWARES


def test_registries_are_keyed_by_each_entry_s_own_firmware_name():
    assert all(engine.firmware == name for name, engine in protocol.ENGINES.items())
    assert all(dialect.firmware == name for name, dialect in DIALECTS.items())
    assert all(core.firmware == name for name, core in serve.FIRMWARES.items())


def test_profile_for_builds_the_firmware_s_default_profile():
    envelope = gcode.Envelope(0, 100, 0, 100, 0, 100)

    assert gcode.profile_for("grbl", envelope) == gcode.grbl_profile(envelope)
    assert gcode.profile_for("marlin", envelope, max_feed_mm_min=99.0) == gcode.marlin_profile(
        envelope, max_feed_mm_min=99.0
    )
    with pytest.raises(ValueError, match="firmware must be one of"):
        gcode.profile_for("toy", envelope)


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
