"""Illegal transitions, missing feedstock, unreleased programs and wrong roles: a clear error, no change."""

from decimal import Decimal

import pytest

from mes.catalog.models import Program
from mes.core.errors import (
    IllegalTransition,
    InsufficientFeedstock,
    NoCapableMachine,
    NotPermitted,
    ProgramNotReleased,
    RuleViolation,
)
from mes.inventory import services as inventory
from mes.production import services as production
from mes.production.models import FeedstockLot, Machine
from mes.repairs import services as repairs
from tests.factories import database_snapshot
from vision import services as inspections

pytestmark = pytest.mark.django_db


def queued_job(shop, severity="critical"):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity=severity, description="x"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    return request.work_orders.get().jobs.get()


def assert_refused(call, error, *, says: str):
    """``call`` raises ``error`` whose message contains ``says``, and no row of the shop changed."""
    before = database_snapshot()
    with pytest.raises(error) as raised:
        call()
    assert says in raised.value.message
    assert database_snapshot() == before


def test_finishing_a_queued_job_is_an_illegal_transition(shop):
    job = queued_job(shop)
    assert_refused(
        lambda: production.job_finish(shop.machinist, job=job),
        IllegalTransition,
        says="cannot be finished while it is queued: it must be completed or running",
    )


def test_closing_an_open_ticket_is_an_illegal_transition(shop):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="routine", description="x"
    )
    assert_refused(
        lambda: repairs.ticket_close(shop.supervisor, ticket=ticket),
        IllegalTransition,
        says="cannot go from open to closed",
    )


def test_resolving_a_ticket_that_waits_for_parts_is_refused(shop):
    job = queued_job(shop)
    ticket = job.work_order.part_request.ticket
    assert_refused(
        lambda: repairs.ticket_resolve(shop.engineer, ticket=ticket, resolution="done"),
        RuleViolation,
        says="still waits for parts",
    )


def test_starting_without_a_loaded_lot_is_refused(shop):
    job = queued_job(shop)
    assert_refused(
        lambda: production.job_start(shop.machinist, job=job),
        InsufficientFeedstock,
        says="Load a feedstock lot",
    )


def test_starting_with_the_wrong_material_is_refused(shop):
    job = queued_job(shop)
    wrong = shop.pla if job.machine_id == shop.mill.pk else shop.blanks
    assert_refused(
        lambda: production.job_start(shop.machinist, job=job, lot=wrong),
        InsufficientFeedstock,
        says="this program needs",
    )


def test_starting_with_too_little_feedstock_is_refused(shop):
    job = queued_job(shop)
    lot = shop.blanks if job.machine_id == shop.mill.pk else shop.pla
    FeedstockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=Decimal("0.001"))
    assert_refused(
        lambda: production.job_start(shop.machinist, job=job, lot=lot),
        InsufficientFeedstock,
        says="left; the job needs",
    )


def test_starting_an_unreleased_program_is_refused(shop):
    job = queued_job(shop)
    Program.objects.filter(pk=job.program_id).update(released=False)
    lot = shop.blanks if job.machine_id == shop.mill.pk else shop.pla
    assert_refused(
        lambda: production.job_start(shop.machinist, job=job, lot=lot),
        ProgramNotReleased,
        says="is not released for production",
    )


def test_starting_on_a_busy_machine_is_refused(shop):
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    first, second = queued_job(shop), queued_job(shop)
    production.job_start(shop.machinist, job=first, lot=shop.blanks)
    assert_refused(
        lambda: production.job_start(shop.machinist, job=second, lot=shop.blanks),
        RuleViolation,
        says="must be idle",
    )


def test_a_program_outside_the_machines_envelope_is_refused_at_start(shop):
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    job = queued_job(shop)
    # The machinist zeroed the stock near the far corner: the cut would leave the travel.
    Machine.objects.filter(pk=shop.mill.pk).update(work_offsets={"G54": [290.0, 190.0, 50.0]})
    assert_refused(
        lambda: production.job_start(shop.machinist, job=job, lot=shop.blanks),
        RuleViolation,
        says="cannot run on Mill-1",
    )


def test_requesting_an_unreleased_revision_is_refused(db):
    from tests.factories import make_shop

    shop = make_shop(release=False)
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="routine", description="x"
    )
    assert_refused(
        lambda: repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1),
        RuleViolation,
        says="is not released",
    )


def test_a_request_no_machine_can_make_reserves_nothing(shop):
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)
    Machine.objects.update(state="maintenance")
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="life_safety", description="x"
    )
    assert_refused(
        lambda: repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=3),
        NoCapableMachine,
        says="No machine in service can make BRK-080@A",
    )


def test_a_module_from_another_sector_is_refused(shop):
    assert_refused(
        lambda: repairs.ticket_file(
            shop.engineer,
            sector=shop.sector,
            module=shop.other_module,
            severity="routine",
            description="x",
        ),
        RuleViolation,
        says="is not in sector",
    )


def test_inspecting_a_part_twice_is_refused(shop):
    job = queued_job(shop)
    lot = shop.blanks if job.machine_id == shop.mill.pk else shop.pla
    production.job_start(shop.machinist, job=job, lot=lot)
    [item] = production.job_finish(shop.machinist, job=job)
    inspections.inspection_record(shop.inspector, stock_item=item, verdict="accepted")
    assert_refused(
        lambda: inspections.inspection_record(shop.inspector, stock_item=item, verdict="accepted"),
        RuleViolation,
        says="not awaiting inspection",
    )


def test_a_machinist_may_not_file_tickets(shop):
    assert_refused(
        lambda: repairs.ticket_file(
            shop.machinist,
            sector=shop.sector,
            module=shop.module,
            severity="routine",
            description="x",
        ),
        NotPermitted,
        says="Only engineer, supervisor may ticket file",
    )
