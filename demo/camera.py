"""The simulated camera loop (``simulate_camera``): photograph parts awaiting inspection and post them.

Demo equipment, like the simulated machines: for each part awaiting inspection it renders a photo of
that part from its revision's drawing (with a mild defect some of the time, see
:func:`simulators.camera.render_part_photo`), seen through the station's current calibration, and posts
it like a real station: over HTTP with the station's token when a client is given, else through the same
service the API calls.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mes.core.errors import DomainError
from simulators import camera as sim
from vision import selectors, services
from vision.models import Station
from vision.station_client import ClientError, StationClient


@dataclass(frozen=True)
class Posted:
    """A photo was posted: ``planted`` names the defects drawn into it (empty for a good part)."""

    serial: str
    request_id: int
    planted: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    """The MES refused the photo (the part moved on meanwhile, the station is busy...)."""

    serial: str
    reason: str


class SimulatedCameraStation:
    """A camera over ``station``'s stage that photographs every part awaiting inspection, once per pass.

    ``client``: post over HTTP through this :class:`StationClient`; ``None`` calls the service directly.
    ``defect_rate``: share of photos with a planted defect. ``rng`` makes a run reproducible.
    """

    def __init__(
        self,
        station: Station,
        *,
        rng: np.random.Generator,
        defect_rate: float,
        client: StationClient | None = None,
    ) -> None:
        self.station = station
        self.rng = rng
        self.defect_rate = defect_rate
        self.client = client
        self._cameras: dict[int, sim.Camera] = {}

    def one_pass(self) -> Iterator[Posted | Refused] | None:
        """Photograph and post each waiting part once; ``None`` if the station has no calibration yet.

        The outcomes come lazily, one per part as it is posted, so a caller can report progress.
        """
        calibration = selectors.current_calibration(self.station)
        if calibration is None:
            return None
        camera = self._camera(calibration)
        return (self._photograph(camera, item) for item in selectors.awaiting_inspection())

    def _photograph(self, camera: sim.Camera, item) -> Posted | Refused:
        image, truth = sim.render_part_photo(
            camera, item.revision.spec, self.rng, defect_probability=self.defect_rate
        )
        try:
            request_id = self._post(item, sim.encode_png(image))
        except (DomainError, ClientError) as exc:
            return Refused(item.serial, str(exc))
        return Posted(item.serial, request_id, tuple(d.type for d in truth.defects))

    def _camera(self, calibration) -> sim.Camera:
        # One camera object per calibration: the renderer caches its per-pixel rays by camera.
        if calibration.pk not in self._cameras:
            cam, plane = selectors.pipeline_calibration(calibration)
            self._cameras = {
                calibration.pk: sim.camera_from_calibration(cam.K, cam.dist, cam.image_size, plane.R, plane.t)
            }
        return self._cameras[calibration.pk]

    def _post(self, item, png: bytes) -> int:
        if self.client is not None:
            return self.client.post_inspection(self.station.name, item.serial, png)["id"]
        request = services.inspection_request(
            self.station.user, station=self.station, stock_item=item, image_bytes=png
        )
        return request.pk
