"""``manage.py calibrate --station NAME IMAGE...``: store a new calibration version for a station."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mes.core.errors import DomainError
from vision import services
from vision.models import Station


class Command(BaseCommand):
    help = (
        "Calibrate a camera station from photos of its ChArUco board: several tilted views and, last "
        "(or --stage-index), the board lying flat on the stage. Refuses a bad calibration, naming its RMS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--station", required=True, help="station name")
        parser.add_argument("images", nargs="+", type=Path, help="PNG or JPEG board photos")
        parser.add_argument("--stage-index", type=int, default=-1, help="which image is the flat view")
        parser.add_argument("--user", help="who calibrates (default: the station itself)")

    def handle(self, *args, **options):
        station = Station.objects.filter(name=options["station"]).select_related("user").first()
        if station is None:
            raise CommandError(f"no station named {options['station']!r}")
        actor = station.user
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['user']!r}")
        try:
            images = [path.read_bytes() for path in options["images"]]
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        try:
            calibration = services.station_calibrate(
                actor, station=station, images=images, stage_index=options["stage_index"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{calibration}: RMS {calibration.rms_px:.3f} px over {calibration.n_views} views, "
                f"stage plane RMS {calibration.plane_rms_px:.3f} px"
            )
        )
