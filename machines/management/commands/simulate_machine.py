"""``manage.py simulate_machine``: serve a simulated GRBL/Marlin controller.

The first stdout line is the URL to connect to (a pty path or
``socket://127.0.0.1:PORT``); it is flushed immediately so a parent process
can read it.  Serves until SIGINT/SIGTERM.  Test/demo equipment only.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from simulators.marlin import LINE_ERRORS, RESEND_STYLES
from simulators.serve import SimulatedMachine, simulated_firmwares, travel_options


def _envelope(text: str) -> tuple[float, float, float]:
    try:
        x, y, z = (float(part) for part in text.split(","))
    except ValueError:
        raise CommandError("--envelope must be X,Y,Z in mm, e.g. 300,200,100") from None
    return (x, y, z)


def _marlin_options(options: dict) -> dict:
    """MarlinCore keyword arguments for the Marlin options given (absent ones keep the core's default)."""
    kwargs = {
        "bufsize": options["bufsize"],
        "rx_buffer_size": options["rx_buffer"],
        "line_errors": options["line_errors"],
        "resend": options["resend"],
        "resend_delay": None if options["resend_delay_ms"] is None else options["resend_delay_ms"] / 1000.0,
    }
    kwargs = {name: value for name, value in kwargs.items() if value is not None}
    if options["advanced_ok"]:
        kwargs["advanced_ok"] = True
    if options["no_emergency_parser"]:
        kwargs["emergency_parser"] = False
    if options["host_actions"]:
        kwargs.update(host_action_commands=True, prompt_support=True, runout_sensor=True)
    return kwargs


class Command(BaseCommand):
    help = "Run a GRBL or Marlin firmware simulator on a pty or TCP port (test/demo only)."

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
        marlin = parser.add_argument_group("Marlin only")
        marlin.add_argument("--bufsize", type=int, default=None, help="command queue lines (4)")
        marlin.add_argument(
            "--rx-buffer", type=int, default=None, dest="rx_buffer", help="RX buffer bytes (128)"
        )
        marlin.add_argument("--advanced-ok", action="store_true", dest="advanced_ok")
        marlin.add_argument("--line-errors", default=None, dest="line_errors", choices=sorted(LINE_ERRORS))
        marlin.add_argument("--resend", default=None, choices=RESEND_STYLES)
        marlin.add_argument("--resend-delay-ms", type=float, default=None, dest="resend_delay_ms")
        marlin.add_argument("--no-emergency-parser", action="store_true", dest="no_emergency_parser")
        marlin.add_argument(
            "--host-actions", action="store_true", dest="host_actions", help="actions and prompts"
        )

    def handle(self, *args, **options):
        noise = options["noise"] if options["noise_rate"] is None else options["noise_rate"]
        core_kwargs = {"noise_rate": noise, "seed": options["seed"], **_marlin_options(options)}
        if core_kwargs.keys() - {"noise_rate", "seed"} and options["firmware"] != "marlin":
            raise CommandError("the Marlin options need --firmware marlin")
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
