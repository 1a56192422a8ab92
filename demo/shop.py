"""The simulated shop floor: a firmware simulator on the port of every demo machine (``serve_demo_machines``).

Demo equipment for ``make run``: every machine whose port is ``socket://127.0.0.1:<port>`` gets a firmware
simulator (:mod:`simulators`) listening there, with the machine's envelope, that keeps running across
reconnects like a real machine behind a network serial server. Machines on any other port are real
equipment and are left alone.
"""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from mes.production.models import Machine
from simulators.serve import SimulatedMachine, travel_options

#: Only ports on this host are simulated: a remote address is a real serial server.
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def local_tcp_port(url: str) -> int | None:
    """The TCP port of a ``socket://`` URL on this host, else ``None`` (a real device or a remote host)."""
    parts = urlsplit(url)
    if parts.scheme == "socket" and parts.hostname in LOCAL_HOSTS and parts.port:
        return parts.port
    return None


def simulator_options(machine: Machine) -> dict:
    """The simulator's keyword arguments that give it the machine's work envelope (mm)."""
    size = (machine.x_max - machine.x_min, machine.y_max - machine.y_min, machine.z_max - machine.z_min)
    return travel_options(machine.firmware, size)


@contextmanager
def simulated_shop(*, time_scale: float, baud: int | None) -> Iterator[list[Machine]]:
    """Serve a simulator for every machine on a local TCP port until the block exits.

    Yields the simulated machines (by name). ``time_scale``: 1 = real time, 0 = instant; ``baud``: wire
    rate to simulate, ``None`` for unpaced. All simulators stop when the block exits, even on error.
    """
    with ExitStack() as stack:
        served = []
        for machine in Machine.objects.order_by("name"):
            port = local_tcp_port(machine.port_url)
            if port is None:
                continue
            stack.enter_context(
                SimulatedMachine(
                    machine.firmware,
                    transport="tcp",
                    port=port,
                    baud=baud,
                    time_scale=time_scale,
                    **simulator_options(machine),
                )
            )
            served.append(machine)
        yield served
