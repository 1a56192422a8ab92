"""The worker-kill drill: ten SIGKILLs of a machine's worker mid-run, with real worker processes.

Each kill leaves the run INTERRUPTED (found by the watchdog, the function beat runs every
``MES_WATCHDOG_PERIOD_S``, within ``MES_RUN_STALE_AFTER_S`` plus one period), the machine locked in error,
the machine shown unreachable, and nothing restarted: no reconnection to the controller, no job started
but by a person. Clearing the machine fails the run and queues its replacement, which the next round
starts. Detection times are printed (``pytest -s``) for docs/benchmarks.md.
"""

import signal
import time
import uuid

import pytest

from machines import runner
from mes.core.queues import machine_queue
from mes.production import selectors
from mes.production import services as production
from mes.production.models import Job, Machine
from mes.repairs import services as repairs
from simulators.serve import SimulatedMachine
from tests.factories import make_shop
from tests.support.worker import celery_worker, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KILLS = 10
# A mill that homes in well under a second (the drill is about the kill, not the homing before it).
FAST_HOMING = {24: 600.0, 25: 3000.0, 27: 0.5}


def watchdog_found(job) -> bool:
    """Run the watchdog as beat does; whether it has marked ``job`` INTERRUPTED."""
    runner.interrupt_stale_runs()
    return Job.objects.get(pk=job.pk).state == "interrupted"


def unreachable(machine) -> bool:
    return selectors.terminal_board(machine_ids=[machine.pk]).tiles[0].unreachable


def test_ten_kills_mid_run_leave_ten_interrupted_runs_and_nothing_restarts(settings):
    settings.MES_QUEUE_PREFIX = f"t{uuid.uuid4().hex[:8]}."
    env = {"MES_QUEUE_PREFIX": settings.MES_QUEUE_PREFIX}
    shop = make_shop()
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="life_safety", description="breach"
    )
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    queue = machine_queue(shop.mill.pk)
    detections, interrupted = [], []
    options = {"baud": 115200, "time_scale": 1.0, "envelope": (300, 200, 80), "settings": FAST_HOMING}
    with SimulatedMachine("grbl", transport="pty", **options) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        for kill in range(KILLS):
            job = Job.objects.get(machine=shop.mill, state="queued")  # the replacement of the last round
            with celery_worker([queue], extra_env=env) as worker:
                ran = len(sim.executed)
                production.job_start(shop.machinist, job=job, lot=shop.blanks)
                assert sim.wait_for(lambda core, r=ran: len(core.executed) >= r + 3, timeout=30), (
                    worker.output
                )
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                killed_at = time.monotonic()
            found = wait_until(
                lambda j=job: (
                    runner.interrupt_stale_runs() >= 0 and Job.objects.get(pk=j.pk).state == "interrupted"
                ),
                timeout=60,
                interval=settings.MES_WATCHDOG_PERIOD_S,
            )
            assert found, f"kill {kill + 1}: the run was not interrupted"
            detections.append(time.monotonic() - killed_at)
            interrupted.append(job.pk)
            mill = Machine.objects.get(pk=shop.mill.pk)
            assert mill.state == "error"
            assert wait_until(
                lambda: selectors.terminal_board(machine_ids=[shop.mill.pk]).tiles[0].unreachable
            )
            assert sim.stats.connections == kill + 1  # nobody reconnected to the controller by itself
            assert not Job.objects.filter(state="running").exists()
            production.machine_clear_error(shop.machinist, machine=mill, note=f"drill round {kill + 1}")
    assert Job.objects.filter(pk__in=interrupted, state="failed").count() == KILLS
    print("detection after SIGKILL (s):", " ".join(f"{t:.1f}" for t in detections))
