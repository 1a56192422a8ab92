"""Reads of the vision app: which stations, calibrations, requests and inspections a user may see, and the
pipeline objects a stored calibration stands for."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from mes.core.roles import Role, user_roles
from mes.inventory.models import Nonconformance, NonconformanceDisposition, StockItem, StockStatus
from vision.models import Calibration, Inspection, InspectionRequest, RequestStatus, Station, Verdict
from vision.pipeline import BoardConfig, CalibrationError, CameraCalibration, StagePlane

OPEN_REQUEST = (RequestStatus.QUEUED, RequestStatus.RUNNING)


def is_station(user) -> bool:
    return Role.STATION in user_roles(user)


def station_of(user) -> Station | None:
    """The station a station user acts for (None for people)."""
    if not is_station(user):
        return None
    return Station.objects.filter(user=user).first()


def stations_visible_to(user) -> QuerySet[Station]:
    """A station sees itself only; people see every station."""
    if is_station(user):
        return Station.objects.filter(user=user)
    return Station.objects.all()


def calibrations_visible_to(user) -> QuerySet[Calibration]:
    return Calibration.objects.filter(station__in=stations_visible_to(user)).select_related("station")


def requests_visible_to(user) -> QuerySet[InspectionRequest]:
    return InspectionRequest.objects.filter(station__in=stations_visible_to(user)).select_related(
        "station", "stock_item", "inspection"
    )


def inspections_visible_to(user) -> QuerySet[Inspection]:
    """People see every inspection; a station only those recorded at it."""
    qs = Inspection.objects.select_related("stock_item", "station", "calibration")
    if is_station(user):
        return qs.filter(station__user=user)
    return qs


def current_calibration(station: Station) -> Calibration | None:
    """The station's newest calibration version, fresh or not."""
    return station.calibrations.order_by("-version").first()


def calibration_staleness(calibration: Calibration, now=None) -> str | None:
    """Why ``calibration`` may not be used any more (older than VISION_CALIBRATION_MAX_AGE_DAYS), or None."""
    max_age = timedelta(days=settings.VISION_CALIBRATION_MAX_AGE_DAYS)
    age = (now or timezone.now()) - calibration.created_at
    if age <= max_age:
        return None
    return (
        f"{calibration} is {age.days} days old, older than the limit of "
        f"{settings.VISION_CALIBRATION_MAX_AGE_DAYS:g} days; recalibrate the station"
    )


def pipeline_calibration(calibration: Calibration) -> tuple[CameraCalibration, StagePlane]:
    """The pipeline's objects for a stored calibration; raises CalibrationError if the JSON is damaged."""
    return CameraCalibration.from_dict(calibration.camera), StagePlane.from_dict(calibration.plane)


def board_of(station: Station) -> BoardConfig | None:
    """The station's configured ChArUco board, or None when it has none (or a malformed one)."""
    if not station.board:
        return None
    try:
        board = BoardConfig(**station.board)
        board.make_board()
    except (TypeError, ValueError, CalibrationError):
        return None
    return board


def awaiting_inspection() -> QuerySet[StockItem]:
    """Parts awaiting inspection that no station is inspecting right now, oldest first."""
    return (
        StockItem.objects.filter(status=StockStatus.AWAITING_INSPECTION)
        .exclude(inspection_requests__status__in=OPEN_REQUEST)
        .select_related("revision")
        .order_by("pk")
    )


# --- the inspectors' pages ------------------------------------------------------------------------------
def _latest_inspection():
    return Inspection.objects.filter(stock_item=OuterRef("pk")).order_by("-created_at", "-pk")


def inspection_queue() -> QuerySet[StockItem]:
    """Parts waiting for an inspector's decision, newest verdict first.

    A part is waiting when its latest inspection rejected it and its nonconformance is still pending, or
    when its latest inspection could not judge it ("unable") and it still awaits inspection. Each row
    carries ``latest_id``, ``latest_verdict``, ``latest_reason`` and ``latest_at``; one query.
    """
    latest = _latest_inspection()
    pending = Nonconformance.objects.filter(
        stock_item=OuterRef("pk"), disposition=NonconformanceDisposition.PENDING
    )
    return (
        StockItem.objects.filter(status__in=[StockStatus.REJECTED, StockStatus.AWAITING_INSPECTION])
        .annotate(
            latest_id=Subquery(latest.values("pk")[:1]),
            latest_verdict=Subquery(latest.values("verdict")[:1]),
            latest_reason=Subquery(latest.values("reason")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
            undecided_ncr=Exists(pending),
        )
        .filter(
            Q(status=StockStatus.REJECTED, latest_verdict=Verdict.REJECTED, undecided_ncr=True)
            | Q(status=StockStatus.AWAITING_INSPECTION, latest_verdict=Verdict.UNABLE)
        )
        .select_related("revision__part")
        .order_by("-latest_at", "-pk")
    )


@dataclass
class Decision:
    """A part as an inspector decides on it: its latest inspection and its pending nonconformance.

    ``queued`` says whether it still waits for a decision (see :func:`inspection_queue`); ``actions`` are
    the decisions that fit its state: accept (override to accepted, or "use as is"), reject (only a part the
    camera could not judge), rework and scrap (only a rejected part with a pending nonconformance).
    """

    item: StockItem
    latest: Inspection | None
    pending_ncr: Nonconformance | None

    @property
    def queued(self) -> bool:
        if self.latest is None:
            return False
        if self.latest.verdict == Verdict.UNABLE:
            return self.item.status == StockStatus.AWAITING_INSPECTION
        return self.latest.verdict == Verdict.REJECTED and self.pending_ncr is not None

    @property
    def actions(self) -> tuple[str, ...]:
        if not self.queued:
            return ()
        if self.latest.verdict == Verdict.UNABLE:
            return ("accept", "reject")
        return ("accept", "rework", "scrap")


def inspection_decision(serial: str) -> Decision:
    """The part ``serial`` with its latest inspection (and that inspection's station, calibration and
    inspector) and its pending nonconformance; raises StockItem.DoesNotExist. Three queries."""
    item = StockItem.objects.select_related("revision__part", "job__machine").get(serial=serial)
    latest = (
        Inspection.objects.filter(stock_item=item)
        .select_related("station", "calibration__station", "inspector")
        .order_by("-created_at", "-pk")
        .first()
    )
    pending = Nonconformance.objects.filter(
        stock_item=item, disposition=NonconformanceDisposition.PENDING
    ).first()
    return Decision(item, latest, pending)


def inspection_get(pk: int) -> Inspection:
    """One inspection (raises Inspection.DoesNotExist)."""
    return Inspection.objects.get(pk=pk)
