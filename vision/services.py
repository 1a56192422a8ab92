"""Inspection services: configure and calibrate camera stations, take a station's photo of a part and
queue its inspection on the ``vision`` queue, record a verdict on a part, and let an inspector override it.

Every public function checks its actor first. The inspection run itself is the system's
(:mod:`vision.runner`), and pushing a result to a station is the task's (:mod:`vision.callbacks`).

The heavy image work (decoding, calibration, the pipeline) runs *outside* database transactions: on SQLite
a transaction holds the single write lock, and seconds of numpy under it would stall every other writer.
Each service first authorizes and validates, then writes in one short ``transaction.atomic`` block, so a
refusal stores nothing.
"""

import logging
import uuid
from dataclasses import asdict

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from mes.core.errors import DomainError, NotPermitted, RuleViolation
from mes.core.queues import RUN_INSPECTION_TASK
from mes.core.roles import Role, authorize, user_roles
from mes.core.transitions import audited_save
from mes.inventory import actions as inventory_actions
from mes.inventory import services as inventory_services
from mes.inventory.models import Nonconformance, NonconformanceDisposition, StockItem, StockStatus
from mes.production import actions as production_actions
from vision import selectors
from vision.models import (
    Calibration,
    Inspection,
    InspectionRequest,
    Station,
    Verdict,
)
from vision.pipeline import (
    FAIL,
    PASS,
    BoardConfig,
    CalibrationError,
    ImageInputError,
    calibrate_camera,
    load_image_bytes,
    stage_plane,
)

log = logging.getLogger(__name__)

PIPELINE_VERDICTS = {PASS: Verdict.ACCEPTED, FAIL: Verdict.REJECTED}  # anything else: unable


def _station_of(actor) -> Station | None:
    if Role.STATION in user_roles(actor):
        return Station.objects.filter(user=actor).first()
    return None


@transaction.atomic
def inspection_record(
    actor,
    *,
    stock_item: StockItem,
    verdict: str,
    reason: str = "",
    measurements: list | None = None,
    defects: list | None = None,
    pipeline_version: str = "",
    station: Station | None = None,
    calibration: Calibration | None = None,
    image: str = "",
    annotated_image: str = "",
    deviations: list | None = None,
    timings: dict | None = None,
) -> Inspection:
    """Record an inspection of a part awaiting inspection and act on its verdict.

    Accepted: the part enters stock and is reserved for the most urgent open request of its revision.
    Rejected: the part gets a nonconformance with the reason and its work order a replacement job.
    Unable: nothing moves; the part waits for a person to inspect it.
    Station inspections also name the station, the calibration used, the stored photo and annotated
    picture (storage names), the out-of-tolerance deviations and the pipeline's timings.
    """
    authorize(actor, "inspection_record")
    item = StockItem.objects.select_for_update(of=("self",)).select_related("revision").get(pk=stock_item.pk)
    if item.status != StockStatus.AWAITING_INSPECTION:
        raise RuleViolation(
            f"{item} is {item.get_status_display().lower()}, not awaiting inspection.",
            field="stock_item",
        )
    if verdict not in Verdict.values:
        raise RuleViolation("Verdict must be accepted, rejected or unable.", field="verdict")
    if verdict != Verdict.ACCEPTED and not reason.strip():
        raise RuleViolation("Give the reason for this verdict.", field="reason")
    inspection = Inspection(
        stock_item=item,
        station=_station_of(actor),
        inspector=actor,
        verdict=verdict,
        reason=reason,
        measurements=measurements or [],
        defects=defects or [],
        pipeline_version=pipeline_version,
        calibration=calibration,
        image=image,
        annotated_image=annotated_image,
        deviations=deviations or [],
        timings=timings or {},
    )
    if station is not None:
        inspection.station = station
    audited_save(inspection, actor=actor, reason=f"verdict {verdict}")
    if verdict == Verdict.ACCEPTED:
        inventory_actions.do_stock_item_accept(item, actor=actor, reason=f"inspection {inspection.pk}")
    elif verdict == Verdict.REJECTED:
        _reject_part(item, actor=actor, reason=reason, inspection=inspection)
    return inspection


def _reject_part(item: StockItem, *, actor, reason: str, inspection: Inspection) -> None:
    """Reject a part awaiting inspection (a nonconformance) and queue its replacement."""
    inventory_actions.do_stock_item_reject(item, actor=actor, reason=reason, inspection=inspection)
    production_actions.do_stock_item_replace(item, actor=actor)


@transaction.atomic
def inspection_override(actor, *, inspection: Inspection, verdict: str, reason: str) -> Inspection:
    """An inspector overturns a verdict, with a reason; the new inspection points at the old one.

    Rejected -> accepted closes the pending nonconformance as "use as is" and reserves the part;
    accepted or reserved -> rejected returns the part from its request (to the next in line) and raises
    a nonconformance; "unable" is settled by either verdict. Issued parts cannot be overridden here.
    """
    authorize(actor, "inspection_override")
    if not reason.strip():
        raise RuleViolation("An override needs a reason.", field="reason")
    if verdict not in (Verdict.ACCEPTED, Verdict.REJECTED):
        raise RuleViolation("Override to accepted or rejected.", field="verdict")
    item = StockItem.objects.select_for_update().get(pk=inspection.stock_item_id)
    latest = item.inspections.order_by("-created_at", "-pk").first()
    if latest is None or latest.pk != inspection.pk:
        raise RuleViolation("Only the part's latest inspection can be overridden.")
    if verdict == inspection.verdict:
        raise RuleViolation(f"The verdict is already {verdict}.", field="verdict")
    new = Inspection(
        stock_item=item,
        inspector=actor,
        verdict=verdict,
        reason=reason,
        measurements=inspection.measurements,
        defects=inspection.defects,
        pipeline_version=inspection.pipeline_version,
        calibration=inspection.calibration,
        image=inspection.image.name,
        annotated_image=inspection.annotated_image.name,
        deviations=inspection.deviations,
        overrides=inspection,
    )
    audited_save(new, actor=actor, reason=f"override {inspection.verdict} -> {verdict}")
    if item.status == StockStatus.AWAITING_INSPECTION:
        if verdict == Verdict.ACCEPTED:
            inventory_actions.do_stock_item_accept(item, actor=actor, reason=reason)
        else:
            _reject_part(item, actor=actor, reason=reason, inspection=new)
    elif item.status == StockStatus.REJECTED:
        ncr = Nonconformance.objects.filter(
            stock_item=item, disposition=NonconformanceDisposition.PENDING
        ).first()
        if ncr is None:
            raise RuleViolation(f"{item} has no open nonconformance to overturn.")
        inventory_actions.do_nonconformance_close(
            ncr, disposition=NonconformanceDisposition.USE_AS_IS, note=reason, actor=actor
        )
    elif item.status in (StockStatus.ACCEPTED, StockStatus.RESERVED):
        inventory_actions.do_stock_item_withdraw(item, actor=actor, reason=reason, inspection=new)
        production_actions.do_stock_item_replace(item, actor=actor)
    else:
        raise RuleViolation(f"{item} is {item.get_status_display().lower()}; it cannot be overridden.")
    return new


DECISION_WORDS = {"accept": "accepted", "reject": "rejected", "rework": "reworked", "scrap": "scrapped"}


@transaction.atomic
def stock_item_decide(actor, *, serial: str, action: str, reason: str) -> None:
    """An inspector's decision on a part the camera rejected or could not judge, with a reason.

    Accept overrides the latest verdict to accepted (a rejection's nonconformance closes as "use as is");
    reject overrides "unable" to rejected; rework and scrap dispose of the pending nonconformance. The part
    is locked first, so two inspectors deciding at once cannot both act on the same state; a decision
    that does not fit the part's state raises RuleViolation (field ``reason`` when the reason is missing).
    The override and the disposition each check their own permission too.
    """
    authorize(actor, "stock_item_decide")
    StockItem.objects.select_for_update().get(serial=serial)
    decision = selectors.inspection_decision(serial)
    if not decision.queued:
        raise RuleViolation(f"{decision.item} is not waiting for an inspector's decision.")
    if action not in decision.actions:
        choices = " or ".join(DECISION_WORDS[choice] for choice in decision.actions)
        raise RuleViolation(f"{decision.item} cannot be {DECISION_WORDS[action]} now; it can be {choices}.")
    if action in ("accept", "reject"):
        verdict = Verdict.ACCEPTED if action == "accept" else Verdict.REJECTED
        inspection_override(actor, inspection=decision.latest, verdict=verdict, reason=reason)
        return
    try:
        inventory_services.nonconformance_dispose(
            actor, ncr=decision.pending_ncr, disposition=action, note=reason
        )
    except DomainError as refusal:
        if refusal.field == "note":  # the inspector's page calls the note a reason
            refusal.field = "reason"
        raise


# --------------------------------------------------------------------------------------- stations


def _own_station(actor, station: Station) -> None:
    """A station user may act for its own station only (people may act for any)."""
    if Role.STATION in user_roles(actor) and station.user_id != actor.pk:
        raise NotPermitted(f"This station may only act for itself, not for {station}.", code="other_station")


def _decode(data: bytes, what: str, field: str) -> np.ndarray:
    """Decoded pixels of an upload, or a RuleViolation naming it (size limits from settings)."""
    if len(data) > settings.VISION_MAX_UPLOAD_BYTES:
        raise RuleViolation(
            f"{what} is {len(data)} bytes, more than the limit of {settings.VISION_MAX_UPLOAD_BYTES}.",
            field=field,
            code="image_too_large",
        )
    try:
        return load_image_bytes(
            data, max_pixels=settings.VISION_MAX_PIXELS, max_bytes=settings.VISION_MAX_UPLOAD_BYTES
        )
    except ImageInputError as exc:
        raise RuleViolation(f"{what}: {exc}.", field=field, code="bad_image") from exc


@transaction.atomic
def station_configure(actor, *, station: Station, board: dict | None = None, callback_url=None) -> Station:
    """Set a station's ChArUco board geometry (BoardConfig fields) and/or its callback URL.

    The board is checked by building it; a new board does not invalidate existing calibrations (the board
    each calibration used is stored with it).
    """
    authorize(actor, "station_configure")
    station = Station.objects.select_for_update().get(pk=station.pk)
    if board is not None:
        try:
            BoardConfig(**board).make_board()
        except (TypeError, ValueError, CalibrationError) as exc:
            raise RuleViolation(f"Not a usable board: {exc}", field="board", code="bad_board") from exc
        station.board = asdict(BoardConfig(**board))
    if callback_url is not None:
        station.callback_url = callback_url
    audited_save(station, actor=actor, reason="configured")
    return station


def station_calibrate(actor, *, station: Station, images: list[bytes], stage_index: int = -1) -> Calibration:
    """Calibrate ``station`` from ChArUco photos and store the result as its next calibration version.

    ``images`` are views of the station's board at different tilts; ``images[stage_index]`` (default the
    last) shows the board lying flat on the stage and gives the stage plane (it also counts as a view).
    Refuses, storing nothing, unreadable images, a station without a board, too few usable views, and a
    result whose RMS reprojection error exceeds VISION_CALIBRATION_MAX_RMS_PX (the message gives the RMS).
    """
    authorize(actor, "station_calibrate")
    _own_station(actor, station)
    board = selectors.board_of(station)
    if board is None:
        raise RuleViolation(
            f"{station} has no ChArUco board configured; a supervisor sets it first.",
            field="board",
            code="no_board",
        )
    if not images:
        raise RuleViolation("Upload the calibration images.", field="images")
    if not -len(images) <= stage_index < len(images):
        raise RuleViolation("The stage image index is out of range.", field="stage_index")
    pixels = [_decode(data, f"calibration image {i + 1}", "images") for i, data in enumerate(images)]
    try:
        camera = calibrate_camera(pixels, board, max_rms_px=settings.VISION_CALIBRATION_MAX_RMS_PX)
        plane = stage_plane(pixels[stage_index], board, camera)
    except CalibrationError as exc:
        raise RuleViolation(
            f"Calibration refused: {exc}", field="images", code="calibration_refused"
        ) from exc
    with transaction.atomic():
        # The station row lock serialises version numbers between two simultaneous calibrations.
        Station.objects.select_for_update().get(pk=station.pk)
        last = station.calibrations.aggregate(v=Max("version"))["v"] or 0
        calibration = Calibration(
            station=station,
            version=last + 1,
            camera=camera.to_dict(),
            plane=plane.to_dict(),
            board=asdict(board),
            rms_px=camera.rms_px,
            plane_rms_px=plane.rms_px,
            image_width=camera.image_size[0],
            image_height=camera.image_size[1],
            n_views=camera.n_views,
            created_by=actor,
        )
        audited_save(calibration, actor=actor, reason=f"calibrated: RMS {camera.rms_px:.3f} px")
    return calibration


# ------------------------------------------------------------------------------------ inspections


def inspection_request(
    actor, *, station: Station, stock_item: StockItem, image_bytes: bytes
) -> InspectionRequest:
    """Take a station's photo of ``stock_item`` and queue its inspection on the vision queue.

    Refuses, storing nothing: another station's work, an unreadable or oversized image (decompression
    bombs are caught from the header), a station without a calibration, a photo whose size differs from
    the calibration's, a part not awaiting inspection, and a part already being inspected. A stale
    calibration is accepted here and becomes an "unable to inspect" verdict when the request runs.
    """
    authorize(actor, "inspection_request")
    _own_station(actor, station)
    pixels = _decode(image_bytes, "The image", "image")
    calibration = selectors.current_calibration(station)
    if calibration is None:
        raise RuleViolation(
            f"{station} has no calibration; calibrate it before posting photos.", code="no_calibration"
        )
    height, width = pixels.shape[:2]
    if (width, height) != (calibration.image_width, calibration.image_height):
        raise RuleViolation(
            f"The image is {width}x{height} px but {calibration} is for "
            f"{calibration.image_width}x{calibration.image_height} px.",
            field="image",
            code="image_size_mismatch",
        )
    with transaction.atomic():
        item = StockItem.objects.select_for_update().get(pk=stock_item.pk)
        if item.status != StockStatus.AWAITING_INSPECTION:
            raise RuleViolation(
                f"{item} is {item.get_status_display().lower()}, not awaiting inspection.",
                field="serial",
                code="not_awaiting_inspection",
            )
        if item.inspection_requests.filter(status__in=selectors.OPEN_REQUEST).exists():
            raise RuleViolation(f"{item} is already being inspected.", field="serial", code="already_queued")
        request = InspectionRequest(station=station, stock_item=item, requested_by=actor)
        request.image.save(f"{item.serial}-{uuid.uuid4().hex[:8]}.png", ContentFile(image_bytes), save=False)
        try:
            audited_save(request, actor=actor, reason="photo received")
        except Exception:
            default_storage.delete(request.image.name)  # no photo without its row
            raise
        transaction.on_commit(
            lambda: current_app.send_task(RUN_INSPECTION_TASK, args=[request.pk], queue=settings.VISION_QUEUE)
        )
    return request
