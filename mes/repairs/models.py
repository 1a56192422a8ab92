"""Repairs: damage tickets filed by engineers and the part requests that feed production."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mes.core.transitions import TransitionTable


class Severity(models.TextChoices):
    LIFE_SAFETY = "life_safety", "Life-safety"
    CRITICAL = "critical", "Critical"
    ROUTINE = "routine", "Routine"


# Lower rank = more urgent; stored on requests and jobs so queues order in the database.
SEVERITY_RANK = {Severity.LIFE_SAFETY: 0, Severity.CRITICAL: 1, Severity.ROUTINE: 2}


class Sector(models.Model):
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Module(models.Model):
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="modules")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["sector__name", "name"]
        constraints = [models.UniqueConstraint(fields=["sector", "name"], name="unique_module_in_sector")]

    def __str__(self) -> str:
        return f"{self.sector.name}/{self.name}"


class TicketStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


TICKET_TRANSITIONS: TransitionTable = {
    TicketStatus.OPEN: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.IN_PROGRESS}),
    TicketStatus.CLOSED: frozenset(),
}


class DamageTicket(models.Model):
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="tickets")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="tickets")
    description = models.TextField()
    severity = models.CharField(max_length=20, choices=Severity.choices)
    status = models.CharField(
        max_length=20, choices=TicketStatus.choices, default=TicketStatus.OPEN, db_index=True
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets_reported"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets_assigned",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Ticket DT-{self.pk:05d}" if self.pk else "New ticket"

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]


class RequestStatus(models.TextChoices):
    OPEN = "open", "Waiting for parts"
    READY = "ready", "All parts reserved"
    ISSUED = "issued", "Issued to the ticket"
    CANCELLED = "cancelled", "Cancelled"


REQUEST_TRANSITIONS: TransitionTable = {
    RequestStatus.OPEN: frozenset({RequestStatus.READY, RequestStatus.CANCELLED}),
    RequestStatus.READY: frozenset({RequestStatus.ISSUED, RequestStatus.OPEN, RequestStatus.CANCELLED}),
    RequestStatus.ISSUED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}


class PartRequest(models.Model):
    """Parts a ticket needs. Units are counted by the stock items reserved or issued for it."""

    ticket = models.ForeignKey(DamageTicket, on_delete=models.PROTECT, related_name="requests")
    revision = models.ForeignKey("catalog.PartRevision", on_delete=models.PROTECT, related_name="requests")
    quantity = models.PositiveIntegerField()
    needed_by = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN, db_index=True
    )
    # Denormalised from the ticket so that "most urgent first" is one indexed ORDER BY.
    severity_rank = models.PositiveSmallIntegerField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["severity_rank", models.F("needed_by").asc(nulls_last=True), "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="part_request_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["revision", "status", "severity_rank"])]

    def __str__(self) -> str:
        return f"Request PR-{self.pk:05d}" if self.pk else "New request"
