"""``manage.py calibrate``: calibrate a camera station from photos of its ChArUco board.

    manage.py calibrate --station Station-1 view*.png                  # stored as the station's next version
    manage.py calibrate --station Station-1 view*.png --out calib.json  # ... and written to a file
    manage.py calibrate --board 11x9 --square-mm 20 --marker-mm 15 view*.png --out calib.json  # no database

The file is the document ``manage.py inspect --calibration`` reads: ``{"camera": {...}, "plane": {...}}``.
"""

import json
import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mes.core.errors import DomainError
from vision import selectors, services
from vision.models import Station
from vision.pipeline import PipelineError, load_image_bytes
from vision.pipeline.calibration import (
    BoardConfig,
    calibrate_camera,
    calibration_document,
    stage_plane,
)

SQUARES = re.compile(r"^(\d{1,3})x(\d{1,3})$")


class Command(BaseCommand):
    help = (
        "Calibrate a camera station from photos of its ChArUco board: several tilted views and, last "
        "(or --stage-index), the board lying flat on the stage. Refuses a bad calibration, naming its RMS. "
        "With --station the result is stored as the station's next version; with --out it is written to a "
        "file (--board etc. then describe the board when no station is named: no database is used)."
    )

    def add_arguments(self, parser):
        parser.add_argument("images", nargs="+", type=Path, help="PNG or JPEG board photos")
        parser.add_argument("--station", help="station name (its board; the result is stored)")
        parser.add_argument("--out", type=Path, help="write the calibration to this JSON file")
        parser.add_argument("--stage-index", type=int, default=-1, help="which image is the flat view")
        parser.add_argument("--user", help="who calibrates (default: the station itself)")
        board = parser.add_argument_group("board (without --station)")
        board.add_argument("--board", help="squares along x and y, e.g. 11x9")
        board.add_argument("--square-mm", type=float, help="side of a chessboard square (mm)")
        board.add_argument("--marker-mm", type=float, help="side of an ArUco marker (mm)")
        board.add_argument("--dictionary", default="DICT_5X5_100", help="ArUco dictionary")
        board.add_argument("--board-thickness-mm", type=float, default=0.0, help="printed face above stage")

    def handle(self, *args, **options):
        if not options["station"] and not options["out"]:
            raise CommandError("name a --station to store the calibration, or an --out file, or both")
        images = self._read(options["images"])
        if options["station"]:
            self._calibrate_station(options, images)
        else:
            self._calibrate_to_file(options, images)

    def _read(self, paths: list[Path]) -> list[bytes]:
        try:
            return [path.read_bytes() for path in paths]
        except OSError as exc:
            raise CommandError(str(exc)) from exc

    def _calibrate_station(self, options, images: list[bytes]) -> None:
        station = Station.objects.filter(name=options["station"]).select_related("user").first()
        if station is None:
            raise CommandError(f"no station named {options['station']!r}")
        actor = station.user
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['user']!r}")
        try:
            calibration = services.station_calibrate(
                actor, station=station, images=images, stage_index=options["stage_index"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if options["out"]:
            camera, plane = selectors.pipeline_calibration(calibration)
            self._write(options["out"], calibration_document(camera, plane))
        self.stdout.write(
            self.style.SUCCESS(
                f"{calibration}: RMS {calibration.rms_px:.3f} px over {calibration.n_views} views, "
                f"stage plane RMS {calibration.plane_rms_px:.3f} px"
            )
        )

    def _calibrate_to_file(self, options, images: list[bytes]) -> None:
        board = self._board(options)
        index = options["stage_index"]
        if not -len(images) <= index < len(images):
            raise CommandError("--stage-index is out of range")
        try:
            pixels = [load_image_bytes(data) for data in images]
            camera = calibrate_camera(pixels, board, max_rms_px=settings.VISION_CALIBRATION_MAX_RMS_PX)
            plane = stage_plane(pixels[index], board, camera)
        except PipelineError as exc:
            raise CommandError(f"Calibration refused: {exc}") from exc
        self._write(options["out"], calibration_document(camera, plane))
        self.stdout.write(
            self.style.SUCCESS(
                f"{options['out']}: RMS {camera.rms_px:.3f} px over {camera.n_views} views, "
                f"stage plane RMS {plane.rms_px:.3f} px"
            )
        )

    def _board(self, options) -> BoardConfig:
        """The board the options describe; CommandError naming what is missing or wrong."""
        match = SQUARES.match(options["board"] or "")
        if match is None or options["square_mm"] is None or options["marker_mm"] is None:
            raise CommandError(
                "without --station, describe the board: --board 11x9 --square-mm 20 --marker-mm 15"
            )
        board = BoardConfig(
            int(match[1]),
            int(match[2]),
            options["square_mm"],
            options["marker_mm"],
            options["dictionary"],
            options["board_thickness_mm"],
        )
        try:
            board.make_board()
        except PipelineError as exc:
            raise CommandError(f"board: {exc}") from exc
        return board

    def _write(self, path: Path, document: dict) -> None:
        try:
            path.write_text(json.dumps(document, indent=2) + "\n")
        except OSError as exc:
            raise CommandError(f"{path}: {exc}") from exc
