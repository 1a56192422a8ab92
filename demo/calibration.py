"""The demo shop's camera station: Station-1 calibrated from the simulated camera's board photos."""

from dataclasses import asdict

from simulators import camera as sim
from vision import selectors, services
from vision.models import Calibration, Station


def demo_station_calibrate(actor, station_name: str = "Station-1") -> Calibration | None:
    """Calibrate the demo station unless it already has a fresh calibration (idempotent).

    Gives the station the demo board if it has none, renders the simulated demo camera's board views (six
    tilted, one flat) and calibrates through the same service as a real station (a few seconds).
    """
    station = Station.objects.get(name=station_name)
    current = selectors.current_calibration(station)
    if current is not None and selectors.calibration_staleness(current) is None:
        return None
    if not station.board:
        station = services.station_configure(actor, station=station, board=asdict(sim.DEMO_BOARD))
    views = sim.demo_calibration_views(sim.demo_camera(), sim.DEMO_BOARD)
    return services.station_calibrate(actor, station=station, images=[sim.encode_png(v) for v in views])
