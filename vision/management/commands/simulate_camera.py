"""``manage.py simulate_camera --station NAME``: a simulated camera photographs parts awaiting inspection.

Demo equipment, like the machine simulators: for each part awaiting inspection it renders a photo of that
part from its revision's drawing spec (with a mild defect some of the time), seen through the station's
current calibration, and posts it like a real station: over HTTP with the station's token when ``--url``
is given, else through the same service the API calls.
"""

import signal
import threading

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from mes.core.errors import DomainError
from vision import selectors, services
from simulators import camera as sim
from vision.models import Station
from vision.station_client import ClientError, StationClient


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
        self.station, self.options = station, options
        self.rng = np.random.default_rng(options["seed"])
        self.cameras: dict[int, sim.Camera] = {}
        self.client = None
        if options["url"]:
            token = Token.objects.get_or_create(user=station.user)[0].key
            self.client = StationClient(options["url"], token)
        stop = threading.Event()
        if not options["once"]:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        while True:
            self.one_pass()
            if options["once"] or stop.wait(options["interval"]):
                return

    def one_pass(self) -> None:
        calibration = selectors.current_calibration(self.station)
        if calibration is None:
            self.stderr.write(f"{self.station} has no calibration yet; waiting")
            return
        camera = self._camera(calibration)
        for item in selectors.awaiting_inspection():
            image, truth = sim.render_part_photo(
                camera, item.revision.spec, self.rng, defect_probability=self.options["defect_rate"]
            )
            planted = ", ".join(d.type for d in truth.defects) or "none"
            try:
                request_id = self._post(item, sim.encode_png(image))
            except (DomainError, ClientError) as exc:
                self.stderr.write(f"{item.serial}: refused: {exc}")
                continue
            self.stdout.write(
                f"{item.serial}: photo posted (request {request_id}); planted defects: {planted}"
            )

    def _camera(self, calibration) -> sim.Camera:
        # One camera object per calibration: the renderer caches its per-pixel rays by camera.
        if calibration.pk not in self.cameras:
            cam, plane = selectors.pipeline_calibration(calibration)
            self.cameras = {
                calibration.pk: sim.camera_from_calibration(cam.K, cam.dist, cam.image_size, plane.R, plane.t)
            }
        return self.cameras[calibration.pk]

    def _post(self, item, png: bytes) -> int:
        if self.client is not None:
            return self.client.post_inspection(self.station.name, item.serial, png)["id"]
        request = services.inspection_request(
            self.station.user, station=self.station, stock_item=item, image_bytes=png
        )
        return request.pk
