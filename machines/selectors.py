"""Reads of the control channel and telemetry."""

from datetime import timedelta

from django.utils import timezone

from machines.models import MAINTENANCE_COMMANDS, MachineCommand, MachineTelemetry


def machine_commands_pending(machine_id: int, *, since) -> list[MachineCommand]:
    """Unhandled commands for a machine issued at or after ``since`` (older ones belong to past runs)."""
    return list(
        MachineCommand.objects.filter(machine_id=machine_id, handled_at__isnull=True, issued_at__gte=since)
    )


def commands_delivered(command_ids: list[int]) -> dict[int, object]:
    """``{command id: delivered_at}`` for those of ``command_ids`` a runner has written to the wire."""
    rows = MachineCommand.objects.filter(pk__in=command_ids, delivered_at__isnull=False)
    return dict(rows.values_list("pk", "delivered_at"))


def machine_maintenance_unfinished(machine_id: int, *, within_s: float) -> MachineCommand | None:
    """The machine's maintenance command (unlock, home) issued in the last ``within_s`` seconds that has no
    outcome yet, if any: the controller may be homing. Older ones are abandoned (their worker died)."""
    cutoff = timezone.now() - timedelta(seconds=within_s)
    pending = MachineCommand.objects.filter(
        machine_id=machine_id,
        command__in=MAINTENANCE_COMMANDS,
        finished_at__isnull=True,
        issued_at__gte=cutoff,
    )
    return pending.order_by("-issued_at", "-pk").first()


def machine_maintenance_latest(machine_id: int) -> MachineCommand | None:
    """The machine's most recent maintenance command (unlock, home), finished or not."""
    latest = MachineCommand.objects.filter(machine_id=machine_id, command__in=MAINTENANCE_COMMANDS)
    return latest.select_related("issued_by").order_by("-issued_at", "-pk").first()


def machines_in_maintenance_session(machine_ids: list[int], *, within_s: float) -> set[int]:
    """Those of ``machine_ids`` whose worker holds the port for a maintenance command right now (taken,
    not finished, taken within ``within_s`` seconds): a software E-STOP reaches them too."""
    cutoff = timezone.now() - timedelta(seconds=within_s)
    taken = MachineCommand.objects.filter(
        machine_id__in=machine_ids,
        command__in=MAINTENANCE_COMMANDS,
        handled_at__gte=cutoff,
        finished_at__isnull=True,
    )
    return set(taken.values_list("machine_id", flat=True))


def machine_commands_latest(machine_id: int, *, limit: int) -> list[MachineCommand]:
    """The machine's ``limit`` most recent control commands, newest first."""
    return list(MachineCommand.objects.filter(machine_id=machine_id).order_by("-issued_at", "-pk")[:limit])


def machine_telemetry(machine_id: int) -> MachineTelemetry | None:
    """The machine's latest telemetry row, if a runner ever reported."""
    return MachineTelemetry.objects.filter(machine_id=machine_id).first()
