"""Start one Celery worker per machine queue on this host (concurrency 1, prefetch 1) and keep them.

On a real shop each machine host runs only the workers of the machines whose cables it holds
(``--machines``); ``make run`` runs them all for the demo.
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
        workers = [self._start(machine) for machine in machines]
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1.0):
            if any(worker.poll() is not None for worker in workers):
                self.stderr.write("a machine worker exited; stopping the others")
                break
        for worker in workers:
            worker.terminate()
        for worker in workers:
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
