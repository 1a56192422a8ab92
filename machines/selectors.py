"""Reads of the control channel and telemetry."""

from machines.models import MachineCommand


def machine_commands_pending(machine_id: int, *, since) -> list[MachineCommand]:
    """Unhandled commands for a machine issued at or after ``since`` (older ones belong to past runs)."""
    return list(
        MachineCommand.objects.filter(machine_id=machine_id, handled_at__isnull=True, issued_at__gte=since)
    )
