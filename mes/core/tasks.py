"""Housekeeping tasks on the ``default`` queue."""

from celery import shared_task

from mes.core import heartbeats


@shared_task(name="core.worker_heartbeat", ignore_result=True)
def worker_heartbeat(queue: str = "default") -> None:
    """Record that a worker consuming ``queue`` is alive (the worker's own hostname identifies it)."""
    heartbeats.worker_alive(worker_heartbeat.request.hostname or "unknown", queue)
