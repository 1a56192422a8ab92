"""Dispatch queues a job only where the start would accept it: the same check, through the work offsets."""

import pytest

from mes.catalog import services as catalog
from mes.catalog.models import MachineType, PartRevision
from mes.core.errors import NoCapableMachine
from mes.production.models import Job, Machine
from mes.repairs import services as repairs
from tests.factories import BRACKET_SPEC

pytestmark = pytest.mark.django_db

# A 295 mm pass: its size fits the 300 mm mill, but not from a work zero at X = 10 mm.
LONG_PASS = "G21 G90 G94\nM3 S10000\nG0 Z5\nG0 X0 Y0\nG1 Z-1 F150\nG1 X295 F600\nG0 Z5\nM5\nM30\n"


def long_strip(shop):
    """A released revision whose only program is the long pass, for the mill."""
    part = catalog.part_create(shop.supervisor, number="STR-300", name="Strip", kind="strip")
    revision = catalog.part_revision_create(
        shop.supervisor, part=part, revision="A", spec=BRACKET_SPEC, material="Al 6061"
    )
    program = catalog.program_create(
        shop.supervisor,
        revision=revision,
        name="long pass",
        machine_type=MachineType.CNC_MILL,
        firmware="grbl",
        material="Al 6061",
        gcode_text=LONG_PASS,
    )
    catalog.part_revision_release(shop.supervisor, revision=revision)
    catalog.program_release(shop.supervisor, program=program)
    return PartRevision.objects.get(pk=revision.pk)


def request_one(shop, revision):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    return repairs.part_request_create(shop.engineer, ticket=ticket, revision=revision, quantity=1)


def test_a_program_that_only_fits_by_size_is_not_queued_and_the_engineer_hears_why(shop):
    revision = long_strip(shop)  # the mill's G54 is at X = 10 mm

    with pytest.raises(NoCapableMachine) as refused:
        request_one(shop, revision)

    assert "Mill-1" in refused.value.message and "outside" in refused.value.message
    assert not Job.objects.exists()


def test_the_same_program_is_queued_once_the_work_zero_leaves_room(shop):
    revision = long_strip(shop)
    Machine.objects.filter(pk=shop.mill.pk).update(work_offsets={"G54": [2.0, 10.0, 50.0]})

    request_one(shop, revision)

    assert Job.objects.get().machine == shop.mill


def test_a_queued_job_that_can_no_longer_start_says_so_and_moves_when_cancelled(shop):
    from django.test import Client
    from django.urls import reverse

    from mes.production import services as production

    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = Job.objects.get(machine=shop.mill)
    # The machinist re-zeroes the mill where the bracket no longer fits.
    Machine.objects.filter(pk=shop.mill.pk).update(work_offsets={"G54": [250.0, 10.0, 50.0]})
    client = Client()
    client.force_login(shop.machinist)

    machine_page = client.get(reverse("terminal:machine", args=[shop.mill.pk])).content.decode()
    client.force_login(shop.engineer)
    ticket_page = client.get(reverse("repairs:ticket", args=[ticket.pk])).content.decode()

    assert 'data-testid="cannot-start"' in machine_page and "outside the work envelope" in machine_page
    assert 'data-testid="job-cannot-start"' in ticket_page and "Cannot start on Mill-1" in ticket_page
    Machine.objects.filter(pk=shop.printer.pk).update(state="idle")
    production.job_cancel(shop.machinist, job=job, reason="does not fit the stock as zeroed")
    assert Job.objects.get(state="queued").machine == shop.printer
