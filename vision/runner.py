"""The system's own inspection work: run the pipeline on a queued photo, and end requests whose worker died.

These are the entry points of the vision tasks. The verdict is recorded through the guarded
:func:`vision.services.inspection_record` in the name of the station that posted the photo, so a station
that lost its role cannot pass a part.
"""

import logging

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from mes.core.errors import DomainError
from vision import actions, selectors, services
from vision.models import Calibration, InspectionRequest, Verdict
from vision.pipeline import PIPELINE_VERSION, PipelineError, inspect_image, load_image_bytes

log = logging.getLogger(__name__)


def run_inspection(request_id: int) -> InspectionRequest | None:
    """Run the pipeline on a queued request, record its verdict and return the finished request (called
    by the vision task, in the name of the station that posted the photo).

    Safe to call twice: only a queued request is claimed (queued -> running under a row lock); for any
    other this returns None and changes nothing. PASS accepts the part into stock, FAIL rejects it with a
    nonconformance, anything that cannot be judged (no part, two parts, stale or damaged calibration,
    bad spec) records "unable", which leaves the part for a person. If the verdict cannot be recorded
    (the part was inspected by hand meanwhile) the request ends in ``error`` with the reason and nothing
    else changes.
    """
    request = actions.do_inspection_request_claim(request_id)
    if request is None:
        return None
    try:
        outcome = _inspect(request)
    except Exception as exc:  # a bug or I/O failure: end the request visibly, never leave it running
        log.exception("inspection request %s failed", request_id)
        return actions.do_inspection_request_fail(request_id, f"{type(exc).__name__}: {exc}")
    annotated_png = outcome.pop("annotated_png", b"")
    annotated_name = ""
    if annotated_png:
        annotated_name = default_storage.save(
            request.image.name.replace(".png", "-annotated.png"), ContentFile(annotated_png)
        )
    try:
        with transaction.atomic():
            request = actions.do_inspection_request_lock_running(request_id)
            inspection = services.inspection_record(
                request.requested_by,
                stock_item=request.stock_item,
                station=request.station,
                image=request.image.name,
                annotated_image=annotated_name,
                **outcome,
            )
            actions.do_inspection_request_done(request, inspection)
    except DomainError as exc:
        if annotated_name:
            default_storage.delete(annotated_name)
        return actions.do_inspection_request_fail(request_id, exc.message)
    return request


def fail_stale_requests(*, older_than_s: float | None = None) -> list[InspectionRequest]:
    """Watchdog entry point: see :func:`vision.actions.do_inspection_requests_fail_stale`."""
    return actions.do_inspection_requests_fail_stale(older_than_s=older_than_s)


def _unable(reason: str, calibration: Calibration | None) -> dict:
    return {"verdict": Verdict.UNABLE, "reason": reason, "calibration": calibration}


def _inspect(request: InspectionRequest) -> dict:
    """The pipeline on a request's photo: keyword arguments for
    :func:`vision.services.inspection_record` (plus the annotated PNG). Uses the station's newest
    calibration at run time; a stale or damaged one, or one whose image size differs from the photo,
    gives "unable" with the reason."""
    calibration = selectors.current_calibration(request.station)
    if calibration is None:
        return _unable(f"{request.station} has no calibration.", None)
    stale = selectors.calibration_staleness(calibration)
    if stale:
        return _unable(f"Unable to inspect: {stale}.", calibration)
    with request.image.open("rb") as fh:
        data = fh.read()
    try:
        image = load_image_bytes(
            data, max_pixels=settings.VISION_MAX_PIXELS, max_bytes=settings.VISION_MAX_UPLOAD_BYTES
        )
        camera, plane = selectors.pipeline_calibration(calibration)
        result = inspect_image(image, request.stock_item.revision.spec, camera, plane)
    except (PipelineError, ValueError) as exc:
        # Damaged calibration, a spec the pipeline cannot use, a photo that does not fit the calibration.
        return _unable(f"Unable to inspect: {exc}.", calibration)
    data = result.to_dict()
    verdict = services.PIPELINE_VERDICTS.get(result.verdict, Verdict.UNABLE)
    reasons = "; ".join(result.reasons)
    if verdict == Verdict.UNABLE:
        reasons = f"Unable to inspect ({result.unable_code or 'pipeline'}): {reasons}"
    return {
        "verdict": verdict,
        "reason": reasons,
        "calibration": calibration,
        "measurements": data["measurements"],
        "defects": data["defects"],
        "deviations": [
            {k: m[k] for k in ("name", "nominal", "actual", "deviation", "tolerance")}
            for m in data["measurements"]
            if not m["ok"]
        ],
        "timings": data["timings"],
        "pipeline_version": result.pipeline_version or PIPELINE_VERSION,
        "annotated_png": _png(result.annotated) if result.annotated is not None else b"",
    }


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding of the annotated image failed")
    return buf.tobytes()
