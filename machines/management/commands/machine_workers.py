"""Start one Celery worker per machine queue on this host (concurrency 1, prefetch 1) and keep them.

On a real shop each machine host runs only the workers of the machines whose cables it holds
(``--machines``); ``make run`` runs them all for the demo. Each machine is on its own: a worker that dies
is reported and left dead (its machine shows unreachable within ``MES_WORKER_ALIVE_S`` and its run is
INTERRUPTED by the watchdog; nothing restarts by itself), and the others keep running. The command ends
when it is told to stop, or when no worker is left.
"""

import signal
import subprocess
import sys
import threading

from django.core.management.base import BaseCommand

from mes.production.models import Machine


class Command(BaseCommand):
    help = "Run a Celery worker for each machine's queue (machine.<id>), concurrency 1."

    def add_arguments(self, parser):
        parser.add_argument("--machines", nargs="*", help="machine names (default: every machine)")

    def handle(self, *args, **options):
        machines = Machine.objects.order_by("name")
        if options["machines"]:
            machines = machines.filter(name__in=options["machines"])
        machines = list(machines)
        workers = [self._start(machine) for machine in machines]
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        running = dict(zip(workers, machines, strict=True))
        while running and not stop.wait(1.0):
            for worker in [w for w in running if w.poll() is not None]:
                machine = running.pop(worker)
                self.stderr.write(
                    f"{machine.name}: its worker exited (code {worker.returncode}); the other machines keep "
                    "running. Check the machine, then restart its worker."
                )
        for worker in running:
            worker.terminate()
        for worker in running:
            worker.wait(timeout=30)

    def _start(self, machine: Machine) -> subprocess.Popen:
        name = f"{machine.name.lower()}@%h"
        self.stdout.write(f"{machine.name}: worker on queue {machine.queue_name}")
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mes",
                "worker",
                "-Q",
                machine.queue_name,
                "-c",
                "1",
                "--prefetch-multiplier",
                "1",
                "-n",
                name,
                "--loglevel",
                "INFO",
            ]
        )
