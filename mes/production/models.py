"""Production: machines, feedstock lots, work orders and the jobs that run on machines."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from machines.protocol.registry import firmware_choices
from mes.catalog.models import MachineType
from mes.core.queues import machine_queue
from mes.core.transitions import Action, ActionTable, TransitionTable


class MachineState(models.TextChoices):
    OFFLINE = "offline", "Offline"
    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error: needs a machinist"
    MAINTENANCE = "maintenance", "Maintenance"


MACHINE_TRANSITIONS: TransitionTable = {
    MachineState.OFFLINE: frozenset({MachineState.IDLE, MachineState.MAINTENANCE}),
    MachineState.IDLE: frozenset(
        {MachineState.RUNNING, MachineState.OFFLINE, MachineState.MAINTENANCE, MachineState.ERROR}
    ),
    MachineState.RUNNING: frozenset({MachineState.IDLE, MachineState.PAUSED, MachineState.ERROR}),
    MachineState.PAUSED: frozenset({MachineState.RUNNING, MachineState.IDLE, MachineState.ERROR}),
    MachineState.ERROR: frozenset({MachineState.IDLE, MachineState.MAINTENANCE}),
    MachineState.MAINTENANCE: frozenset({MachineState.IDLE, MachineState.OFFLINE}),
}


# What people may do to a machine, from which states (the E-STOP is not here: it is always allowed).
MACHINE_ACTIONS: ActionTable = {
    "start_job_on": Action("given a job", frozenset({MachineState.IDLE})),
    "pause_job_on": Action("paused", frozenset({MachineState.RUNNING})),
    "resume_job_on": Action("resumed", frozenset({MachineState.PAUSED})),
    "clear_error": Action("cleared", frozenset({MachineState.ERROR})),
    # Controller commands with no job running (after an alarm, or to re-home an idle machine).
    "unlock": Action("unlocked", frozenset({MachineState.IDLE, MachineState.ERROR})),
    "home": Action("homed", frozenset({MachineState.IDLE, MachineState.ERROR})),
    # Feed, spindle and rapid overrides act on the job the machine is running (or holding).
    "override_on": Action("overridden", frozenset({MachineState.RUNNING, MachineState.PAUSED})),
    "load_lot": Action(
        "loaded",
        frozenset({MachineState.IDLE, MachineState.OFFLINE, MachineState.ERROR, MachineState.MAINTENANCE}),
    ),
}


class Machine(models.Model):
    """A machine on a serial cable. ``port_url`` is anything pyserial's ``serial_for_url`` opens."""

    name = models.CharField(max_length=60, unique=True)
    machine_type = models.CharField(max_length=20, choices=MachineType.choices)
    firmware = models.CharField(max_length=10, choices=firmware_choices)  # callable: see catalog.Program
    port_url = models.CharField(max_length=200, blank=True)
    baud = models.PositiveIntegerField(default=115200)
    # Work envelope in machine coordinates, millimetres.
    x_min = models.FloatField(default=0)
    x_max = models.FloatField()
    y_min = models.FloatField(default=0)
    y_max = models.FloatField()
    z_min = models.FloatField(default=0)
    z_max = models.FloatField()
    requires_homing = models.BooleanField(default=True)
    # Limits programs are checked against; empty: the firmware's default profile (see machines.protocol).
    max_feed_mm_min = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(1.0)], help_text="Fastest feed, mm/min"
    )
    max_spindle_rpm = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(1.0)], help_text="Fastest spindle, rpm"
    )
    # G54..G59 offsets as the machinist set them when zeroing stock: {"G54": [x, y, z], ...}
    work_offsets = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=20, choices=MachineState.choices, default=MachineState.IDLE, db_index=True
    )
    state_reason = models.TextField(blank=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    loaded_lot = models.ForeignKey(
        "production.FeedstockLot",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="loaded_on",
    )
    # What the controller said about itself the last time a runner connected (firmware, capabilities,
    # settings, buffers, and warnings in words): see ProtocolEngine.controller_report.
    controller_report = models.JSONField(default=dict, blank=True)
    controller_report_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(x_max__gt=models.F("x_min"))
                & models.Q(y_max__gt=models.F("y_min"))
                & models.Q(z_max__gt=models.F("z_min")),
                name="machine_envelope_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def queue_name(self) -> str:
        return machine_queue(self.pk)


class FeedstockLot(models.Model):
    """A traceable lot of raw material: a filament spool batch or a batch of plate blanks."""

    code = models.CharField(max_length=40, unique=True)
    material = models.CharField(max_length=60)
    unit = models.CharField(max_length=10, default="g")
    quantity_received = models.DecimalField(max_digits=12, decimal_places=3)
    quantity_on_hand = models.DecimalField(max_digits=12, decimal_places=3)
    supplier = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["material", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_on_hand__gte=0), name="feedstock_never_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Lot {self.code} ({self.material})"


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In production"
    COMPLETE = "complete", "Complete"
    CANCELLED = "cancelled", "Cancelled"


WORK_ORDER_TRANSITIONS: TransitionTable = {
    WorkOrderStatus.OPEN: frozenset({WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.CANCELLED}),
    WorkOrderStatus.IN_PROGRESS: frozenset(
        {WorkOrderStatus.COMPLETE, WorkOrderStatus.OPEN, WorkOrderStatus.CANCELLED}
    ),
    WorkOrderStatus.COMPLETE: frozenset({WorkOrderStatus.IN_PROGRESS}),
    WorkOrderStatus.CANCELLED: frozenset(),
}


class WorkOrder(models.Model):
    """Parts to make for a request: the shortfall stock could not cover."""

    part_request = models.ForeignKey(
        "repairs.PartRequest", on_delete=models.PROTECT, related_name="work_orders"
    )
    revision = models.ForeignKey("catalog.PartRevision", on_delete=models.PROTECT, related_name="work_orders")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN, db_index=True
    )
    severity_rank = models.PositiveSmallIntegerField()
    needed_by = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["severity_rank", models.F("needed_by").asc(nulls_last=True), "created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="work_order_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"Work order WO-{self.pk:05d}" if self.pk else "New work order"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Run complete: remove the part"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted: needs a machinist"


JOB_TRANSITIONS: TransitionTable = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {
            JobState.PAUSED,
            JobState.COMPLETED,
            JobState.FINISHED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.INTERRUPTED,
        }
    ),
    JobState.PAUSED: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED}),
    JobState.INTERRUPTED: frozenset({JobState.FAILED, JobState.CANCELLED}),
    # The machine ran every line; the part is still on the bed until a machinist confirms its removal.
    JobState.COMPLETED: frozenset({JobState.FINISHED}),
    JobState.FINISHED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}

# What people may do to a job, from which states; each service checks its action under the job's row lock.
JOB_ACTIONS: ActionTable = {
    "start": Action("started", frozenset({JobState.QUEUED})),
    "pause": Action("paused", frozenset({JobState.RUNNING})),
    "resume": Action("resumed", frozenset({JobState.PAUSED})),
    "cancel": Action(
        "cancelled", frozenset({JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.INTERRUPTED})
    ),
    # From RUNNING only on a machine without a port (run by hand): a runner reports the end of its run.
    "finish": Action("finished", frozenset({JobState.COMPLETED, JobState.RUNNING})),
    "fail": Action("failed", frozenset({JobState.RUNNING, JobState.PAUSED})),
}

ACTIVE_JOB_STATES = (JobState.RUNNING, JobState.PAUSED)
# States that occupy a machine: nothing else may start there (a completed job's part is still on the bed).
MACHINE_OCCUPYING_JOB_STATES = (*ACTIVE_JOB_STATES, JobState.COMPLETED)


class Job(models.Model):
    """One run of a program on a machine, producing ``quantity`` parts."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="jobs")
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="jobs")
    program = models.ForeignKey("catalog.Program", on_delete=models.PROTECT, related_name="jobs")
    quantity = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    # Priority, copied from the work order at dispatch: severity first, then needed-by, then age.
    severity_rank = models.PositiveSmallIntegerField()
    needed_by = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    feedstock_lot = models.ForeignKey(
        FeedstockLot, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    progress = models.FloatField(default=0, help_text="Fraction of program lines acknowledged")
    lines_total = models.PositiveIntegerField(default=0)
    lines_acknowledged = models.PositiveIntegerField(default=0)
    # Set by the runner that claimed the run; a claimed run whose heartbeat stops was interrupted.
    runner = models.CharField(max_length=200, blank=True)
    runner_heartbeat_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="Why the job ended the way it did")
    # How the run went on the wire: lines sent/acknowledged, resends, errors, bytes, and which lines the
    # host added to the program's (handshake, housekeeping, settle command) with their counts.
    run_record = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(excluded_fields=["progress", "lines_acknowledged", "runner_heartbeat_at"])

    class Meta:
        ordering = [
            "severity_rank",
            models.F("needed_by").asc(nulls_last=True),
            "queued_at",
            "pk",
        ]
        indexes = [models.Index(fields=["machine", "state", "severity_rank", "queued_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="job_quantity_positive"),
            # One machine holds one job at a time (running, paused, or done with its part still on the
            # bed), whatever races the web and the workers get into.
            models.UniqueConstraint(
                fields=["machine"],
                condition=models.Q(state__in=["running", "paused", "completed"]),
                name="one_active_job_per_machine",
            ),
        ]

    def __str__(self) -> str:
        return f"Job J-{self.pk:05d}" if self.pk else "New job"
