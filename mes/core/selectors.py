"""Reads about the running installation."""

from datetime import timedelta

from django.utils import timezone

from mes.core.models import WorkerHeartbeat


def workers_seen(limit: int = 20, *, alive_s: float | None = None) -> list[dict]:
    """Workers that recorded a heartbeat, newest first; with ``alive_s``, each says whether it beat within
    that many seconds (``alive``) and how long it has been silent (``silent_s``)."""
    rows = list(WorkerHeartbeat.objects.order_by("-seen_at").values("worker", "queue", "seen_at")[:limit])
    if alive_s is not None:
        now = timezone.now()
        for row in rows:
            row["silent_s"] = max((now - row["seen_at"]).total_seconds(), 0.0)
            row["alive"] = row["silent_s"] <= alive_s
    return rows


def live_queues(*, alive_s: float) -> set[str]:
    """Queues consumed by a worker that beat within the last ``alive_s`` seconds."""
    cutoff = timezone.now() - timedelta(seconds=alive_s)
    queues = WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("queue", flat=True)
    return {name for joined in queues for name in joined.split(",") if name}
