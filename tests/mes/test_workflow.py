"""The repair workflow end to end, through the services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mes.inventory import services as inventory
from mes.inventory.models import StockItem, StockStatus
from mes.production import selectors as production_selectors
from mes.production import services as production
from mes.production.models import Job, JobState, MachineState, WorkOrderStatus
from mes.repairs import services as repairs
from mes.repairs.models import RequestStatus, TicketStatus
from tests.factories import make_shop
from vision import services as inspections
from vision.models import Verdict

pytestmark = pytest.mark.django_db


def lot_for(shop, job):
    return shop.blanks if job.machine_id == shop.mill.pk else shop.pla


def run_job_to_finish(shop, job) -> StockItem:
    production.job_start(shop.machinist, job=job, lot=lot_for(shop, job))
    [item] = production.job_finish(shop.machinist, job=job)
    return item


def test_life_safety_ticket_from_filing_to_closed(shop):
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)
    life = repairs.ticket_file(
        shop.engineer,
        sector=shop.sector,
        module=shop.module,
        severity="life_safety",
        description="Breach in A3: door frame cracked",
    )
    routine = repairs.ticket_file(
        shop.engineer,
        sector=shop.sector,
        module=shop.module,
        severity="routine",
        description="Loose shelf plate",
    )
    assert life.status == TicketStatus.OPEN

    # Partial reservation: one unit from stock, the other becomes a work order and a queued job.
    life_request = repairs.part_request_create(
        shop.engineer,
        ticket=life,
        revision=shop.revision,
        quantity=2,
        needed_by=timezone.now() + timedelta(hours=4),
    )
    routine_request = repairs.part_request_create(
        shop.engineer, ticket=routine, revision=shop.revision, quantity=1
    )
    life.refresh_from_db()
    assert life.status == TicketStatus.IN_PROGRESS
    assert StockItem.objects.get(status=StockStatus.RESERVED).reserved_for == life_request
    [life_wo] = life_request.work_orders.all()
    [routine_wo] = routine_request.work_orders.all()
    assert (life_wo.quantity, routine_wo.quantity) == (1, 1)
    [life_job] = life_wo.jobs.all()
    [routine_job] = routine_wo.jobs.all()
    assert life_job.state == routine_job.state == JobState.QUEUED

    # The routine job happens to run first; its part still goes to the life-safety request.
    blanks_before = shop.blanks.quantity_on_hand
    item = run_job_to_finish(shop, routine_job)
    assert item.status == StockStatus.AWAITING_INSPECTION
    assert (item.job, item.machine_id, item.operator) == (routine_job, routine_job.machine_id, shop.machinist)
    assert item.program_sha256 == routine_job.program.sha256
    assert item.feedstock_lot == lot_for(shop, routine_job)
    lot = lot_for(shop, routine_job)
    lot.refresh_from_db()
    used = routine_job.program.material_use
    assert lot.quantity_on_hand == (blanks_before if lot == shop.blanks else Decimal(500)) - used

    inspections.inspection_record(shop.station_user, stock_item=item, verdict=Verdict.ACCEPTED)
    item.refresh_from_db()
    assert item.status == StockStatus.RESERVED
    assert item.reserved_for == life_request  # priority over the routine request
    life_request.refresh_from_db()
    assert life_request.status == RequestStatus.READY

    assert repairs.part_request_issue(shop.engineer, request=life_request) == 2
    life_request.refresh_from_db()
    assert life_request.status == RequestStatus.ISSUED
    assert set(StockItem.objects.filter(issued_to=life).values_list("status", flat=True)) == {"issued"}

    repairs.ticket_resolve(shop.engineer, ticket=life, resolution="Frame reinforced with 2 brackets")
    repairs.ticket_close(shop.supervisor, ticket=life)
    life.refresh_from_db()
    assert life.status == TicketStatus.CLOSED and life.closed_at and life.resolved_at

    # The life-safety job's part now serves the routine request.
    later = run_job_to_finish(shop, life_job)
    inspections.inspection_record(shop.inspector, stock_item=later, verdict=Verdict.ACCEPTED)
    later.refresh_from_db()
    assert later.reserved_for == routine_request
    routine_request.refresh_from_db()
    assert routine_request.status == RequestStatus.READY
    life_wo.refresh_from_db()
    assert life_wo.status == WorkOrderStatus.COMPLETE

    # Every change is audited with who and why.
    history = list(life.history.order_by("history_date").values_list("history_user__username", "status"))
    assert history[0] == ("eli", "open") and history[-1] == ("sam", "closed")


def test_queue_orders_life_safety_first_then_needed_by_then_age(db):
    shop = make_shop(printer=False)  # one machine in service, so every job lands on the mill
    now = timezone.now()

    def request(severity, needed_by=None):
        ticket = repairs.ticket_file(
            shop.engineer, sector=shop.sector, module=shop.module, severity=severity, description="x"
        )
        req = repairs.part_request_create(
            shop.engineer, ticket=ticket, revision=shop.revision, quantity=1, needed_by=needed_by
        )
        return req.work_orders.get().jobs.get()

    routine = request("routine")
    critical_late = request("critical", now + timedelta(days=2))
    life_old = request("life_safety")
    critical_soon = request("critical", now + timedelta(hours=2))
    life_new = request("life_safety")
    queue = list(production_selectors.machine_queue(shop.mill))
    assert queue == [life_old, life_new, critical_soon, critical_late, routine]
    assert {job.machine_id for job in queue} == {shop.mill.pk}


def test_rejected_part_gets_nonconformance_and_a_replacement_job(shop):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    req = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = req.work_orders.get().jobs.get()
    item = run_job_to_finish(shop, job)
    inspections.inspection_record(
        shop.station_user, stock_item=item, verdict=Verdict.REJECTED, reason="H2 diameter 6.71 mm"
    )
    item.refresh_from_db()
    assert item.status == StockStatus.REJECTED
    ncr = item.nonconformances.get()
    assert ncr.reason == "H2 diameter 6.71 mm" and ncr.disposition == "pending"
    replacement = Job.objects.filter(work_order=job.work_order, state=JobState.QUEUED).get()
    assert replacement.pk != job.pk

    inventory.nonconformance_dispose(shop.inspector, ncr=ncr, disposition="scrap", note="oversize hole")
    item.refresh_from_db()
    assert item.status == StockStatus.SCRAPPED


def test_inspector_overrides_a_rejection_and_the_part_is_reserved(shop):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    req = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    item = run_job_to_finish(shop, req.work_orders.get().jobs.get())
    rejected = inspections.inspection_record(
        shop.station_user, stock_item=item, verdict=Verdict.REJECTED, reason="burr at corner"
    )
    override = inspections.inspection_override(
        shop.inspector, inspection=rejected, verdict=Verdict.ACCEPTED, reason="burr is dust, wiped"
    )
    item.refresh_from_db()
    assert override.overrides == rejected
    assert item.status == StockStatus.RESERVED and item.reserved_for == req
    assert item.nonconformances.get().disposition == "use_as_is"


def test_failed_job_puts_machine_in_error_until_a_machinist_clears_it(shop):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    req = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = req.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=lot_for(shop, job))
    production.job_fail(shop.machinist, job=job, reason="ALARM:1 hard limit")
    job.machine.refresh_from_db()
    assert job.machine.state == MachineState.ERROR
    assert job.machine.state_reason == "ALARM:1 hard limit"
    # The demand is not lost: a replacement is queued, and nothing starts until a person starts it.
    [again] = Job.objects.filter(state=JobState.QUEUED)
    assert again.work_order == job.work_order and not Job.objects.filter(state=JobState.RUNNING).exists()
    production.machine_clear_error(shop.machinist, machine=job.machine, note="limit switch reseated")
    job.machine.refresh_from_db()
    assert job.machine.state == MachineState.IDLE
    assert Job.objects.get(pk=again.pk).state == JobState.QUEUED


def test_cancelled_request_releases_its_stock_to_the_next_request(shop):
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)
    first = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    second = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="routine", description="y"
    )
    r1 = repairs.part_request_create(shop.engineer, ticket=first, revision=shop.revision, quantity=1)
    r2 = repairs.part_request_create(shop.engineer, ticket=second, revision=shop.revision, quantity=1)
    repairs.part_request_cancel(shop.engineer, request=r1, reason="frame replaced whole")
    item = StockItem.objects.get()
    assert item.reserved_for == r2
    assert not Job.objects.filter(work_order__part_request=r1, state=JobState.QUEUED).exists()


def test_pause_resume_and_cancel_reach_the_runner_through_the_control_channel(shop):
    from machines.models import MachineCommand

    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    req = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = req.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=lot_for(shop, job))
    production.job_pause(shop.machinist, job=job)
    assert Job.objects.get(pk=job.pk).state == JobState.PAUSED
    production.job_resume(shop.machinist, job=job)
    production.job_cancel(shop.machinist, job=job)
    sent = list(MachineCommand.objects.filter(job=job).values_list("command", "issued_by__username"))
    assert sent == [("pause", "mara"), ("resume", "mara"), ("cancel", "mara")]
    job.machine.refresh_from_db()
    assert job.machine.state == MachineState.IDLE


def test_long_reasons_fit_the_audit_history(shop):
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    req = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = req.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=lot_for(shop, job))
    reason = "program refused before sending: " + "line 12: X 312.000 is outside the envelope; " * 5
    production.job_fail(shop.machinist, job=job, reason=reason)
    job.refresh_from_db()
    assert job.outcome.startswith(reason)  # the whole text on the record (then what replaced the job)
    failing = job.history.filter(state="failed").order_by("history_date").first()
    assert len(failing.history_change_reason) <= 100 and failing.history_change_reason.endswith("…")


def test_two_released_programs_for_one_machine_dispatch_to_the_newest():
    from mes.catalog import services as catalog
    from tests.factories import MILL_PROGRAM

    shop = make_shop(printer=False)
    newer = catalog.program_create(
        shop.supervisor,
        revision=shop.revision,
        name="milled, second setup",
        machine_type="cnc_mill",
        firmware="grbl",
        material="Al 6061",
        gcode_text=MILL_PROGRAM.replace("F600", "F500"),
    )
    catalog.program_release(shop.supervisor, program=newer)
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="routine", description="x"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = request.work_orders.get().jobs.get()
    assert job.machine == shop.mill and job.program == newer
