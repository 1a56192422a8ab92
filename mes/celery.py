"""The Celery application: configuration from Django settings, task routes by queue.

Queues: ``default`` for housekeeping, ``vision`` for inspections, and one ``machine.<id>`` queue per machine,
consumed only by the worker on the host that owns that machine's serial cable.
"""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")

app = Celery("mes")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _record_worker_start(sender=None, **kwargs) -> None:
    """Tell the health page which worker came up on which queues."""
    from mes.core.services import worker_heartbeat_record

    queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values()))
    worker_heartbeat_record(worker=sender.hostname, queue=queues)


def machine_queue(machine_id: int) -> str:
    """Name of the queue whose worker owns the serial cable of machine ``machine_id``."""
    from django.conf import settings

    return f"{settings.MES_QUEUE_PREFIX}machine.{machine_id}"


def machine_id_of_queue(queue: str) -> int | None:
    """The machine id of a ``machine.<id>`` queue name (with this installation's prefix), else None."""
    from django.conf import settings

    prefix = f"{settings.MES_QUEUE_PREFIX}machine."
    number = queue[len(prefix) :] if queue.startswith(prefix) else ""
    return int(number) if number.isdigit() else None
