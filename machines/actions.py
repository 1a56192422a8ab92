"""Unguarded steps of the hardware side: the control channel, telemetry and handing runs to machine workers.

``do_*`` functions check no permissions: the production services that call them have authorized the
person, and the runner acts on the machine's word.
"""

from celery import current_app
from django.db import transaction
from django.utils import timezone

from machines.models import MAINTENANCE_COMMANDS, MachineCommand, MachineTelemetry
from machines.selectors import machine_commands_pending
from mes.core.queues import MAINTENANCE_TASK, RUN_JOB_TASK


def do_machine_command_send(machine, command: str, *, actor=None, job=None) -> MachineCommand:
    """Put a control command on the machine's channel for its runner (visible once committed)."""
    return MachineCommand.objects.create(
        machine=machine, job=job, command=command, issued_by=actor if getattr(actor, "pk", None) else None
    )


def do_machine_command_link_job(command: MachineCommand, job) -> None:
    """Record on a command already sent the job its machine was running (for the audit trail)."""
    MachineCommand.objects.filter(pk=command.pk).update(job=job)
    command.job = job


class CommandPoller:
    """The runner's view of a machine's control channel.

    ``poll()`` only reads (the E-STOP path must never wait behind another transaction's write lock) and
    returns each command once; ``mark_handled()``, called from the streaming loop after it acted on them,
    records that in the database.
    """

    def __init__(self, machine_id: int, *, since):
        self.machine_id = machine_id
        self.since = since
        self._seen: set[int] = set()
        self._to_mark: list[int] = []
        self._estops: list[int] = []

    def poll(self) -> list[str]:
        pending = machine_commands_pending(self.machine_id, since=self.since)
        fresh = [c for c in pending if c.pk not in self._seen]
        self._seen.update(c.pk for c in fresh)
        self._to_mark.extend(c.pk for c in fresh)
        self._estops.extend(c.pk for c in fresh if c.command == "estop")
        return [c.command for c in fresh]

    def mark_estop_delivered(self, _sent_at: float | None = None) -> None:
        """Record that the E-STOP commands polled so far are on the wire (called right after the write,
        so the person who pressed the button hears it reached the machine)."""
        ids, self._estops = self._estops, []
        if ids:
            MachineCommand.objects.filter(pk__in=ids).update(delivered_at=timezone.now())

    def mark_handled(self) -> None:
        ids, self._to_mark = self._to_mark, []
        if ids:
            MachineCommand.objects.filter(pk__in=ids).update(handled_at=timezone.now())


def do_machine_telemetry_record(machine_id: int, *, job_id: int | None, snapshot: dict) -> None:
    """Store the latest telemetry snapshot of a machine (state, position, temperatures, message)."""
    MachineTelemetry.objects.update_or_create(
        machine_id=machine_id,
        defaults={
            "job_id": job_id,
            "firmware_state": snapshot.get("state") or "",
            "position": snapshot.get("position"),
            "temperatures": snapshot.get("temperatures"),
            "message": snapshot.get("message") or "",
            **_override_fields(snapshot.get("overrides")),
            "updated_at": timezone.now(),
        },
    )


def _override_fields(overrides: dict | None) -> dict:
    """The telemetry row's override columns from a snapshot's ``overrides``; none if the controller has not
    reported them yet in this run (the last reported values stay)."""
    if not overrides:
        return {}
    return {f"{kind}_override": overrides.get(kind) for kind in ("feed", "rapid", "spindle")}


def do_machine_maintenance_enqueue(command: MachineCommand) -> None:
    """Hand a maintenance command (unlock, home) to the worker that owns its machine's cable, once the
    request is committed; sent by name (:data:`~mes.core.queues.MAINTENANCE_TASK`) like a run."""
    queue = command.machine.queue_name
    transaction.on_commit(lambda: current_app.send_task(MAINTENANCE_TASK, args=[command.pk], queue=queue))


def do_machine_maintenance_claim(command_id: int) -> MachineCommand | None:
    """Take a maintenance command for the worker about to send it; None if another delivery already took
    it (so a redelivered task does nothing)."""
    claimed = MachineCommand.objects.filter(
        pk=command_id, command__in=MAINTENANCE_COMMANDS, handled_at__isnull=True
    ).update(handled_at=timezone.now())
    if not claimed:
        return None
    return MachineCommand.objects.select_related("machine", "issued_by").get(pk=command_id)


def do_machine_maintenance_finish(command: MachineCommand, *, succeeded: bool, outcome: str) -> None:
    """Record how a maintenance command ended, in words for the terminal."""
    command.succeeded, command.outcome, command.finished_at = succeeded, outcome, timezone.now()
    command.save(update_fields=["succeeded", "outcome", "finished_at"])


def do_machine_run_enqueue(job) -> None:
    """Hand a started job to the worker that owns its machine's cable, once the start is committed.

    The task is sent by name (:data:`~mes.core.queues.RUN_JOB_TASK`), so this layer never imports the task
    module above it."""
    queue = job.machine.queue_name
    transaction.on_commit(lambda: current_app.send_task(RUN_JOB_TASK, args=[job.pk], queue=queue))
