"""Program uploads: a size limit per machine type, production checks, and no long transaction."""

import pytest

from mes.catalog import services as catalog
from mes.catalog.models import MachineType
from mes.core.errors import RuleViolation
from mes.production.models import Machine
from mes.production.selectors import program_errors_on_machine
from tests.factories import MILL_PROGRAM, database_snapshot

pytestmark = pytest.mark.django_db


def upload(shop, text, *, machine_type=MachineType.CNC_MILL, firmware="grbl"):
    return catalog.program_create(
        shop.supervisor,
        revision=shop.revision,
        name="upload",
        machine_type=machine_type,
        firmware=firmware,
        material="Al 6061",
        gcode_text=text,
    )


def test_a_program_over_its_machine_type_s_size_limit_is_refused_unread(shop, settings):
    settings.MES_MAX_PROGRAM_MB = {"cnc_mill": 0.001, "fdm_printer": 8.0, "other": 2.0}
    before = database_snapshot()
    text = MILL_PROGRAM + "G0 X1\n" * 200  # about 1.5 kB

    with pytest.raises(
        RuleViolation, match=r"The program is 0\.00\d+ MB; programs for a CNC mill may be at most 0\.001 MB"
    ):
        upload(shop, text)

    assert database_snapshot() == before


def test_setup_commands_are_refused_at_upload(shop):
    with pytest.raises(RuleViolation, match="command G10 is not allowed in a production program"):
        upload(shop, "G21 G90\nG10 L2 P1 X5 Y5 Z0\nG0 X10\n")


def test_the_start_check_uses_the_machine_s_own_limits(shop):
    Machine.objects.filter(pk=shop.mill.pk).update(max_spindle_rpm=8000)
    mill = Machine.objects.get(pk=shop.mill.pk)

    [reason] = program_errors_on_machine(shop.mill_program, mill)

    assert reason == "line 3: spindle speed S10000 is above this machine's maximum of 8000 rpm"
