"""A machine on a cable is only as reachable as its worker: heartbeats decide, and jobs refuse to start
without one. The kill drill with real processes is in tests/machines/test_worker_kill_drill.py."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from mes.core import heartbeats
from mes.core.errors import RuleViolation
from mes.core.models import WorkerHeartbeat
from mes.core.queues import machine_queue
from mes.core.selectors import live_queues
from mes.production import actions as production_actions
from mes.production import selectors
from mes.production import services as production
from mes.production.models import Job, JobState, Machine
from mes.repairs import services as repairs

pytestmark = pytest.mark.django_db


def queued_mill_job(shop):
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    Machine.objects.filter(pk=shop.mill.pk).update(port_url="socket://127.0.0.1:7101")
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    return Job.objects.get(machine=shop.mill)


def beat(queue: str, *, seconds_ago: float) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker="mill-1@host",
        defaults={"queue": queue, "seen_at": timezone.now() - timedelta(seconds=seconds_ago)},
    )


def test_a_job_does_not_start_on_a_cabled_machine_whose_worker_is_silent(shop, settings):
    job = queued_mill_job(shop)
    beat(machine_queue(shop.mill.pk), seconds_ago=settings.MES_WORKER_ALIVE_S + 1)

    with pytest.raises(RuleViolation, match="Mill-1 is unreachable: no worker for its queue"):
        production.job_start(shop.machinist, job=job, lot=shop.blanks)

    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    assert selectors.terminal_board(machine_ids=[shop.mill.pk]).tiles[0].unreachable


def test_a_live_worker_lets_the_job_start(shop, settings):
    job = queued_mill_job(shop)
    beat(machine_queue(shop.mill.pk), seconds_ago=1)

    production.job_start(shop.machinist, job=job, lot=shop.blanks)

    assert Job.objects.get(pk=job.pk).state == JobState.RUNNING
    assert not selectors.terminal_board(machine_ids=[shop.mill.pk]).tiles[0].unreachable


@pytest.mark.django_db(transaction=True)  # the heartbeat thread writes on its own connection
def test_a_worker_keeps_beating_until_told_to_stop(settings):
    settings.MES_WORKER_HEARTBEAT_S = 0.01
    stop = threading.Event()
    thread = heartbeats.keep_beating("w@h", ["machine.7", "default"], stop=stop)
    first = WorkerHeartbeat.objects.get(worker="w@h").seen_at
    beaten = threading.Event()

    def later():
        return WorkerHeartbeat.objects.get(worker="w@h").seen_at > first

    try:
        for _ in range(500):
            if later():
                beaten.set()
                break
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert beaten.is_set() and not thread.is_alive()
    assert live_queues(alive_s=5) == {"machine.7", "default"}


def test_an_unclaimed_run_gets_longer_than_a_silent_runner(shop):
    job = queued_mill_job(shop)
    beat(machine_queue(shop.mill.pk), seconds_ago=0)
    production.job_start(shop.machinist, job=job, lot=shop.blanks)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(seconds=20))

    assert production_actions.do_jobs_interrupt_stale(older_than_s=8, unclaimed_after_s=60) == []
    [interrupted] = production_actions.do_jobs_interrupt_stale(older_than_s=8, unclaimed_after_s=10)
    assert interrupted.pk == job.pk and interrupted.state == JobState.INTERRUPTED
