"""The catalogue: parts, their drawn revisions (the inspection spec) and the programs that make them."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from machines.protocol.registry import firmware_choices


class PartKind(models.TextChoices):
    BRACKET = "bracket", "Bracket"
    STRIP = "strip", "Reinforcement strip"
    OTHER = "other", "Other"


class MachineType(models.TextChoices):
    CNC_MILL = "cnc_mill", "CNC mill"
    FDM_PRINTER = "fdm_printer", "FDM printer"
    OTHER = "other", "Other"


class Part(models.Model):
    number = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=PartKind.choices)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class PartRevision(models.Model):
    """One drawn revision of a part.

    ``spec`` is the drawing as data, and the inspection spec: ``{"outline": {"length", "width",
    "corner_radius"}, "thickness", "holes": [{"id", "x", "y", "diameter"}], "tolerances": {"outline",
    "corner_radius", "hole_diameter", "hole_position"}}``, all in millimetres, hole centres from the part's
    lower-left corner (validated by :func:`mes.catalog.specs.validate_spec`).
    """

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="revisions")
    revision = models.CharField(max_length=10)
    spec = models.JSONField()
    material = models.CharField(max_length=60, help_text="Material called for by the drawing")
    released = models.BooleanField(default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["part__number", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["part", "revision"], name="unique_part_revision"),
        ]

    def __str__(self) -> str:
        return f"{self.part.number}@{self.revision}"


class Program(models.Model):
    """A G-code program that makes a revision on one type of machine.

    ``sha256`` identifies the exact text that ran (it is copied into every part's genealogy);
    ``material_use`` is per run, in the unit of the feedstock it consumes (grams of filament for a printer,
    blanks for a mill).
    """

    revision = models.ForeignKey(PartRevision, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=120)
    machine_type = models.CharField(max_length=20, choices=MachineType.choices)
    # A callable, so a new firmware package needs no migration (the registry finds it).
    firmware = models.CharField(max_length=10, choices=firmware_choices)
    material = models.CharField(max_length=60, help_text="Feedstock material the program consumes")
    gcode = models.TextField()
    sha256 = models.CharField(max_length=64, db_index=True)
    line_count = models.PositiveIntegerField(default=0)
    estimated_seconds = models.FloatField(default=0)
    material_use = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    material_unit = models.CharField(max_length=10, default="g")
    parts_per_run = models.PositiveSmallIntegerField(default=1)
    bounds = models.JSONField(null=True, blank=True, help_text="Extent of all moves, mm")
    released = models.BooleanField(default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["gcode"])

    class Meta:
        ordering = ["revision__part__number", "machine_type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "sha256"], name="unique_program_text"),
            models.CheckConstraint(
                condition=models.Q(parts_per_run__gte=1), name="program_parts_per_run_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:10]})"
