"""``manage.py simulate_machine``: serve a simulated firmware controller.

The first stdout line is the URL to connect to (a pty path or
``socket://127.0.0.1:PORT``); it is flushed immediately so a parent process
can read it.  Serves until SIGINT/SIGTERM.  Test/demo equipment only.
"""

from __future__ import annotations

import importlib
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from simulators.serve import SimulatedMachine, simulated_firmwares, travel_options


def _envelope(text: str) -> tuple[float, float, float]:
    try:
        x, y, z = (float(part) for part in text.split(","))
    except ValueError:
        raise CommandError("--envelope must be X,Y,Z in mm, e.g. 300,200,100") from None
    return (x, y, z)


def _firmware_option_groups() -> dict[str, object]:
    """Each simulator module that has options of its own (``add_command_options`` and
    ``command_core_kwargs``), by firmware name: so no firmware is named here."""
    modules = {name: importlib.import_module(f"simulators.{name}") for name in simulated_firmwares()}
    return {name: module for name, module in modules.items() if hasattr(module, "add_command_options")}


class Command(BaseCommand):
    help = "Run a firmware simulator on a pty or TCP port (test/demo only)."

    def add_arguments(self, parser):
        parser.add_argument("--firmware", required=True, choices=simulated_firmwares())
        parser.add_argument("--transport", default="pty", choices=["pty", "tcp"])
        parser.add_argument("--port", type=int, default=0, help="TCP port (0 = ephemeral)")
        parser.add_argument("--baud", type=int, default=115200, help="wire rate; 0 = unpaced")
        parser.add_argument("--time-scale", type=float, default=1.0, dest="time_scale")
        parser.add_argument("--noise", type=float, default=0.0, help="incoming line noise rate")
        parser.add_argument("--envelope", type=_envelope, default=None, help="travel X,Y,Z mm")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--noise-rate", type=float, default=None, dest="noise_rate", help="same as --noise"
        )
        parser.add_argument(
            "--latency-ms", type=float, default=0.0, dest="latency_ms", help="adapter latency each way"
        )
        for name, module in _firmware_option_groups().items():
            module.add_command_options(parser.add_argument_group(f"{name} only"))

    def handle(self, *args, **options):
        noise = options["noise"] if options["noise_rate"] is None else options["noise_rate"]
        core_kwargs = {"noise_rate": noise, "seed": options["seed"]}
        for name, module in _firmware_option_groups().items():
            own = module.command_core_kwargs(options)
            if own and name != options["firmware"]:
                raise CommandError(f"options {', '.join(sorted(own))} need --firmware {name}")
            core_kwargs.update(own)
        if options["envelope"] is not None:
            core_kwargs.update(travel_options(options["firmware"], options["envelope"]))
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        sim = SimulatedMachine(
            options["firmware"],
            options["transport"],
            baud=options["baud"] or None,
            time_scale=options["time_scale"],
            port=options["port"],
            latency_s=options["latency_ms"] / 1000.0,
            **core_kwargs,
        )
        with sim:
            self.stdout.write(sim.url)
            self.stdout.flush()
            # Event.wait with a timeout keeps the main thread responsive to signals.
            while not stop.wait(0.5):
                if sim.error is not None:
                    raise CommandError(f"simulator crashed: {sim.error!r}")
