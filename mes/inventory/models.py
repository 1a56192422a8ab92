"""Inventory: serialised stock items with their genealogy, locations, and nonconformances."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mes.core.transitions import TransitionTable


class Location(models.Model):
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class StockStatus(models.TextChoices):
    AWAITING_INSPECTION = "awaiting_inspection", "Awaiting inspection"
    ACCEPTED = "accepted", "Accepted"
    RESERVED = "reserved", "Reserved"
    ISSUED = "issued", "Issued"
    REJECTED = "rejected", "Rejected"
    SCRAPPED = "scrapped", "Scrapped"


STOCK_TRANSITIONS: TransitionTable = {
    StockStatus.AWAITING_INSPECTION: frozenset({StockStatus.ACCEPTED, StockStatus.REJECTED}),
    StockStatus.ACCEPTED: frozenset({StockStatus.RESERVED, StockStatus.REJECTED}),
    StockStatus.RESERVED: frozenset({StockStatus.ISSUED, StockStatus.ACCEPTED}),
    StockStatus.ISSUED: frozenset(),
    # An inspector may overturn a rejection; rework sends the part back for inspection.
    StockStatus.REJECTED: frozenset(
        {StockStatus.ACCEPTED, StockStatus.SCRAPPED, StockStatus.AWAITING_INSPECTION}
    ),
    StockStatus.SCRAPPED: frozenset(),
}

HELD_FOR_REQUEST = (StockStatus.RESERVED, StockStatus.ISSUED)


class StockItem(models.Model):
    """One serialised part and where it came from.

    Genealogy fields are copied at creation (job, machine, program hash, feedstock lot, operator) so that a
    part stays traceable even if the job's program is later edited or the machine renamed.
    ``reserved_for`` is set exactly while the item is reserved or issued (database constraint), and one
    item has one such request, so a unit can never be reserved twice.
    """

    serial = models.CharField(max_length=40, unique=True)
    revision = models.ForeignKey("catalog.PartRevision", on_delete=models.PROTECT, related_name="stock_items")
    status = models.CharField(max_length=24, choices=StockStatus.choices, db_index=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    job = models.ForeignKey(
        "production.Job", null=True, blank=True, on_delete=models.PROTECT, related_name="outputs"
    )
    machine = models.ForeignKey(
        "production.Machine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    program_sha256 = models.CharField(max_length=64, blank=True)
    feedstock_lot = models.ForeignKey(
        "production.FeedstockLot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_items",
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reserved_for = models.ForeignKey(
        "repairs.PartRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_items",
    )
    issued_to = models.ForeignKey(
        "repairs.DamageTicket",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issued_items",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["serial"]
        indexes = [models.Index(fields=["revision", "status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=["reserved", "issued"], reserved_for__isnull=False)
                    | (~models.Q(status__in=["reserved", "issued"]) & models.Q(reserved_for__isnull=True))
                ),
                name="reserved_for_iff_reserved_or_issued",
            ),
            models.CheckConstraint(
                condition=models.Q(status="issued", issued_to__isnull=False)
                | (~models.Q(status="issued") & models.Q(issued_to__isnull=True)),
                name="issued_to_iff_issued",
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class NonconformanceDisposition(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    USE_AS_IS = "use_as_is", "Accepted on review"
    REWORK = "rework", "Rework and re-inspect"
    SCRAP = "scrap", "Scrap"


class Nonconformance(models.Model):
    """Why a part was rejected, and what an inspector decided to do with it."""

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="nonconformances")
    inspection = models.ForeignKey(
        "vision.Inspection",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="nonconformances",
    )
    reason = models.TextField()
    disposition = models.CharField(
        max_length=20,
        choices=NonconformanceDisposition.choices,
        default=NonconformanceDisposition.PENDING,
    )
    disposition_note = models.TextField(blank=True)
    raised_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"NCR-{self.pk:05d}" if self.pk else "New nonconformance"
