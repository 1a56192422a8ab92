"""An E-STOP says, per machine, whether the stop reached the controller: delivered, unconfirmed, unreachable.

The delivered path through a real runner and a simulated controller is in
``tests/machines/test_runner_integration.py``; here the runner's side is the database row it would write.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from machines import selectors as machine_selectors
from machines.models import MachineCommand
from mes.production import services as production
from mes.production.models import Job, JobState, Machine, MachineState
from mes.repairs import services as repairs

pytestmark = pytest.mark.django_db


def running_with_runner(shop, *, heartbeat_age_s: float) -> Job:
    """The mill running a job claimed by a runner that last reported ``heartbeat_age_s`` seconds ago."""
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = Job.objects.get(machine=shop.mill)
    beat = timezone.now() - timedelta(seconds=heartbeat_age_s)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, runner="celery@mill-1", runner_heartbeat_at=beat
    )
    Machine.objects.filter(pk=shop.mill.pk).update(state=MachineState.RUNNING)
    return job


def test_a_runner_that_confirms_makes_the_stop_delivered(shop, settings, monkeypatch):
    running_with_runner(shop, heartbeat_age_s=0.5)
    real = machine_selectors.commands_delivered
    looks = []

    def runner_confirms_on_the_second_look(ids):
        looks.append(ids)
        if len(looks) == 2:  # the runner wrote the bytes and its row between the service's two reads
            MachineCommand.objects.filter(pk__in=ids).update(delivered_at=timezone.now())
        return real(ids)

    monkeypatch.setattr(machine_selectors, "commands_delivered", runner_confirms_on_the_second_look)

    report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)

    assert report.status == "delivered" and report.delivered and report.latency_ms >= 0
    assert report.message.startswith("Mill-1 stopped: the emergency stop reached its controller")
    assert report.machine.state == MachineState.ERROR


def test_a_connected_runner_that_does_not_confirm_in_time_is_unconfirmed(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0.05
    running_with_runner(shop, heartbeat_age_s=0.5)

    report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)

    assert report.status == "unconfirmed" and not report.delivered
    assert "not confirmed by its runner within 0.05 s" in report.message
    assert "treat it as still moving and use the machine's own emergency stop" in report.message
    assert refresh(shop.mill).state == MachineState.ERROR  # locked whatever became of the stop


def test_a_runner_silent_for_longer_than_its_heartbeat_is_unreachable_at_once(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 30  # would hang the test if the service waited for a dead runner
    running_with_runner(shop, heartbeat_age_s=settings.MES_RUNNER_ALIVE_S + 1)

    report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)

    assert report.status == "unreachable"
    assert report.message.startswith("Mill-1 unreachable: no controller is connected")
    assert MachineCommand.objects.get(machine=shop.mill).delivered_at is None


def test_stop_all_reports_every_machine_that_could_move(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0.05
    running_with_runner(shop, heartbeat_age_s=0.5)
    Machine.objects.filter(pk=shop.printer.pk).update(state=MachineState.IDLE)

    reports = production.machines_emergency_stop_all(shop.machinist)

    assert {(r.machine.name, r.status) for r in reports} == {
        ("Mill-1", "unconfirmed"),
        ("Printer-1", "unreachable"),
    }


def refresh(machine):
    machine.refresh_from_db()
    return machine
