"""Names of the Celery queues, shared by the models (a machine's queue), the runner and the worker set-up.

Queues: ``default`` for housekeeping, ``vision`` for inspections, and one ``machine.<id>`` queue per machine,
consumed only by the worker on the host that owns that machine's serial cable. Tasks are sent by name
(:data:`RUN_JOB_TASK`, :data:`MAINTENANCE_TASK`, :data:`RUN_INSPECTION_TASK`), so nothing below the task
modules imports them.
"""

from django.conf import settings

RUN_JOB_TASK = "machines.run_job"
MAINTENANCE_TASK = "machines.run_maintenance"
RUN_INSPECTION_TASK = "vision.run_inspection"


def machine_queue(machine_id: int) -> str:
    """Name of the queue whose worker owns the serial cable of machine ``machine_id``."""
    return f"{settings.MES_QUEUE_PREFIX}machine.{machine_id}"


def machine_id_of_queue(queue: str) -> int | None:
    """The machine id of a ``machine.<id>`` queue name (with this installation's prefix), else None."""
    prefix = f"{settings.MES_QUEUE_PREFIX}machine."
    number = queue[len(prefix) :] if queue.startswith(prefix) else ""
    return int(number) if number.isdigit() else None
