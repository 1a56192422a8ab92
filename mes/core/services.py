"""Services about the installation itself."""

from django.utils import timezone

from mes.core.models import WorkerHeartbeat


def worker_heartbeat_record(*, worker: str, queue: str) -> WorkerHeartbeat:
    """Upsert the worker's heartbeat with the current time."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"queue": queue, "seen_at": timezone.now()}
    )
    return beat
