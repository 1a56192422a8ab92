"""``manage.py serve_demo_machines``: simulated GRBL and Marlin machines on the demo machines' ports.

Serves until SIGINT/SIGTERM; see :mod:`demo.shop`.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from demo.shop import simulated_shop


class Command(BaseCommand):
    help = "Run a firmware simulator for every machine whose port is a local socket:// URL."

    def add_arguments(self, parser):
        parser.add_argument("--time-scale", type=float, default=0.1, help="1 = real time, 0 = instant")
        parser.add_argument("--baud", type=int, default=115200, help="wire rate to simulate (0 = unpaced)")

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with simulated_shop(time_scale=options["time_scale"], baud=options["baud"] or None) as machines:
            for machine in machines:
                self.stdout.write(f"{machine.name}: simulated {machine.firmware} on {machine.port_url}")
            self.stdout.flush()
            stop.wait()
