"""Reads about the running installation."""

from datetime import timedelta

from django.utils import timezone

from mes.core.models import WorkerHeartbeat


def workers_seen(limit: int = 20) -> list[dict]:
    """Workers that recorded a heartbeat, newest first."""
    return list(WorkerHeartbeat.objects.order_by("-seen_at").values("worker", "queue", "seen_at")[:limit])


def live_queues(*, alive_s: float) -> set[str]:
    """Queues consumed by a worker that beat within the last ``alive_s`` seconds."""
    cutoff = timezone.now() - timedelta(seconds=alive_s)
    queues = WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("queue", flat=True)
    return {name for joined in queues for name in joined.split(",") if name}
