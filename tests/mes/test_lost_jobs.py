"""A job that ends without a part leaves its demand visible: a replacement is queued, or the job says why
none could be, and the ticket shows both."""

from decimal import Decimal

import pytest
from django.urls import reverse

from mes.production import services as production
from mes.production.models import FeedstockLot, Job, JobState, Machine, WorkOrderStatus
from mes.repairs import services as repairs

pytestmark = pytest.mark.django_db


def started_job(shop):
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="life_safety", description="breach"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = request.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=shop.blanks)
    return ticket, Job.objects.get(pk=job.pk)


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(
            lambda shop, job: production.machine_emergency_stop(shop.machinist, machine=job.machine),
            id="estop",
        ),
        pytest.param(
            lambda shop, job: production.job_fail(shop.machinist, job=job, reason="tool broke"), id="fail"
        ),
        pytest.param(lambda shop, job: production.job_cancel(shop.machinist, job=job), id="cancel"),
    ],
)
def test_a_job_that_ends_without_a_part_is_replaced(shop, settings, end):
    settings.MES_ESTOP_CONFIRM_S = 0
    ticket, job = started_job(shop)

    end(shop, job)

    job.refresh_from_db()
    replacement = Job.objects.exclude(pk=job.pk).get(work_order=job.work_order)
    assert job.state in (JobState.FAILED, JobState.CANCELLED)
    assert replacement.state == JobState.QUEUED and replacement.machine == shop.mill
    assert f"Replaced by {replacement} on Mill-1." in job.outcome
    assert job.work_order.status in (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS)
    client = shop_client(shop.engineer)
    page = client.get(reverse("repairs:ticket", args=[ticket.pk])).content.decode()
    assert f"Replaced by {replacement} on Mill-1." in page
    assert f'data-testid="job-{replacement}"'.replace("Job ", "") in page


def test_an_interrupted_run_is_replaced_when_the_machinist_clears_the_machine(shop):
    _, job = started_job(shop)
    Job.objects.filter(pk=job.pk).update(state=JobState.INTERRUPTED)
    Machine.objects.filter(pk=shop.mill.pk).update(state="error")

    production.machine_clear_error(shop.machinist, machine=shop.mill, note="checked the spindle")

    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert Job.objects.filter(work_order=job.work_order, state=JobState.QUEUED).count() == 1


def test_when_no_machine_can_take_it_the_job_says_so_and_the_stop_still_happens(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0
    _, job = started_job(shop)
    Machine.objects.filter(pk=shop.mill.pk).update(work_offsets={"G54": [299.0, 10.0, 50.0]})

    report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)

    job.refresh_from_db()
    assert report.machine.state == "error" and job.state == JobState.FAILED
    assert "No replacement queued: No machine in service can make BRK-080@A" in job.outcome
    assert not Job.objects.filter(state=JobState.QUEUED).exists()


def shop_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_an_aborted_print_debits_the_filament_it_got_through(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0
    Machine.objects.filter(pk=shop.mill.pk).update(state="maintenance")
    Machine.objects.filter(pk=shop.printer.pk).update(state="idle")
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = request.work_orders.get().jobs.get()
    production.job_start(shop.machinist, job=job, lot=shop.pla)
    Job.objects.filter(pk=job.pk).update(lines_acknowledged=25, lines_total=100)  # the runner's last report
    before = FeedstockLot.objects.get(pk=shop.pla.pk).quantity_on_hand

    production.machine_emergency_stop(shop.machinist, machine=shop.printer)

    used = before - FeedstockLot.objects.get(pk=shop.pla.pk).quantity_on_hand
    assert used == (job.program.material_use / 4).quantize(Decimal("0.001"))


def test_a_blank_the_cutter_touched_is_used_up(shop):
    _, job = started_job(shop)
    Job.objects.filter(pk=job.pk).update(lines_acknowledged=1, lines_total=40)

    production.job_fail(shop.machinist, job=job, reason="tool broke")

    assert FeedstockLot.objects.get(pk=shop.blanks.pk).quantity_on_hand == shop.blanks.quantity_on_hand - 1


def test_a_run_cancelled_before_any_line_used_nothing(shop):
    _, job = started_job(shop)

    production.job_cancel(shop.machinist, job=job)

    assert FeedstockLot.objects.get(pk=shop.blanks.pk).quantity_on_hand == shop.blanks.quantity_on_hand
