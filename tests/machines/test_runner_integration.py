"""A real Celery worker process runs MES jobs on a simulated machine over a real pty."""

import signal
import time
import uuid

import pytest

from machines.gcode import parse_program
from machines.models import MachineTelemetry
from mes.core.queues import machine_queue
from mes.inventory.models import StockItem
from mes.production import services as production
from mes.production.models import Job, Machine
from mes.repairs import services as repairs
from simulators.serve import SimulatedMachine
from tests.factories import make_shop
from tests.support.worker import celery_worker, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue_prefix(settings):
    """A queue namespace of this test's own, shared with the worker process it starts."""
    settings.MES_QUEUE_PREFIX = f"t{uuid.uuid4().hex[:8]}."
    return settings.MES_QUEUE_PREFIX


def queued_mill_job(shop):
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="life_safety", description="x"
    )
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    return request.work_orders.get().jobs.get()


def compact(text: str) -> str:
    return text.replace(" ", "").upper()


def test_a_job_queued_from_the_mes_runs_and_its_part_awaits_inspection(queue_prefix):
    shop = make_shop()
    job = queued_mill_job(shop)
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, envelope=(300, 200, 80)) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        with celery_worker([machine_queue(shop.mill.pk)], extra_env={"MES_QUEUE_PREFIX": queue_prefix}) as w:
            production.job_start(shop.machinist, job=job, lot=shop.blanks)
            assert wait_until(lambda: Job.objects.get(pk=job.pk).state == "completed", timeout=60), "".join(
                w.output[-40:]
            )
        executed = [compact(r.text) for r in sim.executed]
    job.refresh_from_db()
    assert job.progress == 1.0 and job.runner
    assert not StockItem.objects.filter(job=job).exists()  # the part is on the bed until removed
    production.job_finish(shop.machinist, job=job)
    [item] = StockItem.objects.filter(job=job)
    assert item.status == "awaiting_inspection" and item.program_sha256 == job.program.sha256
    program = [compact(text) for _, text in parse_program(job.program.gcode).sendable()]
    assert executed[-len(program) :] == program  # after homing and offsets: every line once, in order
    assert executed[0] == "$H"
    assert MachineTelemetry.objects.get(machine=shop.mill).firmware_state
    assert Machine.objects.get(pk=shop.mill.pk).state == "idle"


def test_estop_from_the_mes_reaches_the_machine_mid_run(queue_prefix):
    shop = make_shop()
    job = queued_mill_job(shop)
    with SimulatedMachine(
        "grbl", transport="pty", baud=115200, time_scale=1.0, envelope=(300, 200, 80)
    ) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        with celery_worker([machine_queue(shop.mill.pk)], extra_env={"MES_QUEUE_PREFIX": queue_prefix}):
            production.job_start(shop.machinist, job=job, lot=shop.blanks)
            assert sim.wait_for(lambda core: len(core.executed) >= 5, timeout=30)  # cutting has begun
            pressed_at = time.monotonic()
            report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)
            # Only a stop after the press counts: the connect handshake's soft reset is a 0x18 too.
            assert sim.wait_for(lambda core: any(t >= pressed_at for t in core.stats.estop_times), timeout=15)
            executed_at_stop = len(sim.executed)
    # The runner confirmed the bytes were on the wire before the request answered.
    assert report.status == "delivered", report.message
    assert report.message.startswith("Mill-1 stopped: the emergency stop reached its controller")
    job.refresh_from_db()
    assert job.state == "failed" and "emergency stop" in job.outcome
    assert Machine.objects.get(pk=shop.mill.pk).state == "error"
    assert not StockItem.objects.filter(job=job).exists()
    assert len(sim.executed) == executed_at_stop  # nothing ran after the stop


def test_a_worker_that_dies_mid_run_leaves_an_interrupted_job_and_nothing_restarts(queue_prefix):
    shop = make_shop()
    job = queued_mill_job(shop)
    queue = machine_queue(shop.mill.pk)
    env = {"MES_QUEUE_PREFIX": queue_prefix}
    with SimulatedMachine(
        "grbl", transport="pty", baud=115200, time_scale=1.0, envelope=(300, 200, 80)
    ) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        with celery_worker([queue], extra_env=env) as worker:
            production.job_start(shop.machinist, job=job, lot=shop.blanks)
            assert sim.wait_for(lambda core: len(core.executed) >= 5, timeout=30)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        executed_at_death = len(sim.executed)
        with celery_worker([queue], extra_env=env):
            assert wait_until(lambda: Job.objects.get(pk=job.pk).state == "interrupted", timeout=30)
        assert Machine.objects.get(pk=shop.mill.pk).state == "error"
        assert sim.stats.connections == 1  # the new worker never reconnected to the machine
        assert len(sim.executed) <= executed_at_death + 20  # only what was already in GRBL's buffer


def test_an_estop_after_the_worker_died_says_it_was_not_delivered(queue_prefix, settings):
    settings.MES_ESTOP_CONFIRM_S = 0.2
    shop = make_shop()
    job = queued_mill_job(shop)
    with SimulatedMachine(
        "grbl", transport="pty", baud=115200, time_scale=1.0, envelope=(300, 200, 80)
    ) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        with celery_worker([machine_queue(shop.mill.pk)], extra_env={"MES_QUEUE_PREFIX": queue_prefix}) as w:
            production.job_start(shop.machinist, job=job, lot=shop.blanks)
            assert sim.wait_for(lambda core: len(core.executed) >= 5, timeout=30)
            w.send_signal(signal.SIGKILL)
            w.wait(timeout=10)
        estops_before = sim.stats.estops
        report = production.machine_emergency_stop(shop.machinist, machine=shop.mill)
        api_view = client_for_machinist(shop).post(f"/api/v1/machines/{shop.mill.pk}/estop/")

    # Within MES_RUNNER_ALIVE_S of its last report the dead runner still looks connected: unconfirmed;
    # after that nobody holds the port: unreachable. Never "delivered", because nothing was sent.
    assert report.status in ("unconfirmed", "unreachable") and not report.delivered
    assert "use the machine's own emergency stop" in report.message
    assert api_view.status_code == 503 and api_view.json()["delivered"] is False
    assert sim.stats.estops == estops_before
    assert Machine.objects.get(pk=shop.mill.pk).state == "error"


def client_for_machinist(shop):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(shop.machinist)
    return client
