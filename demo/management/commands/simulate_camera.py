"""``manage.py simulate_camera --station NAME``: a simulated camera photographs parts awaiting inspection.

Passes every ``--interval`` seconds until SIGINT/SIGTERM (or one pass with ``--once``); see
:mod:`demo.camera`.
"""

import signal
import threading

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from demo.camera import Posted, SimulatedCameraStation
from vision.models import Station
from vision.station_client import StationClient


class Command(BaseCommand):
    help = "Photograph parts awaiting inspection with a simulated camera and post them (demo equipment)."

    def add_arguments(self, parser):
        parser.add_argument("--station", required=True)
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
        parser.add_argument("--url", help="post over HTTP to this MES (else call the service directly)")
        parser.add_argument("--once", action="store_true", help="one pass over the waiting parts, then exit")
        parser.add_argument("--defect-rate", type=float, default=0.25, help="share of parts with a defect")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options):
        station = Station.objects.filter(name=options["station"]).select_related("user").first()
        if station is None:
            raise CommandError(f"no station named {options['station']!r}")
        client = None
        if options["url"]:
            token = Token.objects.get_or_create(user=station.user)[0].key
            client = StationClient(options["url"], token)
        camera = SimulatedCameraStation(
            station,
            rng=np.random.default_rng(options["seed"]),
            defect_rate=options["defect_rate"],
            client=client,
        )
        stop = threading.Event()
        if not options["once"]:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        while True:
            self.report(station, camera.one_pass())
            if options["once"] or stop.wait(options["interval"]):
                return

    def report(self, station: Station, outcomes) -> None:
        """One line per photo: posted to stdout, refused to stderr."""
        if outcomes is None:
            self.stderr.write(f"{station} has no calibration yet; waiting")
            return
        for outcome in outcomes:
            if isinstance(outcome, Posted):
                planted = ", ".join(outcome.planted) or "none"
                posted = f"photo posted (request {outcome.request_id})"
                self.stdout.write(f"{outcome.serial}: {posted}; planted defects: {planted}")
            else:
                self.stderr.write(f"{outcome.serial}: refused: {outcome.reason}")
