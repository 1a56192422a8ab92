"""Reads of the control channel and telemetry."""

from machines.models import MachineCommand


def machine_commands_pending(machine_id: int, *, since) -> list[MachineCommand]:
    """Unhandled commands for a machine issued at or after ``since`` (older ones belong to past runs)."""
    return list(
        MachineCommand.objects.filter(machine_id=machine_id, handled_at__isnull=True, issued_at__gte=since)
    )


def commands_delivered(command_ids: list[int]) -> dict[int, object]:
    """``{command id: delivered_at}`` for those of ``command_ids`` a runner has written to the wire."""
    rows = MachineCommand.objects.filter(pk__in=command_ids, delivered_at__isnull=False)
    return dict(rows.values_list("pk", "delivered_at"))
