"""``manage.py inspect``: run the pipeline on one photo and print the verdict; records nothing.

    manage.py inspect --station Station-1 --revision BRK-080@A photo.png [--json] [--annotate out.png]
    manage.py inspect --calibration calib.json --spec spec.json photo.png

``calib.json`` holds ``{"camera": {...}, "plane": {...}}`` (what ``manage.py calibrate --out`` writes);
``spec.json`` is a drawing spec as in the catalogue. The rectification maps of a calibration are kept in
``--maps-cache`` (default ``$MES_VAR_DIR/vision-maps``), so only the first photo of a calibration pays
for building them.
"""

import json
from pathlib import Path

import cv2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mes.catalog.models import PartRevision
from vision import selectors
from vision.map_files import FileMapStore
from vision.models import Station
from vision.pipeline import (
    UNABLE,
    CameraCalibration,
    PipelineError,
    StagePlane,
    inspect_image,
    load_image_bytes,
    warm_maps,
)

# A measuring image finer than 0.01 mm/px would need gigabytes of maps; coarser than 2 mm/px sees no hole.
MIN_MM_PER_PX, MAX_MM_PER_PX = 0.01, 2.0


class Command(BaseCommand):
    help = "Inspect one photo against a revision (or spec file) with a station's (or a file's) calibration."

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--station", help="use this station's current calibration")
        where.add_argument("--calibration", type=Path, help="calibration JSON file (no database)")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--revision", help="PART@REV, e.g. BRK-080@A")
        what.add_argument("--spec", type=Path, help="drawing spec JSON file (no database)")
        parser.add_argument("image", type=Path)
        parser.add_argument("--json", action="store_true", help="print the full result as JSON")
        parser.add_argument("--annotate", type=Path, help="write the annotated picture here (PNG)")
        parser.add_argument("--mm-per-px", type=float, default=0.1, help="scale of the measuring image")
        parser.add_argument(
            "--maps-cache",
            type=Path,
            default=None,
            help="directory keeping rectification maps between runs (default: $MES_VAR_DIR/vision-maps)",
        )
        parser.add_argument("--no-maps-cache", action="store_true", help="build the maps in memory only")

    def handle(self, *args, **options):
        if not MIN_MM_PER_PX <= options["mm_per_px"] <= MAX_MM_PER_PX:
            raise CommandError(f"--mm-per-px must lie in {MIN_MM_PER_PX}-{MAX_MM_PER_PX}")
        camera, plane, stale = self._calibration(options)
        spec = self._spec(options)
        try:
            image = load_image_bytes(options["image"].read_bytes())
        except (OSError, PipelineError) as exc:
            raise CommandError(f"{options['image']}: {exc}") from exc
        if stale:
            # Same rule as the stations: a stale calibration never passes a part.
            self._report({"verdict": UNABLE, "reasons": [stale], "unable_code": "stale_calibration"}, options)
            return
        try:
            if not options["no_maps_cache"]:
                store = FileMapStore(options["maps_cache"] or settings.VAR_DIR / "vision-maps")
                warm_maps(camera, plane, options["mm_per_px"], store)
            result = inspect_image(image, spec, camera, plane, mm_per_px=options["mm_per_px"])
        except (PipelineError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["annotate"] and result.annotated is not None:
            cv2.imwrite(str(options["annotate"]), result.annotated)
        self._report(result.to_dict(), options)

    def _calibration(self, options) -> tuple[CameraCalibration, StagePlane, str | None]:
        try:
            if options["calibration"]:
                data = json.loads(options["calibration"].read_text())
                return CameraCalibration.from_dict(data["camera"]), StagePlane.from_dict(data["plane"]), None
            station = Station.objects.filter(name=options["station"]).first()
            if station is None:
                raise CommandError(f"no station named {options['station']!r}")
            calibration = selectors.current_calibration(station)
            if calibration is None:
                raise CommandError(f"{station} has no calibration; run manage.py calibrate first")
            camera, plane = selectors.pipeline_calibration(calibration)
            return camera, plane, selectors.calibration_staleness(calibration)
        except (OSError, ValueError, KeyError, TypeError, PipelineError) as exc:
            raise CommandError(f"calibration: {exc}") from exc

    def _spec(self, options) -> dict:
        if options["spec"]:
            try:
                return json.loads(options["spec"].read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"spec: {exc}") from exc
        number, _, rev = options["revision"].partition("@")
        revision = PartRevision.objects.filter(part__number=number, revision=rev or "A").first()
        if revision is None:
            raise CommandError(f"no revision {options['revision']!r} (write PART@REV, e.g. BRK-080@A)")
        return revision.spec

    def _report(self, data: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(data["verdict"])
        for reason in data["reasons"]:
            self.stdout.write(f"  {reason}")
        for m in data.get("measurements", []):
            mark = "ok " if m["ok"] else "OUT"
            self.stdout.write(
                f"  {mark} {m['name']:<22} {m['actual']:9.3f} mm  ({m['deviation']:+.3f}, ±{m['tolerance']})"
            )
