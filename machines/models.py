"""The hardware side of machines: the control channel to a running job, and live telemetry."""

from django.conf import settings
from django.db import models

#: The override buttons of the terminal: kind -> the changes it offers (a step in percent or "reset"; rapid
#: takes a target percent). A press is the command ``"<kind>:<change>"``, e.g. "feed:+10", "rapid:50".
OVERRIDE_CHANGES: dict[str, tuple[str, ...]] = {
    "feed": ("-10", "+10", "reset"),
    "spindle": ("-10", "+10", "reset"),
    "rapid": ("100", "50", "25"),
}
#: Controller commands sent while no job runs, by a task on the machine's queue (machines.maintenance).
MAINTENANCE_COMMANDS = ("unlock", "home")


def override_command(kind: str, change: str) -> str:
    return f"{kind}:{change}"


class Command(models.TextChoices):
    PAUSE = "pause", "Pause"
    RESUME = "resume", "Resume"
    CANCEL = "cancel", "Cancel"
    ESTOP = "estop", "Emergency stop"
    UNLOCK = "unlock", "Unlock the controller"
    HOME = "home", "Home the controller"


COMMAND_CHOICES = [
    *Command.choices,
    *(
        (override_command(kind, change), f"{kind.capitalize()} override {change}")
        for kind, changes in OVERRIDE_CHANGES.items()
        for change in changes
    ),
]


class MachineCommand(models.Model):
    """A control request from the web to the runner that drives the machine.

    The runner polls unhandled commands for its machine between lines (and a control thread polls them
    every few milliseconds), so an E-STOP reaches the wire within tens of milliseconds whatever the
    streaming loop is doing. Celery's revoke is not used: it cannot interrupt a running task safely.
    """

    machine = models.ForeignKey("production.Machine", on_delete=models.CASCADE, related_name="commands")
    job = models.ForeignKey(
        "production.Job", null=True, blank=True, on_delete=models.CASCADE, related_name="commands"
    )
    command = models.CharField(max_length=20, choices=COMMAND_CHOICES)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    # When the runner wrote an E-STOP's bytes to the machine's wire: the only proof a stop was delivered.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Maintenance commands (unlock, home) only: handled_at is when the machine's worker took the command,
    # finished_at when the controller's answer (or the reason there was none) was recorded in ``outcome``.
    succeeded = models.BooleanField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["issued_at", "pk"]
        indexes = [models.Index(fields=["machine", "handled_at"])]

    def __str__(self) -> str:
        return f"{self.command} for {self.machine_id} at {self.issued_at:%H:%M:%S}"


class MachineTelemetry(models.Model):
    """The latest state a runner read from a machine (one row per machine, updated about twice a second)."""

    machine = models.OneToOneField("production.Machine", on_delete=models.CASCADE, related_name="telemetry")
    job = models.ForeignKey(
        "production.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    firmware_state = models.CharField(max_length=40, blank=True)
    position = models.JSONField(null=True, blank=True)
    temperatures = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    # Override percentages the controller last reported (GRBL's Ov: field); null when never reported.
    feed_override = models.PositiveSmallIntegerField(null=True, blank=True)
    rapid_override = models.PositiveSmallIntegerField(null=True, blank=True)
    spindle_override = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"telemetry of machine {self.machine_id}"
