"""Shop terminal benchmark: render time and query count of the terminal page and its live fragment.

Run: ``.venv/bin/python -m benchmarks.terminal [--machines 50] [--queued 200] [--stock 10000]
[--renders 200]``

Builds a throw-away database (Django's test database: a fresh SQLite file in a temporary ``MES_VAR_DIR``,
or, when ``DATABASE_URL`` points at PostgreSQL, a ``test_<name>`` database created and dropped there) with
``--machines`` machines (each with a loaded lot and telemetry; a third of them running a job, some paused,
completed or in error), ``--queued`` queued jobs spread over them with a few life-safety ones, and
``--stock`` serialised stock items. Then renders ``/terminal/`` and ``/terminal/board/`` ``--renders``
times each through Django's test client, logged in as a machinist (``DEBUG`` off, as in a shop), and
prints the query count per request and the render time median, p95 and max (goal: p95 < 100 ms each).
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import timedelta

if "DATABASE_URL" not in os.environ:
    os.environ.setdefault("MES_VAR_DIR", tempfile.mkdtemp(prefix="mes-bench-terminal-"))
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from machines.models import MachineTelemetry  # noqa: E402
from mes.catalog.models import MachineType  # noqa: E402
from mes.inventory.models import StockItem  # noqa: E402
from mes.production import selectors  # noqa: E402
from mes.production.models import FeedstockLot, Job, Machine  # noqa: E402
from mes.repairs import services as repairs  # noqa: E402
from tests.factories import MILL_ENVELOPE, PRINTER_ENVELOPE, make_shop  # noqa: E402

# Which job each machine holds, by machine index modulo 6: a shop mid-shift.
CURRENT_BY_SLOT = {0: "running", 1: "running", 2: "paused", 3: "completed", 4: "interrupted"}
MACHINE_STATE_BY_SLOT = {0: "running", 1: "running", 2: "paused", 3: "idle", 4: "error", 5: "idle"}


def build(machines: int, queued: int, stock: int):
    """Seed the shop through the services (users, released programs, a ticket's work order), then
    bulk-create the volume: machines, lots, telemetry, jobs and stock items."""
    shop = make_shop()
    ticket = repairs.ticket_file(
        shop.supervisor, sector=shop.sector, module=shop.module, severity="critical", description="bench"
    )
    request = repairs.part_request_create(shop.supervisor, ticket=ticket, revision=shop.revision, quantity=1)
    work_order = request.work_orders.get()
    Job.objects.filter(work_order=work_order).delete()  # its dispatched job would skew the mix below

    now = timezone.now()
    lots, new_machines = [], []
    for i in range(machines):
        is_mill = i % 2 == 0
        lots.append(
            FeedstockLot(
                code=f"BENCH-{i:03d}",
                material="Al 6061" if is_mill else "PLA",
                unit="blank" if is_mill else "g",
                quantity_received=1000,
                quantity_on_hand=1000 - i,
            )
        )
    lots = FeedstockLot.objects.bulk_create(lots)
    Machine.objects.all().delete()  # the two of make_shop are re-made below with the others
    for i in range(machines):
        is_mill = i % 2 == 0
        slot = i % 6
        new_machines.append(
            Machine(
                name=f"{'Mill' if is_mill else 'Printer'}-{i + 1:02d}",
                machine_type=MachineType.CNC_MILL if is_mill else MachineType.FDM_PRINTER,
                firmware="grbl" if is_mill else "marlin",
                state=MACHINE_STATE_BY_SLOT[slot],
                state_reason="the machine's worker stopped reporting" if slot == 4 else "",
                loaded_lot=lots[i],
                work_offsets={"G54": [10.0, 10.0, 50.0]} if is_mill else {},
                **(MILL_ENVELOPE if is_mill else PRINTER_ENVELOPE),
            )
        )
    new_machines = Machine.objects.bulk_create(new_machines)
    MachineTelemetry.objects.bulk_create(
        MachineTelemetry(
            machine=m,
            firmware_state="Run" if m.state == "running" else "Idle",
            position=[12.5 + i, 40.0, -2.0] if m.firmware == "grbl" else None,
            temperatures=None if m.firmware == "grbl" else {"T0": [209.6, 210.0], "B": [60.1, 60.0]},
            message="ALARM:1 hard limit" if m.state == "error" else "",
            # Runners report only while they run a job: an idle machine's last report is old.
            updated_at=now if m.state in ("running", "paused") else now - timedelta(minutes=30),
        )
        for i, m in enumerate(new_machines)
    )

    def program_for(machine):
        return shop.mill_program if machine.firmware == "grbl" else shop.print_program

    jobs = []
    for i, m in enumerate(new_machines):
        state = CURRENT_BY_SLOT.get(i % 6)
        if state:
            jobs.append(
                Job(
                    work_order=work_order,
                    machine=m,
                    program=program_for(m),
                    severity_rank=1,
                    state=state,
                    started_at=now - timedelta(minutes=10),
                    progress=(i % 10) / 10,
                    lines_total=6000,
                    lines_acknowledged=600 * (i % 10),
                    feedstock_lot=lots[i],
                    operator=shop.machinist,
                )
            )
    for n in range(queued):
        m = new_machines[n % machines]
        jobs.append(
            Job(
                work_order=work_order,
                machine=m,
                program=program_for(m),
                severity_rank=0 if n % 37 == 0 else 1 + n % 2,
                needed_by=now + timedelta(hours=1 + n % 48) if n % 3 else None,
                state="queued",
            )
        )
    Job.objects.bulk_create(jobs)

    finished = Job.objects.create(
        work_order=work_order,
        machine=new_machines[0],
        program=shop.mill_program,
        severity_rank=1,
        state="finished",
    )
    statuses = ["accepted", "awaiting_inspection", "accepted", "rejected", "scrapped"]
    StockItem.objects.bulk_create(
        (
            StockItem(
                serial=f"SN-{n:06d}",
                revision=shop.revision,
                status=statuses[n % len(statuses)],
                job=finished,
                machine=new_machines[n % machines],
                program_sha256=shop.mill_program.sha256,
                feedstock_lot=lots[n % machines],
                operator=shop.machinist,
            )
            for n in range(stock)
        ),
        batch_size=2000,
    )
    return shop


def progress_mover():
    """A callable that moves every running job's progress on by one line, as the runners do each second."""
    running = list(Job.objects.filter(state="running").values_list("pk", "lines_total"))
    step = {"n": 0}

    def advance() -> None:
        step["n"] += 1
        for pk, total in running:
            done = step["n"] % max(total, 1)
            Job.objects.filter(pk=pk).update(lines_acknowledged=done, progress=done / max(total, 1))

    return advance


def measure(client: Client, url: str, renders: int, before=None) -> dict:
    """Query count of one request, then wall and CPU time of ``renders`` requests (after a warm-up).

    ``before``, if given, runs (untimed) before each timed request: a shop changing between requests.
    """
    for _ in range(5):  # warm: templates compiled, connection open, session cached as in a running server
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    queries = len(captured.captured_queries)  # now: it reads the connection's log, which later requests reset
    times, cpu = [], []
    for _ in range(renders):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200
    times.sort()
    return {
        "cpu_median": statistics.median(cpu),
        "queries": queries,
        "bytes": len(response.content),
        "median": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * len(times)) - 1)],
        "max": times[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--stock", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    database = f"{connection.vendor} {connection.settings_dict['NAME']} (dropped afterwards)"
    try:
        t0 = time.perf_counter()
        shop = build(args.machines, args.queued, args.stock)
        built = time.perf_counter() - t0
        client = Client()
        client.force_login(shop.machinist)
        page = client.get("/terminal/").content.decode()
        tiles = page.count('class="card tile"')
        # Tiles are rendered once per version and cached (mes/production/templatetags/terminal.py):
        # measure the worst case (empty cache: a restarted server), the shop as it runs (the running
        # jobs' progress moves between two requests, so their tiles render again) and the best case.
        advance = progress_mover()
        results = {
            "/terminal/ (cold: tile cache empty)": measure(client, "/terminal/", args.renders, cache.clear),
            "/terminal/ (running jobs advance between requests)": measure(
                client, "/terminal/", args.renders, advance
            ),
            "/terminal/ (nothing changed)": measure(client, "/terminal/", args.renders),
            "/terminal/board/ (first poll, cold: every tile)": measure(
                client, "/terminal/board/", args.renders, cache.clear
            ),
        }
        # A polling page holds every tile's version; in a running shop the tiles of running jobs change
        # each second (progress), the others do not: that is the steady-state poll.
        tiles_now = selectors.terminal_board().tiles
        running = {t.pk for t in tiles_now if t.current and t.current.state == "running"}
        held = ",".join(f"{t.pk}:{t.version}" for t in tiles_now if t.pk not in running)
        steady = f"/terminal/board/ (steady: the {len(running)} running tiles changed)"
        results[steady] = measure(client, f"/terminal/board/?have={held}", args.renders, advance)
        counts = {
            "machines": Machine.objects.count(),
            "queued": Job.objects.filter(state="queued").count(),
            "running": Job.objects.filter(state="running").count(),
            "jobs": Job.objects.count(),
            "stock items": StockItem.objects.count(),
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"database: {database}; python {platform.python_version()}; {os.cpu_count()} CPUs")
    print(f"data: {counts}; built in {built:.1f} s; tiles on the page: {tiles}")
    print()
    print(f"load average at the end (other processes on this machine): {os.getloadavg()}")
    print()
    print("| request | queries | median | p95 | max | CPU median | response |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for url, r in results.items():
        print(
            f"| GET {url} | {r['queries']} | {r['median']:.1f} ms | {r['p95']:.1f} ms | {r['max']:.1f} ms "
            f"| {r['cpu_median']:.1f} ms | {r['bytes'] / 1024:.0f} KiB |"
        )
    for label, rows in (
        ("a running shop", {k: r for k, r in results.items() if "cold" not in k}),
        ("a cold tile cache (server just started)", {k: r for k, r in results.items() if "cold" in k}),
    ):
        worst = max(r["p95"] for r in rows.values())
        verdict = "met" if worst < 100 else "NOT met"
        print(f"goal p95 < 100 ms, {label}: {verdict} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
