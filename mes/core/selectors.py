"""Reads about the running installation."""

from mes.core.models import WorkerHeartbeat


def workers_seen(limit: int = 20) -> list[dict]:
    """Workers that recorded a heartbeat, newest first."""
    return list(WorkerHeartbeat.objects.order_by("-seen_at").values("worker", "queue", "seen_at")[:limit])
