"""A small simulated station for the Django-side vision tests: camera, board, photos, calibrations.

The camera sees ~100 x 80 mm at 0.125 mm/px (800x640 px), enough for the factories' 80 x 30 mm bracket
and quick to render; photos and board views are rendered once per test session.
"""

from dataclasses import asdict, replace
from functools import lru_cache

import numpy as np

from mes.production import services as production
from mes.repairs import services as repairs
from simulators import camera as sim
from tests.factories import BRACKET_SPEC
from vision.models import Calibration, Station
from vision.pipeline import BoardConfig

BOARD = BoardConfig(9, 7, 8.0, 6.0, "DICT_4X4_50")
# Specs by key, so cached photos can be looked up by a hashable name.
SPECS = {"bracket": BRACKET_SPEC}


@lru_cache(maxsize=1)
def camera() -> sim.Camera:
    return sim.make_camera(
        (800, 640),
        mm_per_px=0.125,
        distance_mm=320.0,
        dist=(-0.08, 0.08, 3e-4, -2e-4, 0.0),
        principal_offset=(4.0, -3.0),
        aim_mm=(50.0, 40.0),
    )


@lru_cache(maxsize=1)
def board_views() -> tuple[bytes, ...]:
    """PNGs: six tilted board views, then the board lying flat on the stage."""
    return tuple(sim.encode_png(view) for view in sim.demo_calibration_views(camera(), BOARD, 6))


@lru_cache(maxsize=8)
def part_photo(spec_key: str, kind: str = "good", seed: int = 0) -> bytes:
    """PNG of one part (``spec_key`` names a spec in SPECS) of the given case kind, placed at random."""
    rng = np.random.default_rng(seed)
    spec = SPECS[spec_key]
    view = sim.stage_view_mm(camera(), spec["thickness"])
    truth = sim.make_case(rng, kind, spec, view_mm=view, defect_size=1.0)
    return sim.encode_png(sim.render_scene(camera(), [truth], rng=rng))


@lru_cache(maxsize=2)
def scene_photo(n_parts: int) -> bytes:
    """PNG of an empty stage (0) or of two small parts (2)."""
    small = {
        **SPECS["bracket"],
        "outline": {"length": 30.0, "width": 14.0, "corner_radius": 2.0},
        "holes": [],
    }
    parts = [
        replace(sim.nominal_truth(small), centre_mm=(30.0, 25.0)),
        replace(sim.nominal_truth(small), centre_mm=(70.0, 55.0), angle_deg=30.0),
    ][:n_parts]
    return sim.encode_png(sim.render_scene(camera(), parts, rng=np.random.default_rng(5)))


def configure(station: Station) -> Station:
    """Give ``station`` this module's board (directly: the configure service has its own tests)."""
    station.board = asdict(BOARD)
    station.save()
    return station


def true_calibration(station: Station, actor, *, version: int | None = None) -> Calibration:
    """A calibration that is exactly the simulated camera (no estimation), stored as the next version."""
    cam = camera()
    last = station.calibrations.order_by("-version").first()
    return Calibration.objects.create(
        station=station,
        version=version or (last.version + 1 if last else 1),
        camera={
            "K": cam.K.tolist(),
            "dist": cam.dist.tolist(),
            "rms_px": 0.0,
            "image_size": list(cam.size),
            "n_views": 0,
        },
        plane={"R": cam.R.tolist(), "t": cam.t.tolist(), "rms_px": 0.0},
        board=asdict(BOARD),
        rms_px=0.0,
        plane_rms_px=0.0,
        image_width=cam.size[0],
        image_height=cam.size[1],
        n_views=0,
        created_by=actor,
    )


def awaiting_item(shop):
    """A part made by a job on the mill, awaiting inspection (through the production services)."""
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket = repairs.ticket_file(
        shop.supervisor, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    request = repairs.part_request_create(shop.supervisor, ticket=ticket, revision=shop.revision, quantity=1)
    job = request.work_orders.get().jobs.get()
    production.job_start(shop.supervisor, job=job, lot=shop.blanks)
    return production.job_finish(shop.supervisor, job=job)[0]
