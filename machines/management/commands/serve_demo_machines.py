"""Serve a simulated GRBL or Marlin machine on each local TCP port the machine records name.

Demo equipment for ``make run``: every machine whose port is ``socket://127.0.0.1:<port>`` gets a firmware
simulator listening there, with the machine's envelope, that keeps running across reconnects like a real
machine behind a network serial server.
"""

import signal
import threading
from contextlib import ExitStack
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand

from simulators.serve import SimulatedMachine
from mes.production.models import Machine

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def local_tcp_port(url: str) -> int | None:
    parts = urlsplit(url)
    if parts.scheme == "socket" and parts.hostname in LOCAL_HOSTS and parts.port:
        return parts.port
    return None


def simulator_options(machine: Machine) -> dict:
    size = (machine.x_max - machine.x_min, machine.y_max - machine.y_min, machine.z_max - machine.z_min)
    if machine.firmware == "grbl":
        return {"envelope": size}
    return {"bed_size": size}


class Command(BaseCommand):
    help = "Run a firmware simulator for every machine whose port is a local socket:// URL."

    def add_arguments(self, parser):
        parser.add_argument("--time-scale", type=float, default=0.1, help="1 = real time, 0 = instant")
        parser.add_argument("--baud", type=int, default=115200, help="wire rate to simulate (0 = unpaced)")

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with ExitStack() as stack:
            for machine in Machine.objects.order_by("name"):
                port = local_tcp_port(machine.port_url)
                if port is None:
                    continue
                stack.enter_context(
                    SimulatedMachine(
                        machine.firmware,
                        transport="tcp",
                        port=port,
                        baud=options["baud"] or None,
                        time_scale=options["time_scale"],
                        **simulator_options(machine),
                    )
                )
                self.stdout.write(f"{machine.name}: simulated {machine.firmware} on {machine.port_url}")
            self.stdout.flush()
            stop.wait()
