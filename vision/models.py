"""Camera stations, their calibrations, the inspections they (or inspectors) record, and the photos
stations post that become inspections."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mes.core.transitions import TransitionTable


class Station(models.Model):
    """An automated camera station. It acts through its own user, which holds only the station role."""

    name = models.CharField(max_length=60, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="station")
    location = models.CharField(max_length=120, blank=True)
    # ChArUco board geometry (vision.pipeline.BoardConfig fields): station configuration, set by a person.
    board = models.JSONField(default=dict, blank=True)
    # Where finished inspections are pushed (POSTed as JSON); empty = the station polls.
    callback_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Calibration(models.Model):
    """One version of a station's camera calibration: intrinsics from several board views and the stage
    plane from one flat view. Never edited; a new calibration is a new version."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="calibrations")
    version = models.PositiveIntegerField()
    camera = models.JSONField(help_text="CameraCalibration.to_dict(): K, dist, rms_px, image_size, ...")
    plane = models.JSONField(help_text="StagePlane.to_dict(): R, t, rms_px")
    board = models.JSONField(help_text="the BoardConfig the views were taken with")
    rms_px = models.FloatField()
    plane_rms_px = models.FloatField()
    image_width = models.PositiveIntegerField()
    image_height = models.PositiveIntegerField()
    n_views = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["station", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["station", "version"], name="calibration_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.station} calibration v{self.version}"


class Verdict(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    UNABLE = "unable", "Unable to inspect: a person must look"


class Inspection(models.Model):
    """One inspection of one stock item: by a station's pipeline or by an inspector."""

    stock_item = models.ForeignKey(
        "inventory.StockItem", on_delete=models.PROTECT, related_name="inspections"
    )
    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.PROTECT, related_name="inspections"
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inspections"
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    measurements = models.JSONField(default=list, blank=True)
    defects = models.JSONField(default=list, blank=True)
    pipeline_version = models.CharField(max_length=40, blank=True)
    overrides = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="overridden_by"
    )
    # Station inspections: which calibration measured, the photo and its annotated picture, the
    # out-of-tolerance quantities and the seconds each pipeline stage took.
    calibration = models.ForeignKey(
        Calibration, null=True, blank=True, on_delete=models.PROTECT, related_name="inspections"
    )
    image = models.FileField(upload_to="inspections/%Y/%m/%d/", blank=True)
    annotated_image = models.FileField(upload_to="inspections/%Y/%m/%d/", blank=True)
    deviations = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Inspection {self.pk} of {self.stock_item}: {self.verdict}"


class RequestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    ERROR = "error", "Error"


REQUEST_TRANSITIONS: TransitionTable = {
    RequestStatus.QUEUED: frozenset({RequestStatus.RUNNING, RequestStatus.ERROR}),
    RequestStatus.RUNNING: frozenset({RequestStatus.DONE, RequestStatus.ERROR}),
    RequestStatus.DONE: frozenset(),
    RequestStatus.ERROR: frozenset(),
}


class InspectionRequest(models.Model):
    """A photo a station posted for a serial, inspected asynchronously on the ``vision`` queue.

    Kept apart from :class:`Inspection` because an inspection is a verdict (the part's latest one is what
    an inspector overrides); a request only becomes one when the pipeline has run. ``error`` says why a
    request ended without an inspection (the part then still awaits inspection by a person).
    """

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="requests")
    stock_item = models.ForeignKey(
        "inventory.StockItem", on_delete=models.PROTECT, related_name="inspection_requests"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    image = models.FileField(upload_to="inspections/%Y/%m/%d/")
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.QUEUED)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField(blank=True)
    inspection = models.OneToOneField(
        Inspection, null=True, blank=True, on_delete=models.PROTECT, related_name="request"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A done request has its inspection; nothing else does.
            models.CheckConstraint(
                condition=models.Q(status="done", inspection__isnull=False)
                | (~models.Q(status="done") & models.Q(inspection__isnull=True)),
                name="inspection_request_done_has_inspection",
            ),
        ]

    def __str__(self) -> str:
        return f"Inspection request {self.pk} ({self.station}, {self.stock_item}): {self.status}"
