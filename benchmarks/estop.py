"""E-STOP latency benchmark: from the web request to the stop byte at a simulated GRBL mill, mid-cut.

Run: ``.venv/bin/python -m benchmarks.estop [--trials 100] [--load] [--database-url postgres://...]``

Each trial queues and starts a job through the services, lets a real Celery worker process (the machine's
runner) stream it to the simulator over a pty at 115200 baud until the mill is cutting, then posts the
E-STOP to the API (``django.test.Client``, in this process: the whole Django request, not the socket) and
times until the simulator receives GRBL's soft reset. It reports the latency to the wire (goal: p99 < 50 ms
over at least 100 trials), the time until the API answered (which includes waiting for the runner's
confirmation), and how many stops were reported delivered.

``--load`` keeps one core busy with another process for the whole run. ``--database-url`` runs on
PostgreSQL (a scratch database is created and dropped); the default is a fresh SQLite file. The simulated
mill homes fast (it is the stop being timed, not the homing after it).
"""

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAUD = 115200
# A mill that homes in well under a second: GRBL needs homing after every stop mid-motion.
FAST_HOMING = {24: 600.0, 25: 3000.0, 27: 0.5}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def busy_core(enabled: bool):
    """Another process spinning on one core while the block runs (if ``enabled``)."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@contextlib.contextmanager
def scratch_database(url: str | None):
    """Point Django at a new SQLite file, or at a new database on the PostgreSQL server of ``url``."""
    os.environ["MES_VAR_DIR"] = tempfile.mkdtemp(prefix="mes-estop-")
    if not url:
        os.environ.pop("DATABASE_URL", None)
        yield "SQLite (WAL)"
        return
    import psycopg

    name = f"mes_estop_{uuid.uuid4().hex[:8]}"
    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    try:
        yield "PostgreSQL"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_trials(trials: int) -> list[dict]:
    """One dict per trial: ``wire_ms`` (request -> byte at the mill), ``answer_ms``, ``status``."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    from mes.production import services as production
    from mes.production.models import FeedstockLot, Machine
    from mes.repairs import services as repairs
    from simulators.serve import SimulatedMachine
    from tests.factories import make_shop
    from tests.support.worker import celery_worker, wait_until

    shop = make_shop()
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    # Every stopped run uses up the blank it started on: enough blanks for any number of trials.
    FeedstockLot.objects.filter(pk=shop.blanks.pk).update(quantity_received=10**6, quantity_on_hand=10**6)
    client = Client()
    client.force_login(shop.machinist)
    # A shop's web process is warm: load the API stack once, as any earlier request would have.
    assert client.get(f"/api/v1/machines/{shop.mill.pk}/").status_code == 200
    results = []
    sim = SimulatedMachine(
        "grbl", transport="pty", baud=BAUD, time_scale=1.0, envelope=(300, 200, 80), settings=FAST_HOMING
    )
    with sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url, requires_homing=True)
        with celery_worker([shop.mill.queue_name]) as worker:
            for trial in range(trials):
                ticket = repairs.ticket_file(
                    shop.engineer,
                    sector=shop.sector,
                    module=shop.module,
                    severity="critical",
                    description=f"trial {trial}",
                )
                request = repairs.part_request_create(
                    shop.engineer, ticket=ticket, revision=shop.revision, quantity=1
                )
                job = request.work_orders.get().jobs.get()
                production.job_start(shop.machinist, job=job, lot=shop.blanks)
                before, ran = sim.stats.estops, len(sim.executed)
                # Stop mid-cut: wait until the machine is executing this job's moves.
                if not sim.wait_for(lambda core, r=ran: len(core.executed) >= r + 3, timeout=30):
                    job.refresh_from_db()
                    raise RuntimeError(
                        f"trial {trial}: {job} did not run: {job.state} {job.outcome!r}\n"
                        + "".join(worker.output[-30:])
                    )
                t0 = time.monotonic()
                response = client.post(f"/api/v1/machines/{shop.mill.pk}/estop/")
                answered = time.monotonic()
                if not sim.wait_for(lambda core, b=before: core.stats.estops > b, timeout=5):
                    raise RuntimeError(f"trial {trial}: the E-STOP never arrived: {response.content}")
                results.append(
                    {
                        "wire_ms": (sim.stats.estop_times[-1] - t0) * 1000,
                        "answer_ms": (answered - t0) * 1000,
                        "status": response.json()["status"],
                        # issued (the command row was made) -> delivered (the runner's stamp), both DB-side
                        "runner_ms": response.json()["latency_ms"],
                    }
                )
                production.machine_clear_error(shop.machinist, machine=shop.mill, note="benchmark")
                # The runner ends its session and frees the port before the next trial starts.
                if not wait_until(lambda: not sim.connected, timeout=30):
                    raise RuntimeError(
                        f"trial {trial}: the runner kept the port after the stop\n"
                        + "".join(worker.output[-40:])
                    )
    return results


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
        f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--load", action="store_true", help="keep one core busy with another process")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server to run on (default SQLite)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    os.environ["MES_QUEUE_PREFIX"] = f"bench{uuid.uuid4().hex[:6]}."
    sys.path.insert(0, str(ROOT))
    with scratch_database(args.database_url) as database, busy_core(args.load):
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results = run_trials(args.trials)
        load = os.getloadavg()[0]
    wire = [r["wire_ms"] for r in results]
    answer = [r["answer_ms"] for r in results]
    delivered = sum(r["status"] == "delivered" for r in results)
    print("latency to the wire (ms, in trial order):", " ".join(f"{v:.0f}" for v in wire))
    print(
        f"# E-STOP, {started}, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {database}, {'one core busy' if args.load else 'quiet'} "
        f"(load average {load:.1f} at the end)"
    )
    print(f"| request -> stop byte at the mill ({len(wire)} trials) | {summary(wire)} | p99 < 50 ms |")
    runner_side = [r["runner_ms"] for r in results if r["runner_ms"] is not None]
    print(f"| command row made -> runner's delivery stamp | {summary(runner_side)} | |")
    print(f"| request -> API answer (waits for the runner's confirmation) | {summary(answer)} | |")
    print(f"| reported delivered | {delivered} of {len(results)} | all |")


if __name__ == "__main__":
    main()
